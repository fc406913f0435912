-- One pgbench transaction = one call-control pair: authorize a new dial-out, then end it after
-- 42 seconds. The two statements run in autocommit, so each is its own durable transaction, as
-- Minutely commits each command before answering.
--
-- Variables given with -D: `tenants` (the tenant is drawn uniformly from 1..tenants; 1 is one
-- hot tenant) and `seq` (0; pgbench keeps a client's variables from one transaction to the
-- next, so it counts the client's pairs). The call id is unique per client and pair.
\set tenant random(1, :tenants)
\set seq :seq + 1
\set call_id :client_id * 10000000000 + :seq
SELECT decision FROM authorize(:tenant, :call_id, 'organizer@tenant.example', '+33144556677');
SELECT outcome FROM end_call(:tenant, :call_id, 42);
