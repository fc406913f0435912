-- The SQL side of the offline-rating benchmark: bench/rating.py runs this file in DuckDB to do
-- what `minutely rate` does for the benchmark tenant (bench/tenant.toml), then compares the two
-- exports call by call.
--
-- bench/rating.py replaces each placeholder (a dollar sign and a name in braces) with an SQL
-- literal, then runs the statements of each `-- step:` section in order, timing each section.
--
-- Money is exact: rates and fees become whole numbers of 1e-10 currency units, billable seconds
-- are whole, and the one rounding of C7 (half away from zero, to the minor unit) is integer
-- arithmetic. Nothing passes through DOUBLE (DuckDB divides DECIMALs in DOUBLE, hence no `/`).

-- step: settings
SET threads = ${threads};
SET TimeZone = 'UTC';
-- The export's rows may come in any order (product.md fixes its columns, not its row order):
-- the comparison joins the two exports on Call ID.
SET preserve_insertion_order = false;

-- step: directory
-- The tenant's users and service numbers, from the tenant file. `capability` is the license
-- that pays a credit call of the user (C18: MCOMEETACPEA for pay-per-minute organizers).
CREATE TEMP TABLE users AS
SELECT * FROM (VALUES ${users}) AS u(upn_key, upn, display_name, usage_location, capability);
CREATE TEMP TABLE service_numbers AS
SELECT * FROM (VALUES ${numbers}) AS n(digits, kind, country, country_name);

-- step: card
-- Every field as text first: the money columns are converted exactly below.
CREATE TEMP TABLE card_text AS
SELECT * FROM read_csv(${rates}, header = true, comment = '#', all_varchar = true,
                       delim = ',', quote = '"', escape = '"');

SELECT CASE WHEN count(*) > 0
            THEN error('the rate card has a rate or fee with more than 10 decimals')
       END
FROM card_text
WHERE length(split_part(rate_per_minute, '.', 2)) > 10
   OR length(split_part(coalesce(connection_fee, '0'), '.', 2)) > 10;

CREATE TEMP TABLE rates AS
WITH typed AS (
    SELECT kind,
           ltrim(key, '+') AS key,
           coalesce(origin, '*') AS origin,
           trim(name) AS name,
           coalesce(premium, 'false') = 'true' AS premium,
           rate_per_minute::DECIMAL(18, 10) AS rate,
           coalesce(connection_fee, '0')::DECIMAL(18, 10) AS fee,
           coalesce(first_block_s, '60')::BIGINT AS first_s,
           coalesce(increment_s, '60')::BIGINT AS increment_s,
           effective_from::TIMESTAMPTZ AS version
    FROM card_text
), texts AS (
    SELECT *, rtrim(fee::VARCHAR, '0') AS fee_short FROM typed
)
SELECT kind, key, origin, name, premium, first_s, increment_s, version,
       CAST(rate * 10000000000 AS BIGINT) AS rate_u,
       CAST(fee * 10000000000 AS BIGINT) AS fee_u,
       -- As the export writes amounts: no trailing zeros, but at least the minor-unit digits.
       CASE WHEN length(fee_short) - strpos(fee_short, '.') < ${minor}
            THEN rpad(fee_short, (strpos(fee_short, '.') + ${minor})::INTEGER, '0')
            ELSE fee_short
       END AS fee_text
FROM texts;

-- C36: a version is in force from its effective_from until the next one's.
CREATE TEMP TABLE versions AS
SELECT version,
       lead(version, 1, 'infinity'::TIMESTAMPTZ) OVER (ORDER BY version) AS until
FROM (SELECT DISTINCT version FROM rates);

-- C35 needs the caller's numbering-plan country only when the card has an origin-specific
-- toll-free rate for a country where the tenant has a toll-free number; SQL has no numbering
-- plan, so such a tenant is refused rather than rated differently.
SELECT CASE WHEN count(*) > 0
            THEN error('the card has origin-specific toll-free rates for a toll-free number of the tenant: C35 needs the numbering plan')
       END
FROM rates r JOIN service_numbers n
  ON r.kind = 'dial_in_toll_free' AND n.kind = 'toll_free' AND r.key = n.country
WHERE r.origin <> '*';

-- step: calls
CREATE TEMP TABLE calls AS
SELECT * FROM read_csv(${calls}, header = true, delim = ',', quote = '"', escape = '"',
    columns = {
        'call_id': 'VARCHAR', 'conference_id': 'VARCHAR', 'organizer': 'VARCHAR',
        'direction': 'VARCHAR', 'service_number': 'VARCHAR', 'caller_number': 'VARCHAR',
        'destination_number': 'VARCHAR', 'start': 'TIMESTAMPTZ', 'end': 'TIMESTAMPTZ'
    });

-- step: dial-out prefixes
-- Longest-prefix match, once per distinct destination and card version: every prefix of the
-- destination's digits whose length is one of the card's prefix lengths is looked up by
-- equality, and the longest found wins.
CREATE TEMP TABLE dial_out_rates AS
WITH destinations AS (
    SELECT raw, regexp_replace(raw, '[^0-9]', '', 'g') AS digits
    FROM (SELECT DISTINCT destination_number AS raw FROM calls WHERE direction = 'dial_out')
), lengths AS (
    SELECT DISTINCT length(key) AS len FROM rates WHERE kind = 'dial_out'
), matches AS (
    SELECT d.raw, d.digits, r.*
    FROM destinations d
    JOIN lengths l ON l.len <= length(d.digits)
    JOIN rates r ON r.kind = 'dial_out' AND r.key = left(d.digits, l.len)
)
SELECT raw, version, '+' || digits AS number, name AS dialed, rate_u, fee_u, fee_text,
       first_s, increment_s
FROM matches
QUALIFY row_number() OVER (PARTITION BY raw, version ORDER BY length(key) DESC) = 1;

-- step: dial-in rates
-- C18/C19 for pay-per-minute organizers: a toll dial-in pays the toll rate of the service
-- number's country, a toll-free dial-in its toll-free rate (the `*` origin, see above).
CREATE TEMP TABLE dial_in_rates AS
WITH services AS (
    SELECT raw, regexp_replace(raw, '[^0-9]', '', 'g') AS digits
    FROM (SELECT DISTINCT service_number AS raw FROM calls WHERE direction = 'dial_in')
)
SELECT s.raw, r.version, '+' || n.digits AS number, n.kind AS number_type,
       n.country_name AS dialed, r.rate_u, r.fee_u, r.fee_text, r.first_s, r.increment_s
FROM services s
JOIN service_numbers n ON n.digits = s.digits
JOIN rates r ON r.key = n.country
            AND ((n.kind = 'toll' AND r.kind = 'dial_in_toll')
              OR (n.kind = 'toll_free' AND r.kind = 'dial_in_toll_free' AND r.origin = '*'));

-- step: rate and export
COPY (
    WITH dated AS (
        SELECT c.*, v.version,
               -- C38: whole seconds from start to end, rounded down.
               (epoch_us(c."end") - epoch_us(c.start)) // 1000000 AS duration_s
        FROM calls c
        JOIN versions v ON c.start >= v.version AND c.start < v.until
        WHERE c."end" >= c.start
    ), rated AS (
        SELECT d.*, u.upn, u.display_name, u.usage_location, u.capability,
               coalesce(o.number, i.number) AS number,
               i.number_type,
               coalesce(o.dialed, i.dialed) AS dialed,
               coalesce(o.rate_u, i.rate_u) AS rate_u,
               coalesce(o.fee_u, i.fee_u) AS fee_u,
               coalesce(o.fee_text, i.fee_text) AS fee_text,
               coalesce(o.first_s, i.first_s) AS first_s,
               coalesce(o.increment_s, i.increment_s) AS increment_s
        FROM dated d
        JOIN users u ON u.upn_key = lower(trim(d.organizer))
        LEFT JOIN dial_out_rates o
          ON d.direction = 'dial_out' AND o.raw = d.destination_number AND o.version = d.version
        LEFT JOIN dial_in_rates i
          ON d.direction = 'dial_in' AND i.raw = d.service_number AND i.version = d.version
    ), billed AS (
        SELECT *,
               -- C6: first block, then whole increments.
               CASE WHEN duration_s = 0 THEN 0
                    WHEN duration_s <= first_s THEN first_s
                    ELSE first_s + (duration_s - first_s + increment_s - 1) // increment_s * increment_s
               END AS billable_s
        FROM rated
        WHERE rate_u IS NOT NULL  -- C9: no rate, no charge
    ), costed AS (
        SELECT *,
               -- C7: (fee + rate * billable / 60) in 1e-10 units is numerator / 60; rounded
               -- half away from zero to the minor unit (amounts are never negative here).
               CASE WHEN duration_s = 0 THEN 0
                    ELSE (2 * (60 * fee_u + rate_u * billable_s) + ${divisor})
                         // (2 * ${divisor})
               END AS charge_minor
        FROM billed
    )
    SELECT call_id AS "Call ID",
           conference_id AS "Conference ID",
           usage_location AS "User Location",
           upn AS "UPN",
           display_name AS "User Display Name",
           CASE WHEN direction = 'dial_in' AND caller_number IS NOT NULL
                THEN '+' || regexp_replace(caller_number, '[^0-9]', '', 'g')
           END AS "Caller ID",
           CASE direction WHEN 'dial_in' THEN 'conf_in' ELSE 'conf_out' END AS "Call Type",
           number_type AS "Number Type",
           dialed AS "Destination Dialed",
           number AS "Destination Number",
           strftime(start::TIMESTAMP, '%Y-%m-%dT%H:%M:%SZ') AS "Start Time",
           strftime("end"::TIMESTAMP, '%Y-%m-%dT%H:%M:%SZ') AS "End Time",
           duration_s AS "Duration Seconds",
           CASE WHEN duration_s = 0 THEN ${zero_text} ELSE fee_text END AS "Connection Fee",
           CAST(charge_minor AS DECIMAL(18, 0)) * ${minor_unit} AS "Charge",
           ${currency} AS "Currency",
           capability AS "Capability"
    FROM costed
) TO ${out} (FORMAT csv, HEADER true);
