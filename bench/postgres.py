#!/usr/bin/env python3
"""PostgreSQL reference for the real-time call-control benchmark.

The same reserve/commit semantics as Minutely's call control (charging.md C25 to C27), written as
SQL functions with row locks (bench/pg/schema.sql) and driven by pgbench with the same mix as
Minutely's load generator: one pair = authorize a new dial-out to +33144556677, then end it after
42 seconds (bench/pg/pair.sql), each command its own durable transaction.

For each (clients, tenants) the tables are reset (every tenant funded far beyond what a run
spends, plus a history of calls already charged), and pgbench runs the pairs. It reports the
pairs per second and the p50/p99/p999 latency of whole pairs over `seconds`, measured after
`warmup` seconds of load (`pairs` counts the pairs of that window). Then it checks the answers
over everything the run committed (`pairs_committed`): every tenant's balance equals its
funding minus its journal debits, and each entry's balance follows from the ones before it;
nothing stays reserved; each pair charged exactly one call with one journal debit; no
authorization was denied; and every call cost what 42 seconds at the destination's rate costs,
computed here from the rate card, independently of the database (`agree`).

It installs nothing: it needs the Debian PostgreSQL server (apt-get install postgresql). It
creates a private cluster in a temporary directory under `workdir`, reachable only through a
private unix-socket directory, and stops and deletes it on exit, failure included.

    python3 bench/postgres.py --rates rates.csv --seconds 10

prints a JSON list with one object per (clients, tenants); progress goes to stderr.
"""

from __future__ import annotations

import argparse
import csv
import glob
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from contextlib import contextmanager
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCHEMA = HERE / "pg" / "schema.sql"
PAIR_SCRIPT = HERE / "pg" / "pair.sql"

# The call every pair makes (must match bench/pg/pair.sql).
DESTINATION = "+33144556677"
DURATION_S = 42
# Each tenant's funding: far more than any run can spend, so that nothing is denied.
FUNDING = Decimal("1000000000.00")
# EUR: the rate card is generated with --currency EUR.
MINOR_UNITS = 2

# Server settings. Durability is the default and is kept: every commit waits for its WAL flush.
# The checkpoint settings keep checkpoints out of a run (one is forced before each run), so
# that every run measures the same thing.
DURABILITY = {
    "fsync": "on",
    "synchronous_commit": "on",
    "full_page_writes": "on",
}
SETTINGS = {
    "shared_buffers": "1GB",
    "wal_buffers": "16MB",
    "max_wal_size": "16GB",
    "min_wal_size": "1GB",
    "checkpoint_timeout": "1h",
    "checkpoint_completion_target": "0.9",
    "work_mem": "4MB",
    "jit": "off",
    # The functions' statements are point lookups whose best plan does not depend on the
    # values: plan them once per session instead of five times.
    "plan_cache_mode": "force_generic_plan",
    "huge_pages": "try",
    "logging_collector": "off",
    "log_min_messages": "warning",
    # Each function takes one row lock per transaction and cannot deadlock; with hundreds of
    # clients queued on one tenant's row, the detector's runs (after each second of waiting)
    # only add contention on the lock manager.
    "deadlock_timeout": "60s",
}
# Group commit: a committing backend waits commit_delay microseconds for others to join its WAL
# flush when at least commit_siblings other transactions are open. It does not weaken
# durability (every commit still waits for its own flush).
DEFAULT_COMMIT_DELAY_US = 0
DEFAULT_COMMIT_SIBLINGS = 5

PGBENCH_THREADS = 2

# Calls already charged before each run (spread over the tenants), so that the tables have the
# size, statistics and index depth of a system in service.
DEFAULT_HISTORY = 200_000
# Seconds of load before the measured window (see run_pgbench).
DEFAULT_WARMUP_S = 5


class BenchError(Exception):
    """A failure with a message that says what was wrong."""


def find_postgres() -> Path:
    """The bin directory of the newest Debian PostgreSQL server installed."""
    found = []
    for bindir in glob.glob("/usr/lib/postgresql/*/bin"):
        path = Path(bindir)
        needed = ["initdb", "pg_ctl", "postgres", "psql", "pgbench"]
        if all(os.access(path / tool, os.X_OK) for tool in needed):
            try:
                found.append((float(path.parent.name), path))
            except ValueError:
                continue
    if not found:
        raise BenchError(
            "no PostgreSQL server binaries (initdb, pg_ctl, postgres, psql, pgbench) under "
            "/usr/lib/postgresql/<version>/bin: `apt-get install postgresql` is needed"
        )
    return max(found)[1]


def read_dial_out_rates(path: str) -> list[dict]:
    """The dial-out rows of a rate card made by `minutely-tools gen rates` (comment lines
    skipped)."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            lines = [line for line in f if not line.startswith("#")]
    except OSError as e:
        raise BenchError(f"cannot read the rate card {path}: {e}") from e
    reader = csv.DictReader(lines)
    needed = {"kind", "key", "name", "rate_per_minute", "connection_fee", "first_block_s",
              "increment_s", "effective_from"}
    missing = needed - set(reader.fieldnames or [])
    if missing:
        raise BenchError(f"rate card {path} lacks the columns {sorted(missing)}")
    rows = []
    for n, row in enumerate(reader, start=2):
        if row["kind"] != "dial_out":
            continue
        try:
            rows.append({
                "prefix": row["key"],
                "effective_from": row["effective_from"],
                "name": row["name"],
                "rate_per_minute": Decimal(row["rate_per_minute"]),
                "connection_fee": Decimal(row["connection_fee"] or "0"),
                "first_block_s": int(row["first_block_s"]),
                "increment_s": int(row["increment_s"]),
            })
        except (ArithmeticError, ValueError) as e:
            raise BenchError(f"rate card {path}, data row {n}: {e}") from e
    if not rows:
        raise BenchError(f"rate card {path} has no dial_out rows")
    return rows


def expected_cost(rates: list[dict], number: str, duration_s: int) -> Decimal:
    """C6/C7 computed independently of the database: longest prefix, exact, rounded once."""
    matches = [r for r in rates if number.startswith(r["prefix"])]
    if not matches:
        raise BenchError(f"the rate card has no dial-out rate for {number}")
    # Every row of a generated card has the same effective_from; the latest version wins.
    rate = max(matches, key=lambda r: (len(r["prefix"]), r["effective_from"]))
    first, step = rate["first_block_s"], max(rate["increment_s"], 1)
    if duration_s == 0:
        return Decimal(0)
    billable = first if duration_s <= first else first + -(-(duration_s - first) // step) * step
    exact = rate["connection_fee"] + rate["rate_per_minute"] * billable / Decimal(60)
    # Half away from zero (the cost is never negative, so ROUND_HALF_UP is the same).
    return exact.quantize(Decimal(1).scaleb(-MINOR_UNITS), rounding=ROUND_HALF_UP)


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[int(rank) - 1]


class Cluster:
    """A private PostgreSQL cluster in a temporary directory, stopped and deleted by `close`."""

    def __init__(self, bindir: Path, workdir: str, max_connections: int, settings: dict):
        self.bindir = bindir
        self.port = 5432
        self.as_root = os.geteuid() == 0
        os.makedirs(workdir, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix="minutely-pg-", dir=workdir))
        self.data = self.root / "data"
        self.sock = self.root / "sock"
        self.logfile = self.root / "server.log"
        self.started = False
        try:
            self._create(settings, max_connections)
        except BaseException:
            self.close()
            raise

    def _create(self, settings: dict, max_connections: int) -> None:
        self.sock.mkdir(mode=0o700)
        if self.as_root:
            # initdb refuses to run as root: the cluster belongs to the `postgres` system user.
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError as e:
                raise BenchError("running as root needs the `postgres` system user (made by the "
                                 "Debian postgresql package)") from e
            for p in (self.root, self.sock):
                os.chown(p, pw.pw_uid, pw.pw_gid)
            os.chmod(self.root, 0o700)
            probe = self._server_cmd(["test", "-w", str(self.root)], check=False)
            if probe.returncode != 0:
                raise BenchError(f"the postgres user cannot reach {self.root}: give a --workdir "
                                 "whose parent directories it may enter (such as /tmp)")
        self._server_cmd([str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
                          "--auth=trust", "-E", "UTF8", "--locale=C", "--no-instructions"])
        conf = {
            **settings,
            "listen_addresses": "''",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.sock}'",
            "unix_socket_permissions": "0700",
            "max_connections": str(max_connections),
        }
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as f:
            f.write("\n# Benchmark settings (bench/postgres.py)\n")
            for key, value in conf.items():
                f.write(f"{key} = {value}\n")
        # Set before starting: a start that fails half-way still gets a stop.
        self.started = True
        self._server_cmd([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.logfile),
                          "-w", "-t", "120", "start"])

    def _server_cmd(self, cmd: list[str], check: bool = True) -> subprocess.CompletedProcess:
        kwargs = {"user": "postgres", "group": "postgres", "extra_groups": []} if self.as_root else {}
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kwargs)
        if check and result.returncode != 0:
            raise BenchError(f"{Path(cmd[0]).name} failed ({result.returncode}): "
                             f"{result.stderr.strip() or result.stdout.strip()}"
                             + self._log_tail())
        return result

    def _log_tail(self) -> str:
        try:
            tail = self.logfile.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        except OSError:
            return ""
        return "\nserver log:\n" + "\n".join(tail) if tail else ""

    def conn_args(self) -> list[str]:
        return ["-h", str(self.sock), "-p", str(self.port), "-U", "postgres"]

    def psql(self, sql: str | None = None, file: Path | None = None, stdin: str | None = None,
             timeout: int = 600) -> str:
        cmd = [str(self.bindir / "psql"), *self.conn_args(), "-d", "postgres", "-X", "-q",
               "-A", "-t", "-v", "ON_ERROR_STOP=1"]
        if file is not None:
            cmd += ["-f", str(file)]
        if sql is not None:
            cmd += ["-c", sql]
        result = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            what = file.name if file is not None else (sql or "").strip().splitlines()[0][:80]
            raise BenchError(f"psql failed on {what}: {result.stderr.strip()}" + self._log_tail())
        return result.stdout.strip()

    def close(self) -> None:
        try:
            if self.started and (self.data / "postmaster.pid").exists():
                stop = self._server_cmd([str(self.bindir / "pg_ctl"), "-D", str(self.data),
                                         "-m", "fast", "-w", "-t", "60", "stop"], check=False)
                if stop.returncode != 0:
                    self._kill_postmaster()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def _kill_postmaster(self) -> None:
        """The server did not stop: kill the postmaster this cluster started, by its pid."""
        try:
            pid = int((self.data / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, signal.SIGKILL)
            for _ in range(100):
                os.kill(pid, 0)
                time.sleep(0.1)
        except (OSError, ValueError, IndexError):
            pass


@contextmanager
def private_cluster(bindir: Path, workdir: str, max_connections: int, settings: dict):
    cluster = None
    previous = {}

    def stop(signum, _frame):
        raise BenchError(f"stopped by signal {signum}")

    # A terminated run still stops and deletes its cluster.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        previous[sig] = signal.signal(sig, stop)
    try:
        cluster = Cluster(bindir, workdir, max_connections, settings)
        yield cluster
    finally:
        try:
            if cluster is not None:
                cluster.close()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


@contextmanager
def backend_cluster(workdir: str, max_connections: int):
    """A private cluster with the reference's settings, for Minutely's own PostgreSQL backend;
    yields a function that makes a new, empty database and returns its URL (over the cluster's
    socket)."""
    settings = {**SETTINGS, **DURABILITY, "commit_delay": str(DEFAULT_COMMIT_DELAY_US),
                "commit_siblings": str(DEFAULT_COMMIT_SIBLINGS)}
    with private_cluster(find_postgres(), workdir, max_connections, settings) as cluster:
        made = []

        def new_database() -> str:
            name = f"minutely_bench_{len(made)}"
            cluster.psql(f"CREATE DATABASE {name}")
            made.append(name)
            # The socket's directory as the host, percent-encoded (the cluster has no TCP).
            host = urllib.parse.quote(str(cluster.sock), safe="")
            return f"postgresql://postgres@{host}:{cluster.port}/{name}"

        yield new_database


def load_rates(cluster: Cluster, rates: list[dict]) -> None:
    lines = []
    for r in rates:
        fields = [r["prefix"], r["effective_from"], r["name"], str(r["rate_per_minute"]),
                  str(r["connection_fee"]), str(r["first_block_s"]), str(r["increment_s"])]
        if any(c in f for f in fields for c in "\t\n\\"):
            raise BenchError(f"rate card row {r['prefix']} has a tab, newline or backslash")
        lines.append("\t".join(fields))
    cluster.psql(file=None, sql=None, stdin="\\copy rates FROM STDIN\n" + "\n".join(lines) + "\n\\.\n")
    cluster.psql("ANALYZE rates")


def reset_tenants(cluster: Cluster, tenants: int, history: int) -> None:
    """Empties every table but the rates, funds tenants '1'..'tenants' afresh and gives them
    `history` earlier calls (ids `h-<n>`, spread round-robin), each charged and journaled.

    A live system has a long history of calls and journal entries; planning the functions'
    lookups against empty tables would pick sequential scans that a real deployment never runs.
    The reservations table only ever holds live calls: it is emptied with TRUNCATE and left
    without statistics, as a table that has just been created."""
    cluster.psql(f"""
        TRUNCATE wallets, reservations, calls, journal_entries;
        INSERT INTO calls (tenant, seq, call_id, organizer, destination, start_at, end_at,
                           reason, duration_s, billable_s, rate_prefix, rate_per_minute,
                           connection_fee, amount, balance_after)
        SELECT x.tenant, 2 * x.k + 1, 'h-' || g, 'organizer@tenant.example', '{DESTINATION}',
               x.at, x.at + interval '{DURATION_S} seconds', NULL, {DURATION_S},
               billable_seconds({DURATION_S}, r.first_block_s, r.increment_s), r.prefix,
               r.rate_per_minute, r.connection_fee, c.amount,
               {FUNDING} - x.k * c.amount
        FROM rate_for('{DESTINATION}', now()) AS r,
             LATERAL (SELECT call_cost({DURATION_S}, r, {MINOR_UNITS}) AS amount) AS c,
             generate_series(1, {history}) AS g,
             LATERAL (SELECT ((g - 1) % {tenants} + 1)::text AS tenant,
                             (g - 1) / {tenants} + 1 AS k,
                             timestamptz '2025-06-01 00:00:00Z' + g * interval '1 second' AS at) AS x;
        INSERT INTO journal_entries (tenant, seq, at, kind, amount, call_id, balance_after)
            SELECT tenant, seq - 1, end_at, 'call', -amount, call_id, balance_after FROM calls;
        INSERT INTO journal_entries (tenant, seq, at, kind, amount, call_id, balance_after)
            SELECT g::text, 1, timestamptz '2025-05-31 00:00:00Z', 'funding', {FUNDING}, NULL,
                   {FUNDING}
            FROM generate_series(1, {tenants}) AS g;
        INSERT INTO wallets (tenant, minor_units, balance, reserved, funded, next_seq)
            SELECT g::text, {MINOR_UNITS}, {FUNDING} - coalesce(h.spent, 0), 0, {FUNDING},
                   coalesce(h.last_seq, 1) + 1
            FROM generate_series(1, {tenants}) AS g
            LEFT JOIN (SELECT tenant, sum(amount) AS spent, max(seq) AS last_seq
                       FROM calls GROUP BY tenant) AS h ON h.tenant = g::text;
    """)
    cluster.psql("VACUUM ANALYZE rates, wallets, calls, journal_entries")
    # No run pays for the previous one's dirty pages.
    cluster.psql("CHECKPOINT")


def run_pgbench(cluster: Cluster, clients: int, tenants: int, seconds: int, warmup: int,
                logdir: Path) -> dict:
    """Runs the pairs and measures the `seconds` that follow `warmup` seconds of load.

    A new session plans each statement of the functions on first use, so hundreds of fresh
    sessions spend their first seconds planning; an application keeps its connections. The
    measured window therefore starts `warmup` seconds after the first pair starts, and ends at
    most `seconds` later, before pgbench's timer stops new pairs. pgbench's own figure for the
    whole run is reported too (`pgbench_tps`)."""
    prefix = logdir / f"pair-c{clients}-t{tenants}"
    # pgbench's timer runs while it connects (10 to 40 ms per connection on a loaded machine):
    # allow for it.
    duration = warmup + seconds + 3 + -(-clients * 30 // 1000)
    cmd = [str(cluster.bindir / "pgbench"), *cluster.conn_args(), "-n", "-M", "prepared",
           "-c", str(clients), "-j", str(min(PGBENCH_THREADS, clients)), "-T", str(duration),
           "-f", str(PAIR_SCRIPT), "-D", f"tenants={tenants}", "-D", "seq=0",
           "-l", f"--log-prefix={prefix}", "postgres"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 600)
    if result.returncode != 0:
        raise BenchError(f"pgbench failed ({result.returncode}) at {clients} clients, {tenants} "
                         f"tenants: {result.stderr.strip()[-2000:]}" + cluster._log_tail())
    out = result.stdout

    def field(pattern: str, cast=float):
        m = re.search(pattern, out)
        if not m:
            raise BenchError(f"pgbench output lacks /{pattern}/:\n{out}")
        return cast(m.group(1))

    processed = field(r"number of transactions actually processed: (\d+)", int)
    failed = field(r"number of failed transactions: (\d+)", int) if "failed transactions" in out else 0
    tps = field(r"tps = ([0-9.]+) \(without initial connection time\)")
    pairs = []  # (start, end) in seconds since the epoch
    log_failed = 0
    for path in glob.glob(f"{prefix}.*"):
        with open(path, encoding="utf-8") as f:
            for line in f:
                # client_id transaction_no time script_no time_epoch time_us [...]: `time` is
                # the whole pair in microseconds (or `failed`/`skipped`), the epoch and
                # microseconds say when it completed.
                parts = line.split()
                if len(parts) < 6:
                    continue
                if not parts[2].isdigit():
                    log_failed += 1
                    continue
                end = int(parts[4]) + int(parts[5]) / 1e6
                pairs.append((end - int(parts[2]) / 1e6, end))
        os.remove(path)
    if not pairs:
        raise BenchError(f"pgbench logged no pair at {clients} clients, {tenants} tenants")
    window_start = min(p[0] for p in pairs) + warmup
    window_end = min(window_start + seconds, max(p[0] for p in pairs))
    window = window_end - window_start
    if window < 1:
        raise BenchError(f"at {clients} clients, {tenants} tenants the measured window is only "
                         f"{window:.1f} s: connecting took longer than allowed for "
                         f"(pgbench: {result.stdout.strip()[-400:]})")
    latencies = sorted((e - s) * 1000 for s, e in pairs if window_start <= e < window_end)
    return {
        "pairs": len(latencies),
        "window_s": round(window, 2),
        "pairs_per_s": round(len(latencies) / window, 1),
        "p50_ms": round(percentile(latencies, 50), 3),
        "p99_ms": round(percentile(latencies, 99), 3),
        "p999_ms": round(percentile(latencies, 99.9), 3),
        "pairs_committed": processed,
        "pgbench_tps": round(tps, 1),
        "failed": failed + log_failed,
    }


def check_answers(cluster: Cluster, pairs: int, expected: Decimal) -> dict:
    """What the database holds after a run, against what the pairs committed must have left.
    Balances and the journal chain are checked over everything, history included; counts are
    of the run's calls."""
    row = cluster.psql(f"""
        WITH debits AS (
            SELECT tenant, sum(-amount) AS total, count(*) AS n
            FROM journal_entries WHERE kind = 'call' GROUP BY tenant
        ), live AS (
            SELECT tenant, sum(credit) AS held FROM reservations WHERE live GROUP BY tenant
        ), chain AS (
            -- Every journal entry's balance is the funding plus all entries up to it: a lost
            -- update between concurrent commands would break the chain.
            SELECT balance_after <> sum(amount) OVER (PARTITION BY tenant ORDER BY seq) AS broken
            FROM journal_entries
        )
        SELECT
            (SELECT count(*) FROM calls WHERE reason IS NOT NULL),
            (SELECT count(*) FROM calls WHERE reason IS NULL AND call_id NOT LIKE 'h-%'),
            (SELECT count(*) FROM calls WHERE reason IS NULL AND amount <> {expected}),
            (SELECT count(*) FROM wallets w LEFT JOIN debits d USING (tenant)
                WHERE w.balance <> w.funded - coalesce(d.total, 0)),
            (SELECT count(*) FROM wallets w LEFT JOIN live l USING (tenant)
                WHERE w.reserved <> 0 OR coalesce(l.held, 0) <> 0),
            (SELECT count(*) FROM reservations),
            (SELECT count(*) FROM journal_entries WHERE kind = 'call' AND call_id NOT LIKE 'h-%'),
            (SELECT count(*) FROM chain WHERE broken),
            (SELECT count(DISTINCT tenant) FROM calls WHERE call_id NOT LIKE 'h-%'),
            (SELECT count(*) FROM calls c
                LEFT JOIN journal_entries j ON j.tenant = c.tenant AND j.call_id = c.call_id
                WHERE c.reason IS NULL AND j.amount IS DISTINCT FROM -c.amount)
    """)
    (denied, charged, wrong_charge, wrong_balance, wrong_reserved, open_reservations, debits,
     broken_chain, tenants_used, unmatched) = (int(x) for x in row.split("|"))
    problems = []
    if denied:
        problems.append(f"{denied} authorizations denied")
    if charged != pairs:
        problems.append(f"{charged} calls charged for {pairs} pairs committed")
    if wrong_charge:
        problems.append(f"{wrong_charge} calls not charged {expected}")
    if wrong_balance:
        problems.append(f"{wrong_balance} tenants whose balance is not funding minus debits")
    if wrong_reserved:
        problems.append(f"{wrong_reserved} tenants with credit still reserved")
    if open_reservations:
        problems.append(f"{open_reservations} reservations left")
    if debits != charged:
        problems.append(f"{debits} journal debits for {charged} calls charged in the run")
    if unmatched:
        problems.append(f"{unmatched} charged calls without a journal debit of their amount")
    if broken_chain:
        problems.append(f"{broken_chain} journal entries whose balance_after breaks the chain")
    return {
        "denied": denied,
        "charged": charged,
        "tenants_used": tenants_used,
        "agree": not problems,
        "problems": problems,
    }


def run(rates_csv: str, workdir: str, clients: list[int], tenants: list[int], seconds: int,
        *, commit_delay_us: int = DEFAULT_COMMIT_DELAY_US,
        commit_siblings: int = DEFAULT_COMMIT_SIBLINGS,
        history: int = DEFAULT_HISTORY, warmup: int = DEFAULT_WARMUP_S) -> list[dict]:
    """Runs every (clients, tenants) on one private cluster, reset before each run."""
    if not clients or min(clients) < 1:
        raise BenchError("clients must be positive counts")
    if not tenants or min(tenants) < 1:
        raise BenchError("tenants must be positive counts")
    if warmup < 0:
        raise BenchError("warmup must not be negative")
    if history < 0:
        raise BenchError("history must not be negative")
    if seconds < 1:
        raise BenchError("seconds must be at least 1")
    for path in (SCHEMA, PAIR_SCRIPT):
        if not path.is_file():
            raise BenchError(f"missing {path}")
    bindir = find_postgres()
    rates = read_dial_out_rates(rates_csv)
    expected = expected_cost(rates, DESTINATION, DURATION_S)
    settings = {
        **SETTINGS,
        **DURABILITY,
        "commit_delay": str(commit_delay_us),
        "commit_siblings": str(commit_siblings),
    }
    results = []
    with private_cluster(bindir, workdir, max(clients) + 20, settings) as cluster:
        version = cluster.psql("SHOW server_version")
        cluster.psql(file=SCHEMA)
        load_rates(cluster, rates)
        shown = cluster.psql(
            "SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name) "
            "FROM pg_settings WHERE name = ANY (ARRAY['fsync', 'synchronous_commit', "
            "'full_page_writes', 'wal_sync_method', 'shared_buffers', 'wal_buffers', "
            "'max_connections', 'commit_delay', 'commit_siblings', 'max_wal_size', "
            "'checkpoint_timeout', 'plan_cache_mode', 'deadlock_timeout'])")
        for n_tenants in tenants:
            for n_clients in clients:
                reset_tenants(cluster, n_tenants, history)
                # The machine may be shared: the load before a run says how far to trust it.
                load_before = round(os.getloadavg()[0], 2)
                bench = run_pgbench(cluster, n_clients, n_tenants, seconds, warmup, cluster.root)
                check = check_answers(cluster, bench["pairs_committed"], expected)
                if bench["failed"]:
                    check["agree"] = False
                    check["problems"].append(f"{bench['failed']} pairs failed")
                results.append({
                    "clients": n_clients,
                    "tenants": n_tenants,
                    "seconds": seconds,
                    **bench,
                    **check,
                    "warmup_s": warmup,
                    "history_calls": history,
                    "expected_charge": str(expected),
                    "loadavg_1m_before": load_before,
                    "postgresql": version,
                    "settings": shown,
                })
                print(f"{n_clients:4} clients {n_tenants:6} tenants: {bench['pairs_per_s']:8.1f} "
                      f"pairs/s over {bench['window_s']} s, "
                      f"p50 {bench['p50_ms']} ms p99 {bench['p99_ms']} ms "
                      f"p999 {bench['p999_ms']} ms agree={check['agree']}",
                      file=sys.stderr, flush=True)
    return results


def counts(text: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected comma-separated counts, got {text!r}") from e
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive counts, got {text!r}")
    return values


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", required=True,
                        help="rate card from `minutely-tools gen rates --currency EUR"
                        " --extra-prefixes 3000`")
    parser.add_argument("--seconds", type=int, default=10, help="duration of each run")
    parser.add_argument("--clients", type=counts, default=[1, 64, 512])
    parser.add_argument("--tenants", type=counts, default=[1, 10000])
    parser.add_argument("--workdir", default=tempfile.gettempdir(),
                        help="where the temporary cluster is made (default: the system's)")
    parser.add_argument("--commit-delay", type=int, default=DEFAULT_COMMIT_DELAY_US,
                        help="commit_delay in microseconds (group commit; 0 = off)")
    parser.add_argument("--commit-siblings", type=int, default=DEFAULT_COMMIT_SIBLINGS)
    parser.add_argument("--warmup", type=int, default=DEFAULT_WARMUP_S,
                        help="seconds of load before the measured window")
    parser.add_argument("--history", type=int, default=DEFAULT_HISTORY,
                        help="calls already charged before each run, spread over the tenants")
    args = parser.parse_args()
    try:
        results = run(args.rates, args.workdir, args.clients, args.tenants, args.seconds,
                      commit_delay_us=args.commit_delay, commit_siblings=args.commit_siblings,
                      history=args.history, warmup=args.warmup)
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(json.dumps(results, indent=2))
    return 0 if all(r["agree"] for r in results) else 2


if __name__ == "__main__":
    sys.exit(main())
