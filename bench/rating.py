#!/usr/bin/env python3
"""Offline-rating benchmark: `minutely rate` against DuckDB doing the same job in SQL.

product.md sets the target: a CSV of ten million call records is rated and written as a PSTN
usage export faster than DuckDB doing the same join in SQL, at no less than one million records
per second per core. This module generates the data with the binary, runs both sides as child
processes (so that wall and CPU seconds are measured alike, from the kernel's accounting of each
child), and compares the two exports call by call.

    python3 bench/rating.py --bin target/release/minutely --python /path/to/venv/bin/python \
        --records 1000000

The parent needs only the standard library; the DuckDB side runs in `--python`, an interpreter
that has the `duckdb` package (pinned: DUCKDB_VERSION). Its SQL is bench/rating.sql.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
SQL_FILE = HERE / "rating.sql"
TENANT_FILE = HERE / "tenant.toml"

# The DuckDB release the figures are for: `pip install duckdb==2.0.0`.
DUCKDB_VERSION = "2.0.0"
CURRENCY = "EUR"
MINOR_UNITS = 2
CARD_SEED = 1
EXTRA_PREFIXES = 3000
CALL_SEED = 7
# Disk one record needs, with a margin: its line in the call file (133 bytes), and its rows in
# the binary's export (282) and DuckDB's (194).
BYTES_PER_CALL_RECORD = 150
BYTES_PER_EXPORTED_RECORD = 550

# The service numbers' countries, which the binary takes from the numbering plan. The SQL side
# has no numbering plan, so the benchmark tenant's numbers are listed here by leading digits
# (longest first wins); a number the table does not cover is an error, not a guess.
SERVICE_COUNTRIES = {
    "1212": ("US", "United States"),
    "33": ("FR", "France"),
    "44": ("GB", "United Kingdom"),
    "49": ("DE", "Germany"),
}

# Columns both exports have. Charge decides agreement; the others are compared for information.
SHARED_COLUMNS = [
    "Conference ID",
    "User Location",
    "UPN",
    "User Display Name",
    "Caller ID",
    "Call Type",
    "Number Type",
    "Destination Dialed",
    "Destination Number",
    "Start Time",
    "End Time",
    "Duration Seconds",
    "Connection Fee",
    "Charge",
    "Currency",
    "Capability",
]
# Compared as exact decimals rather than as text.
DECIMAL_COLUMNS = {"Connection Fee", "Charge"}


class BenchError(Exception):
    """A benchmark that cannot run or whose inputs are wrong; the message says what and why."""


# ---------------------------------------------------------------------------------------------
# Child processes, measured alike.


def measure(argv: list[str], stdout_path: Path, stderr_path: Path) -> dict:
    """Runs `argv` as a child with stdout and stderr to files; returns its wall seconds, CPU
    seconds (user + system, from the kernel's accounting of that child and its threads), peak
    resident memory and the most threads seen in it (sampled every 10 ms)."""
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        started = time.monotonic()
        child = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        threads = 0
        try:
            while True:
                pid, status, usage = os.wait4(child.pid, os.WNOHANG)
                if pid == child.pid:
                    break
                threads = max(threads, _threads_of(child.pid))
                time.sleep(0.01)
        except BaseException:
            child.kill()
            os.wait4(child.pid, 0)
            child.returncode = -signal.SIGKILL
            raise
        wall = time.monotonic() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    return {
        "exit": child.returncode,
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "user_s": usage.ru_utime,
        "system_s": usage.ru_stime,
        "max_rss_mb": usage.ru_maxrss / 1024,
        "os_threads": threads,
    }


def _threads_of(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _check(result: dict, what: str, stderr_path: Path) -> None:
    if result["exit"] != 0:
        tail = stderr_path.read_text(errors="replace")[-2000:]
        raise BenchError(f"{what} failed with exit status {result['exit']}:\n{tail}")


def _rates(result: dict, records: int) -> dict:
    out = {k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}
    out.pop("exit", None)
    out["records_per_s"] = round(records / max(result["wall_s"], 1e-9))
    out["records_per_cpu_s"] = round(records / max(result["cpu_s"], 1e-9))
    return out


# ---------------------------------------------------------------------------------------------
# Inputs.


def _digits(number: str) -> str:
    return re.sub(r"[^0-9]", "", number)


def tenant_directory(text: str) -> tuple[list[tuple], list[tuple]]:
    """The users and service numbers of the tenant file, as the SQL side needs them; refuses a
    tenant for which `minutely rate` would do something the SQL does not (pool, included
    minutes, add-on, a dial-out policy that refuses, toll-free disabled)."""
    tenant = tomllib.loads(text)
    problems = []
    policy = tenant.get("default_dial_out_policy", "Global")
    if policy.lower() != "global":
        problems.append(f"default_dial_out_policy is {policy!r}; the benchmark needs Global")
    if "wallet" not in tenant:
        problems.append("the tenant has no [wallet]; credit calls need one")
    users = []
    for u in tenant.get("users", []):
        upn = u["upn"]
        licenses = set(u.get("licenses", []))
        if licenses != {"MCOMEETACPEA"}:
            problems.append(f"user {upn} must hold exactly MCOMEETACPEA, not {sorted(licenses)}")
        if "dial_out_policy" in u:
            problems.append(f"user {upn} has its own dial_out_policy; leave it to the default")
        if not u.get("toll_free_dial_in", True):
            problems.append(f"user {upn} has toll_free_dial_in = false")
        location = u.get("usage_location", tenant["country"])
        users.append((upn.strip().lower(), upn, u["display_name"], location, "MCOMEETACPEA"))
    numbers = []
    for n in tenant.get("numbers", []):
        digits = _digits(n["number"])
        known = [k for k in SERVICE_COUNTRIES if digits.startswith(k)]
        if not known:
            problems.append(
                f"service number {n['number']} is not covered by SERVICE_COUNTRIES in {__file__}"
            )
            continue
        country, name = SERVICE_COUNTRIES[max(known, key=len)]
        numbers.append((digits, n["kind"], country, name))
    if not users:
        problems.append("the tenant has no users")
    if problems:
        raise BenchError("bench tenant: " + "; ".join(problems))
    return users, numbers


def _card_guard(path: Path) -> int:
    """Counts the card's rows, and refuses a card the SQL reader would read differently: DuckDB
    cuts a line at any `#`, the binary only skips lines that start with one."""
    rows = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if "#" in line:
                raise BenchError(f"{path}: a rate-card row contains '#': {line.strip()!r}")
            rows += 1
    return rows - 1  # the header


def _generate(argv: list[str], target: Path, *, to_stdout: bool) -> None:
    """Runs a generator, writing to a temporary name renamed only once complete, so that an
    interrupted run never leaves a truncated file to be reused. The generator writes to its
    standard output, or else to the file named by `--out`."""
    partial = target.with_name(target.name + ".partial")
    try:
        if to_stdout:
            with open(partial, "wb") as out:
                done = subprocess.run(argv, stdout=out, stderr=subprocess.PIPE)
        else:
            argv = [*argv, "--out", str(partial)]
            done = subprocess.run(argv, capture_output=True)
        if done.returncode != 0:
            raise BenchError(f"{' '.join(argv)} failed: {done.stderr.decode(errors='replace')}")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def tools_of(bin: str) -> str:
    """`minutely-tools` (sample data, load and soak runs), built beside the `minutely` binary."""
    return str(Path(bin).with_name("minutely-tools"))


def prepare(bin: str, workdir: Path, records: int) -> dict:
    """The rate card and the call file, generated by `minutely-tools gen`, or reused when a file
    for the same records, seed and tenant is already in `workdir`."""
    tenant_text = TENANT_FILE.read_text(encoding="utf-8")
    tag = hashlib.sha256(tenant_text.encode()).hexdigest()[:8]
    rates = workdir / f"rates-{CURRENCY}-x{EXTRA_PREFIXES}-s{CARD_SEED}.csv"
    calls = workdir / f"calls-{records}-s{CALL_SEED}-{tag}.csv"
    reused = calls.exists()
    need = records * (BYTES_PER_EXPORTED_RECORD + (0 if reused else BYTES_PER_CALL_RECORD))
    free = shutil.disk_usage(workdir).free
    if free < need:
        raise BenchError(
            f"{workdir} has {free / 1e9:.1f} GB free; {records} records need about"
            f" {need / 1e9:.1f} GB (the call file and two exports)"
        )
    if not rates.exists():
        _generate(
            [tools_of(bin), "gen", "rates", "--currency", CURRENCY, "--seed", str(CARD_SEED),
             "--extra-prefixes", str(EXTRA_PREFIXES)],
            rates,
            to_stdout=True,
        )
    if not reused:
        _generate(
            [tools_of(bin), "gen", "calls", "--tenant-file", str(TENANT_FILE), "--count", str(records),
             "--seed", str(CALL_SEED)],
            calls,
            to_stdout=False,
        )
    return {"rates": rates, "calls": calls, "reused": reused, "tenant_text": tenant_text}


# ---------------------------------------------------------------------------------------------
# The two sides.


def parse_summary(text: str) -> dict:
    """The facts of `minutely rate`'s summary on stderr."""
    summary: dict = {"funding": {}, "refused_reasons": {}}
    section = None
    for line in text.splitlines():
        m = re.match(r"^(\w+):\s+(.*)$", line)
        if m:
            key, value = m.groups()
            section = key
            number = re.match(r"-?[0-9.]+", value)
            if key in ("records", "charged", "duplicates", "refused", "recharges"):
                summary[key] = int(number.group()) if number else value
            elif key == "pool":
                summary["pool_minutes"] = int(number.group()) if number else value
            elif key == "time":
                summary["time"] = value
            continue
        m = re.match(r"^\s+(\S+)\s+(\d+)$", line)
        if m and section == "charged":
            summary["funding"][m.group(1)] = int(m.group(2))
        elif m and section == "refused":
            summary["refused_reasons"][m.group(1)] = int(m.group(2))
    return summary


def run_minutely(bin: str, data: dict, workdir: Path, records: int) -> dict:
    out, err = workdir / "minutely-export.csv", workdir / "minutely.stderr"
    argv = [bin, "rate", "--rates", str(data["rates"]), "--currency", CURRENCY,
            "--tenant-file", str(TENANT_FILE), "--calls", str(data["calls"])]
    result = measure(argv, out, err)
    _check(result, "minutely rate", err)
    side = _rates(result, records)
    side["threads"] = side["os_threads"]
    side["summary"] = parse_summary(err.read_text(errors="replace"))
    return side


def _literal(value) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(value)


def render_sql(params: dict) -> list[tuple[str, str]]:
    """bench/rating.sql with its placeholders filled, as (step, statements) pairs."""
    text = SQL_FILE.read_text(encoding="utf-8")

    def fill(m: re.Match) -> str:
        name = m.group(1)
        if name not in params:
            raise BenchError(f"{SQL_FILE}: unknown placeholder ${{{name}}}")
        return params[name]

    text = re.sub(r"\$\{(\w+)\}", fill, text)
    steps = []
    for chunk in re.split(r"^-- step: ", text, flags=re.M)[1:]:
        name, _, body = chunk.partition("\n")
        steps.append((name.strip(), body))
    return steps


def sql_params(data: dict, out: Path, threads: int) -> dict:
    users, numbers = tenant_directory(data["tenant_text"])
    unit = f"{10 ** -MINOR_UNITS:.{MINOR_UNITS}f}" if MINOR_UNITS else "1"
    return {
        "threads": str(threads),
        "rates": _literal(str(data["rates"])),
        "calls": _literal(str(data["calls"])),
        "out": _literal(str(out)),
        "users": ", ".join("(" + ", ".join(map(_literal, u)) + ")" for u in users),
        "numbers": ", ".join("(" + ", ".join(map(_literal, n)) + ")" for n in numbers),
        "minor": str(MINOR_UNITS),
        # 60 * 10^(10 - minor): the numerator in 1e-10 units over this is the minor-unit amount.
        "divisor": str(60 * 10 ** (10 - MINOR_UNITS)),
        "minor_unit": f"{unit}::DECIMAL({MINOR_UNITS + 1}, {MINOR_UNITS})",
        "zero_text": _literal("0." + "0" * MINOR_UNITS if MINOR_UNITS else "0"),
        "currency": _literal(CURRENCY),
    }


def check_duckdb(python: str, strict_version: bool) -> str:
    """The duckdb release `python` has; refuses a missing one, and another release than the
    pinned one when `strict_version`."""
    done = subprocess.run([python, "-c", "import duckdb; print(duckdb.__version__)"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise BenchError(
            f"{python} cannot import duckdb (pip install duckdb=={DUCKDB_VERSION}):"
            f" {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}"
        )
    version = done.stdout.strip()
    if strict_version and version != DUCKDB_VERSION:
        raise BenchError(
            f"{python} has duckdb {version}; the benchmark is pinned to {DUCKDB_VERSION}"
            f" (pip install duckdb=={DUCKDB_VERSION}, or pass --any-duckdb to measure"
            " another release)"
        )
    return version


def run_duckdb(python: str, data: dict, workdir: Path, records: int, threads: int) -> dict:
    out, err = workdir / "duckdb-export.csv", workdir / "duckdb.stderr"
    report = workdir / "duckdb.json"
    job = {"steps": render_sql(sql_params(data, out, threads)), "report": str(report)}
    job_file = workdir / "duckdb-job.json"
    job_file.write_text(json.dumps(job))
    report.unlink(missing_ok=True)
    result = measure([python, str(Path(__file__).resolve()), "--sql-child", str(job_file)],
                     workdir / "duckdb.stdout", err)
    _check(result, "the DuckDB side", err)
    inner = json.loads(report.read_text())
    side = _rates(result, records)
    side["version"] = inner["version"]
    # DuckDB's worker threads; os_threads also counts the interpreter's and idle ones.
    side["threads"] = threads
    side["sql_s"] = round(inner["sql_s"], 3)
    side["import_s"] = round(inner["import_s"], 3)
    side["steps_s"] = {k: round(v, 3) for k, v in inner["steps"].items()}
    return side


def sql_child(job_file: str) -> None:
    """Runs in the DuckDB interpreter: executes the steps, writes timings and the version."""
    started = time.monotonic()
    import duckdb

    imported = time.monotonic()
    job = json.loads(Path(job_file).read_text())
    con = duckdb.connect()
    steps = {}
    for name, body in job["steps"]:
        t = time.monotonic()
        con.execute(body)
        steps[name] = time.monotonic() - t
    con.close()
    done = time.monotonic()
    Path(job["report"]).write_text(json.dumps({
        "version": duckdb.__version__,
        "import_s": imported - started,
        "sql_s": done - imported,
        "steps": steps,
    }))


# ---------------------------------------------------------------------------------------------
# Comparison.

COMPARE_SQL = """
SET threads = {threads};
CREATE TEMP VIEW m AS SELECT * FROM read_csv({minutely}, header = true, all_varchar = true);
CREATE TEMP VIEW d AS SELECT * FROM read_csv({duckdb}, header = true, all_varchar = true);
"""


def compare_child(job_file: str) -> None:
    """Runs in the DuckDB interpreter: joins the two exports on Call ID."""
    import duckdb

    job = json.loads(Path(job_file).read_text())
    con = duckdb.connect()
    con.execute(COMPARE_SQL.format(threads=job["threads"], minutely=_literal(job["minutely"]),
                                   duckdb=_literal(job["duckdb"])))

    def q(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def value(side: str, column: str) -> str:
        if column in DECIMAL_COLUMNS:
            return f"TRY_CAST({side}.{q(column)} AS DECIMAL(38, 10))"
        return f"coalesce({side}.{q(column)}, '')"

    cid = q("Call ID")
    facts = {}
    for side in ("m", "d"):
        rows, distinct, total = con.execute(
            f"SELECT count(*), count(DISTINCT {cid}), sum(TRY_CAST({q('Charge')} AS"
            f" DECIMAL(38, 10)))::VARCHAR FROM {side}"
        ).fetchone()
        facts[side] = {"rows": rows, "distinct_ids": distinct, "charge_total": total}
    con.execute(f"""
        CREATE TEMP TABLE j AS
        SELECT coalesce(m.{cid}, d.{cid}) AS call_id,
               m.{cid} IS NOT NULL AS in_m, d.{cid} IS NOT NULL AS in_d,
               {value('m', 'Charge')} AS m_charge, {value('d', 'Charge')} AS d_charge,
               {', '.join(
                   f"{value('m', c)} IS DISTINCT FROM {value('d', c)} AS {q('diff ' + c)}"
                   for c in SHARED_COLUMNS)}
        FROM m FULL OUTER JOIN d ON m.{cid} = d.{cid}
    """)
    bad = "NOT in_m OR NOT in_d OR m_charge IS NULL OR m_charge IS DISTINCT FROM d_charge"
    mismatches = con.execute(f"SELECT count(*) FROM j WHERE {bad}").fetchone()[0]
    first = con.execute(f"""
        SELECT call_id, in_m, in_d, m_charge::VARCHAR, d_charge::VARCHAR FROM j
        WHERE {bad} ORDER BY call_id LIMIT 5
    """).fetchall()
    columns = con.execute(
        "SELECT " + ", ".join(f"count(*) FILTER (WHERE {q('diff ' + c)})" for c in SHARED_COLUMNS)
        + " FROM j WHERE in_m AND in_d"
    ).fetchone()
    examples = {}
    for c, n in zip(SHARED_COLUMNS, columns):
        if n:
            examples[c] = con.execute(f"""
                SELECT m.{cid}, m.{q(c)}, d.{q(c)} FROM m JOIN d ON m.{cid} = d.{cid}
                WHERE {value('m', c)} IS DISTINCT FROM {value('d', c)} LIMIT 3
            """).fetchall()
    Path(job["report"]).write_text(json.dumps({
        "facts": facts,
        "mismatches": mismatches,
        "first": [
            {"call_id": r[0], "in_minutely": r[1], "in_duckdb": r[2],
             "minutely_charge": r[3], "duckdb_charge": r[4]}
            for r in first
        ],
        "columns": dict(zip(SHARED_COLUMNS, columns)),
        "column_examples": examples,
    }, default=str))


def compare(python: str, workdir: Path, minutely: Path, duck: Path, threads: int) -> dict:
    job_file, report = workdir / "compare-job.json", workdir / "compare.json"
    job_file.write_text(json.dumps({"minutely": str(minutely), "duckdb": str(duck),
                                    "threads": threads, "report": str(report)}))
    done = subprocess.run([python, str(Path(__file__).resolve()), "--compare-child",
                           str(job_file)], capture_output=True)
    if done.returncode != 0:
        raise BenchError("comparing the exports failed: " + done.stderr.decode(errors="replace"))
    return json.loads(report.read_text())


# ---------------------------------------------------------------------------------------------


def _best(runs: list[dict]) -> dict:
    """The run with the least wall time, with every run's wall and CPU seconds alongside: on a
    shared machine the fastest run is the one least disturbed."""
    best = dict(min(runs, key=lambda r: r["wall_s"]))
    if len(runs) > 1:
        best["runs_wall_s"] = [r["wall_s"] for r in runs]
        best["runs_cpu_s"] = [r["cpu_s"] for r in runs]
    return best


def run(bin: str, python: str, workdir: str, records: int, *, threads: int | None = None,
        repeat: int = 1, keep_exports: bool = False, strict_version: bool = True) -> dict:
    """Generates (or reuses) the data, runs `minutely rate` and the DuckDB SQL `repeat` times
    each (alternating, keeping the fastest run of each side), compares the exports of the last
    runs, and returns the figures. `threads` is DuckDB's (default: every core)."""
    if repeat < 1:
        raise BenchError(f"repeat must be at least 1, not {repeat}")
    if records <= 0:
        raise BenchError(f"records must be positive, not {records}")
    bin = str(Path(bin).resolve())
    if not os.access(bin, os.X_OK):
        raise BenchError(f"{bin} is not an executable minutely binary")
    if not shutil.which(python):
        raise BenchError(f"{python} is not a Python interpreter")
    work = Path(workdir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    threads = threads or os.cpu_count() or 1
    check_duckdb(python, strict_version)
    data = prepare(bin, work, records)
    prefixes = _card_guard(data["rates"])
    load = os.getloadavg()
    exports = [work / "minutely-export.csv", work / "duckdb-export.csv"]
    mine_runs, duck_runs = [], []
    try:
        for _ in range(repeat):
            mine_runs.append(run_minutely(bin, data, work, records))
            duck_runs.append(run_duckdb(python, data, work, records, threads))
        verdict = compare(python, work, exports[0], exports[1], threads)
    finally:
        if not keep_exports:
            for path in exports:
                path.unlink(missing_ok=True)
    mine, duck = _best(mine_runs), _best(duck_runs)
    summary = mine["summary"]
    same_job = (
        summary.get("refused") == 0
        and summary.get("charged") == records
        and set(summary.get("funding", {})) == {"credits"}
        and summary.get("pool_minutes") == 0
    )
    with open(data["rates"], encoding="utf-8") as f:
        dial_out = sum(1 for line in f if line.startswith("dial_out,"))
    return {
        "records": records,
        "prefixes": prefixes,
        "dial_out_prefixes": dial_out,
        "calls_csv": str(data["calls"]),
        "calls_bytes": data["calls"].stat().st_size,
        "data_reused": data["reused"],
        "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load],
        "minutely": mine,
        "duckdb": duck,
        "ratio": round(duck["wall_s"] / max(mine["wall_s"], 1e-9), 3),
        "cpu_ratio": round(duck["cpu_s"] / max(mine["cpu_s"], 1e-9), 3),
        "same_job": same_job,
        "agree": verdict["mismatches"] == 0 and verdict["facts"]["m"]["rows"] == records,
        "mismatches": verdict["mismatches"],
        "first_mismatches": verdict["first"],
        "exports": verdict["facts"],
        "column_mismatches": {k: v for k, v in verdict["columns"].items() if v},
        "column_examples": verdict["column_examples"],
    }


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] in ("--sql-child", "--compare-child"):
        (sql_child if sys.argv[1] == "--sql-child" else compare_child)(sys.argv[2])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", required=True, help="the minutely binary")
    parser.add_argument("--python", required=True,
                        help=f"a Python interpreter with duckdb=={DUCKDB_VERSION}")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--workdir", default="/tmp/minutely-bench-rating",
                        help="where generated data is kept and reused (default: %(default)s)")
    parser.add_argument("--threads", type=int, help="DuckDB threads (default: every core)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each side; the fastest of each is reported")
    parser.add_argument("--keep-exports", action="store_true",
                        help="keep both exports in the work directory")
    parser.add_argument("--any-duckdb", action="store_true",
                        help=f"measure whatever duckdb --python has, not only {DUCKDB_VERSION}")
    args = parser.parse_args()
    try:
        result = run(args.bin, args.python, args.workdir, args.records, threads=args.threads,
                     repeat=args.repeat, keep_exports=args.keep_exports,
                     strict_version=not args.any_duckdb)
    except BenchError as e:
        print(f"rating benchmark: {e}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2, default=str))
    return 0 if result["agree"] else 2


if __name__ == "__main__":
    sys.exit(main())
