-- Reference implementation of Minutely's real-time call control (charging.md C25 to C27) written
-- directly against PostgreSQL, for the call-control benchmark (bench/postgres.py).
--
-- It keeps the reserve/commit semantics of crates/core/src/control.rs with row locks: every
-- command first locks the tenant's wallet row (SELECT ... FOR UPDATE), so the commands of one
-- tenant are serialized exactly as Minutely's single writer serializes them, while different
-- tenants proceed in parallel. Each of `authorize` and `end_call` is meant to run as its own
-- transaction, committed durably before the answer is used.
--
-- Deliberately left out, because the benchmark's calls never reach them: wallet lots and their
-- expiry (one balance stands for the lots), the pool, the add-on, organizer, licence and
-- dial-out policy checks, number validation, extensions (C26), auto-recharge and notifications.
-- Money is `numeric` throughout: no binary floating point.

CREATE TABLE rates (
    prefix text NOT NULL,
    effective_from timestamptz NOT NULL,
    name text NOT NULL,
    rate_per_minute numeric NOT NULL CHECK (rate_per_minute >= 0),
    connection_fee numeric NOT NULL CHECK (connection_fee >= 0),
    first_block_s integer NOT NULL CHECK (first_block_s >= 0),
    increment_s integer NOT NULL CHECK (increment_s >= 1),
    PRIMARY KEY (prefix, effective_from)
);

-- One row per tenant: the balance (C10 to C13, lots folded into one amount), what live
-- reservations hold (C14, C25) and the next sequence number of its calls and journal entries.
CREATE TABLE wallets (
    tenant text PRIMARY KEY,
    minor_units smallint NOT NULL CHECK (minor_units BETWEEN 0 AND 3),
    balance numeric NOT NULL,
    reserved numeric NOT NULL CHECK (reserved >= 0),
    funded numeric NOT NULL,
    next_seq bigint NOT NULL
);

-- Calls authorized and not yet ended (C25 to C27). A lapsed reservation (`live` false) holds
-- nothing but is kept so that a late end report is still rated and debited (C27, C13).
CREATE TABLE reservations (
    tenant text NOT NULL,
    call_id text NOT NULL,
    organizer text NOT NULL,
    destination text NOT NULL,
    start_at timestamptz NOT NULL,
    granted_s integer NOT NULL CHECK (granted_s >= 0),
    credit numeric NOT NULL CHECK (credit >= 0),
    expires_at timestamptz NOT NULL,
    live boolean NOT NULL,
    PRIMARY KEY (tenant, call_id)
);

-- Every command first lapses the tenant's live reservations that are due and forgets its lapsed
-- ones past retention, as Minutely does; one index for each, so that neither walks the other.
CREATE INDEX reservations_live_due ON reservations (tenant, expires_at) WHERE live;
CREATE INDEX reservations_lapsed_due ON reservations (tenant, expires_at) WHERE NOT live;

-- One row per call id (C23): the first outcome. A refused call has its reason and no charge.
CREATE TABLE calls (
    tenant text NOT NULL,
    seq bigint NOT NULL,
    call_id text NOT NULL,
    organizer text NOT NULL,
    destination text NOT NULL,
    start_at timestamptz NOT NULL,
    end_at timestamptz NOT NULL,
    reason text,
    duration_s bigint,
    billable_s bigint,
    rate_prefix text,
    rate_per_minute numeric,
    connection_fee numeric,
    amount numeric,
    balance_after numeric,
    PRIMARY KEY (tenant, seq),
    UNIQUE (tenant, call_id),
    CHECK ((reason IS NULL) = (amount IS NOT NULL))
);

-- The wallet's journal: fundings (positive) and call debits (negative), each with the balance
-- it left.
CREATE TABLE journal_entries (
    tenant text NOT NULL,
    seq bigint NOT NULL,
    at timestamptz NOT NULL,
    kind text NOT NULL CHECK (kind IN ('funding', 'call')),
    amount numeric NOT NULL,
    call_id text,
    balance_after numeric NOT NULL,
    PRIMARY KEY (tenant, seq)
);

-- ControlPolicy::default() in crates/core/src/control.rs: the seconds granted per authorization
-- and the grace after a grant before an unended reservation lapses.
CREATE FUNCTION control_window_s() RETURNS integer IMMUTABLE LANGUAGE sql AS 'SELECT 300';
CREATE FUNCTION control_grace_s() RETURNS integer IMMUTABLE LANGUAGE sql AS 'SELECT 60';
-- LAPSED_RETENTION_DAYS: how long a lapsed reservation is remembered.
CREATE FUNCTION lapsed_retention() RETURNS interval IMMUTABLE LANGUAGE sql AS $$SELECT interval '7 days'$$;

-- C6: billable seconds for a duration under a first block and an increment.
CREATE FUNCTION billable_seconds(d bigint, first_s integer, step_s integer)
RETURNS bigint IMMUTABLE LANGUAGE sql AS $$
    SELECT CASE
        WHEN d = 0 THEN 0
        WHEN d <= first_s THEN first_s
        ELSE first_s + ((d - first_s + step_s - 1) / step_s) * step_s
    END
$$;

-- C7: connection fee plus the per-minute rate for the billable seconds, exact, rounded once to
-- the currency's minor unit. round(numeric, n) rounds half away from zero; the division keeps
-- at least 16 significant digits, far more than a rate card's prices need to round right.
CREATE FUNCTION call_cost(d bigint, r rates, minor_units integer)
RETURNS numeric IMMUTABLE LANGUAGE sql AS $$
    SELECT CASE
        WHEN d = 0 THEN 0::numeric
        ELSE round(r.connection_fee
                   + r.rate_per_minute * billable_seconds(d, r.first_block_s, r.increment_s) / 60,
                   minor_units)
    END
$$;

-- The rate of a number at an instant: the longest prefix effective then, the latest version of
-- it. Every prefix of the number is probed through the primary key, so the cost does not grow
-- with the size of the card.
CREATE FUNCTION rate_for(p_number text, p_at timestamptz)
RETURNS SETOF rates STABLE LANGUAGE sql AS $$
    SELECT *
    FROM rates
    WHERE prefix = ANY (ARRAY(SELECT left(p_number, n) FROM generate_series(2, length(p_number)) AS n))
      AND effective_from <= p_at
    ORDER BY length(prefix) DESC, effective_from DESC
    LIMIT 1
$$;

-- The longest grant in (0, window_s] whose credit is at most `credit_limit` (0 when even one
-- second costs more). The cost never decreases with the seconds granted, so bisect.
CREATE FUNCTION longest_grant(r rates, window_s integer, credit_limit numeric, minor_units integer)
RETURNS integer IMMUTABLE LANGUAGE plpgsql AS $$
DECLARE
    lo integer := 1;
    hi integer := window_s;
    mid integer;
    best integer := 0;
BEGIN
    WHILE lo <= hi LOOP
        mid := lo + (hi - lo) / 2;
        IF call_cost(mid, r, minor_units) <= credit_limit THEN
            best := mid;
            lo := mid + 1;
        ELSE
            hi := mid - 1;
        END IF;
    END LOOP;
    RETURN best;
END
$$;

-- C27: the tenant's live reservations whose grant and grace have passed lapse and their credit
-- returns; lapsed ones past their retention are forgotten. Returns the credit released, which
-- the caller (holding the wallet row) takes off `reserved`.
CREATE FUNCTION lapse_holds(p_tenant text, p_now timestamptz)
RETURNS numeric VOLATILE LANGUAGE plpgsql AS $$
DECLARE
    released numeric;
BEGIN
    WITH lapsed AS (
        UPDATE reservations SET live = false
        WHERE tenant = p_tenant AND live AND expires_at <= p_now
        RETURNING credit
    )
    SELECT coalesce(sum(credit), 0) INTO released FROM lapsed;
    DELETE FROM reservations
    WHERE tenant = p_tenant AND NOT live AND expires_at <= p_now - lapsed_retention();
    RETURN released;
END
$$;

-- Locks the tenant's wallet row (the lock that serializes the tenant's commands, as Minutely's
-- single writer does), lapses what is due (C27) and writes the released credit back. Every
-- command starts here.
CREATE FUNCTION lock_wallet(p_tenant text, p_now timestamptz)
RETURNS wallets VOLATILE LANGUAGE plpgsql AS $$
DECLARE
    w wallets%ROWTYPE;
    v_released numeric;
BEGIN
    SELECT * INTO w FROM wallets WHERE tenant = p_tenant FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown_tenant: %', p_tenant USING ERRCODE = 'no_data_found';
    END IF;
    v_released := lapse_holds(p_tenant, p_now);
    IF v_released > 0 THEN
        w.reserved := w.reserved - v_released;
        UPDATE wallets SET reserved = w.reserved WHERE tenant = p_tenant;
    END IF;
    RETURN w;
END
$$;

-- Records a refused call (its first outcome, so that asking again gets the same answer, C37)
-- and writes the wallet row back. The caller holds the wallet row.
CREATE FUNCTION record_refusal(w wallets, p_call_id text, p_organizer text, p_destination text,
                               p_start timestamptz, p_end timestamptz, p_reason text)
RETURNS void VOLATILE LANGUAGE sql AS $$
    INSERT INTO calls (tenant, seq, call_id, organizer, destination, start_at, end_at, reason)
    VALUES (w.tenant, w.next_seq, p_call_id, p_organizer, p_destination, p_start, p_end, p_reason);
    UPDATE wallets SET reserved = w.reserved, next_seq = w.next_seq + 1 WHERE tenant = w.tenant;
$$;

-- C25: allow or deny a dial-out about to connect. Idempotent on the call id: the same request
-- again gets the same grant (replay); another request with a known id is `call_id_reused`.
-- `p_start` is the instant the call is authorized for (the server's clock when NULL).
CREATE FUNCTION authorize(p_tenant text, p_call_id text, p_organizer text, p_destination text,
                          p_start timestamptz DEFAULT NULL)
RETURNS TABLE (decision text, reason text, max_duration_s integer, reserved numeric, replay boolean)
VOLATILE LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := now();
    v_start timestamptz := coalesce(p_start, v_now);
    w wallets%ROWTYPE;
    r reservations%ROWTYPE;
    seen calls%ROWTYPE;
    rt rates%ROWTYPE;
    v_window integer := control_window_s();
    v_available numeric;
    v_hold numeric;
    v_granted integer;
    v_first integer;
BEGIN
    IF abs(extract(epoch FROM v_start - v_now)) > 3600 THEN
        RAISE EXCEPTION 'start % is more than an hour from the server clock', v_start
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    w := lock_wallet(p_tenant, v_now);

    SELECT * INTO r FROM reservations WHERE tenant = p_tenant AND call_id = p_call_id;
    IF FOUND THEN
        IF r.organizer = p_organizer AND r.destination = p_destination AND r.start_at = v_start THEN
            RETURN QUERY SELECT 'allow'::text, NULL::text, r.granted_s,
                CASE WHEN r.live THEN r.credit ELSE 0 END, true;
        ELSE
            RETURN QUERY SELECT 'deny'::text, 'call_id_reused'::text, NULL::integer, NULL::numeric, false;
        END IF;
        RETURN;
    END IF;
    SELECT * INTO seen FROM calls WHERE tenant = p_tenant AND call_id = p_call_id;
    IF FOUND THEN
        -- A denial asked again gets the same answer (C37); anything else is a reuse.
        IF seen.reason IS NOT NULL AND seen.organizer = p_organizer
           AND seen.destination = p_destination AND seen.start_at = v_start
           AND seen.end_at = v_start THEN
            RETURN QUERY SELECT 'deny'::text, seen.reason, NULL::integer, NULL::numeric, true;
        ELSE
            RETURN QUERY SELECT 'deny'::text, 'call_id_reused'::text, NULL::integer, NULL::numeric, false;
        END IF;
        RETURN;
    END IF;

    SELECT * INTO rt FROM rate_for(p_destination, v_start);
    IF NOT FOUND THEN
        PERFORM record_refusal(w, p_call_id, p_organizer, p_destination, v_start, v_start, 'no_rate');
        RETURN QUERY SELECT 'deny'::text, 'no_rate'::text, NULL::integer, NULL::numeric, false;
        RETURN;
    END IF;

    -- The hold is the cost of the whole window (control.rs `decide`).
    v_hold := call_cost(v_window, rt, w.minor_units);
    v_available := w.balance - w.reserved;
    IF v_hold = 0 THEN
        v_granted := v_window;
    ELSIF v_available <= 0 THEN
        -- C14: the available balance must be strictly positive.
        PERFORM record_refusal(w, p_call_id, p_organizer, p_destination, v_start, v_start,
                               'insufficient_credits');
        RETURN QUERY SELECT 'deny'::text, 'insufficient_credits'::text, NULL::integer, NULL::numeric, false;
        RETURN;
    ELSIF v_hold <= v_available THEN
        v_granted := v_window;
    ELSE
        -- The longest grant the available credit covers, but never less than the first
        -- chargeable block: what the call then owes beyond the balance is the debt of a call in
        -- progress (C13).
        v_first := longest_grant(rt, v_window, 0, w.minor_units);
        v_granted := longest_grant(rt, v_window,
                                   greatest(v_available, call_cost(v_first + 1, rt, w.minor_units)),
                                   w.minor_units);
        v_hold := call_cost(v_granted, rt, w.minor_units);
    END IF;

    INSERT INTO reservations (tenant, call_id, organizer, destination, start_at, granted_s, credit,
                              expires_at, live)
    VALUES (p_tenant, p_call_id, p_organizer, p_destination, v_start, v_granted, v_hold,
            v_start + make_interval(secs => v_granted + control_grace_s()), true);
    UPDATE wallets SET reserved = w.reserved + v_hold WHERE tenant = p_tenant;
    RETURN QUERY SELECT 'allow'::text, NULL::text, v_granted, v_hold, false;
END
$$;

-- C27: the call ended after `p_duration_s` seconds from its authorized start: its hold is
-- released, it is rated (C6, C7, at the rate in force at its start) and debited, with a journal
-- entry and the call record, in one transaction. The balance may go negative (C13, C29). An end
-- reported again gets the first result and changes nothing.
CREATE FUNCTION end_call(p_tenant text, p_call_id text, p_duration_s bigint)
RETURNS TABLE (outcome text, reason text, amount numeric, balance_after numeric, replay boolean)
VOLATILE LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := now();
    v_end timestamptz;
    v_amount numeric;
    w wallets%ROWTYPE;
    r reservations%ROWTYPE;
    seen calls%ROWTYPE;
    rt rates%ROWTYPE;
BEGIN
    IF p_duration_s < 0 OR p_duration_s > 366 * 24 * 3600 THEN
        RAISE EXCEPTION 'duration_s % is negative or longer than a year', p_duration_s
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    w := lock_wallet(p_tenant, v_now);

    DELETE FROM reservations WHERE tenant = p_tenant AND call_id = p_call_id RETURNING * INTO r;
    IF NOT FOUND THEN
        SELECT * INTO seen FROM calls WHERE tenant = p_tenant AND call_id = p_call_id;
        IF FOUND THEN
            RETURN QUERY SELECT CASE WHEN seen.reason IS NULL THEN 'charged' ELSE 'refused' END,
                seen.reason, seen.amount, seen.balance_after, true;
            RETURN;
        END IF;
        RAISE EXCEPTION 'call_not_found: %', p_call_id USING ERRCODE = 'no_data_found';
    END IF;
    IF r.live THEN
        w.reserved := w.reserved - r.credit;
    END IF;
    v_end := r.start_at + make_interval(secs => p_duration_s);

    SELECT * INTO rt FROM rate_for(r.destination, r.start_at);
    IF NOT FOUND THEN
        PERFORM record_refusal(w, p_call_id, r.organizer, r.destination, r.start_at, v_end, 'no_rate');
        RETURN QUERY SELECT 'refused'::text, 'no_rate'::text, NULL::numeric, NULL::numeric, false;
        RETURN;
    END IF;
    v_amount := call_cost(p_duration_s, rt, w.minor_units);
    w.balance := w.balance - v_amount;
    -- C31: a call that costs nothing makes no journal entry. C28: a real-time debit is dated
    -- at the call's end.
    IF v_amount <> 0 THEN
        INSERT INTO journal_entries (tenant, seq, at, kind, amount, call_id, balance_after)
        VALUES (p_tenant, w.next_seq, v_end, 'call', -v_amount, p_call_id, w.balance);
        w.next_seq := w.next_seq + 1;
    END IF;
    INSERT INTO calls (tenant, seq, call_id, organizer, destination, start_at, end_at, reason,
                       duration_s, billable_s, rate_prefix, rate_per_minute, connection_fee,
                       amount, balance_after)
    VALUES (p_tenant, w.next_seq, p_call_id, r.organizer, r.destination, r.start_at, v_end, NULL,
            p_duration_s, billable_seconds(p_duration_s, rt.first_block_s, rt.increment_s),
            rt.prefix, rt.rate_per_minute, CASE WHEN p_duration_s > 0 THEN rt.connection_fee ELSE 0 END,
            v_amount, w.balance);
    UPDATE wallets SET balance = w.balance, reserved = w.reserved, next_seq = w.next_seq + 1
    WHERE tenant = p_tenant;
    RETURN QUERY SELECT 'charged'::text, NULL::text, v_amount, w.balance, false;
END
$$;
