#!/usr/bin/env python3
"""Runs every comparison of BENCHMARKS.md side by side and rewrites its tables.

Called by bench/run, which builds the release binary and prepares the Python that has DuckDB:

    bench/run            # the full run (by hand; rewrites BENCHMARKS.md)
    bench/run --quick    # small sizes, a couple of minutes (CI); prints the tables only

Each comparison checks that both sides gave the same answers; any disagreement, or a failed
run, makes the exit status non-zero.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import cluster  # noqa: E402
import minutely as server_bench  # noqa: E402
import postgres  # noqa: E402
import rating  # noqa: E402

DOC = HERE.parent / "BENCHMARKS.md"

# Sizes of the full run and of --quick.
SIZES = {
    "full": {
        "records": 10_000_000,
        "clients": [1, 64, 512],
        "tenants": [1, 10_000],
        "seconds": 15,
        "warmup": 3,
        "floor_seconds": 15,
        "pg_seconds": 15,
        "pgbackend_clients": [1, 64],
        "pgbackend_tenants": [1, 10_000],
        "cluster_clients": [64],
        "cluster_tenants": [1, 100],
        "takeovers": 20,
        "takeover_lease_ms": 5_000,
        "ingest_batches": [1, 4, 16, 64, 256, 1024, 4096],
        "curve_tenants": [1, 10, 100, 1000, 10_000],
        "control_batch": 256,
        "guard_clients": [1, 64],
        "guard_tenants": [1, 1_000],
        "guard_rounds": 3,
        "curve_control_batches": [1, 4, 16, 64, 256, 1024, 4096],
        "curve_control_clients": 4,
        "memory_tenants": 10_000,
        "memory_reservations": 1_000_000,
        "tenant_users": 100_000,
    },
    "quick": {
        "records": 100_000,
        "clients": [1, 64],
        "tenants": [1, 100],
        "seconds": 2,
        "warmup": 0.5,
        "floor_seconds": 1,
        "pg_seconds": 3,
        "pgbackend_clients": [1, 64],
        "pgbackend_tenants": [1],
        "cluster_clients": [64],
        "cluster_tenants": [1],
        "takeovers": 3,
        "takeover_lease_ms": 1_000,
        "ingest_batches": [1, 64, 1024],
        "curve_tenants": [1, 100],
        "control_batch": 64,
        "guard_clients": [64],
        "guard_tenants": [1],
        "guard_rounds": 1,
        "curve_control_batches": [1, 64],
        "curve_control_clients": 4,
        "memory_tenants": 100,
        "memory_reservations": 5_000,
        "tenant_users": 10_000,
    },
}


def sh(*args: str) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def machine() -> dict:
    cpu = "?"
    with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo", encoding="ascii") as f:
        mem_kib = int(f.readline().split()[1])
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
    }


def fsyncs_per_s(directory: str, seconds: float = 2.0) -> float:
    """How many 4 KiB write + fdatasync rounds the disk under `directory` takes a second: the
    ceiling of commits a second for anything that makes each one durable on its own."""
    fd, path = tempfile.mkstemp(dir=directory)
    try:
        block = b"\0" * 4096
        n, started = 0, time.monotonic()
        while time.monotonic() - started < seconds:
            os.pwrite(fd, block, (n % 256) * 4096)
            os.fdatasync(fd)
            n += 1
        return round(n / (time.monotonic() - started))
    finally:
        os.close(fd)
        os.unlink(path)


def tenant_file_load(bin: str, rates: Path, work: Path, users: int) -> dict:
    """How long `minutely rate` takes to load a tenant file of `users` users: the best of five
    runs over no call records, less the same with a tenant of one user."""
    work.mkdir(parents=True, exist_ok=True)
    tools = rating.tools_of(bin)
    calls = work / "no-calls.csv"
    files = {}
    for n in (users, 1):
        files[n] = work / f"tenant-{n}.toml"
        with open(files[n], "w") as f:
            subprocess.run([tools, "gen", "tenant", "--users", str(n), "--seed", "7"],
                           stdout=f, check=True)
    subprocess.run([tools, "gen", "calls", "--tenant-file", str(files[1]), "--count", "0",
                    "--out", str(calls)], check=True)

    def best(tenant: Path) -> float:
        runs = []
        for _ in range(5):
            started = time.monotonic()
            subprocess.run([bin, "rate", "--rates", str(rates), "--currency", "EUR",
                            "--tenant-file", str(tenant), "--calls", str(calls)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            runs.append(time.monotonic() - started)
        return min(runs)

    big, small = best(files[users]), best(files[1])
    return {"users": users, "bytes": files[users].stat().st_size,
            "small_bytes": files[1].stat().st_size, "big_s": round(big, 3),
            "small_s": round(small, 3), "load_ms": round((big - small) * 1000, 1)}


def control_target(x: dict, fsyncs: float) -> str:
    """The target a call-control row is held to (BENCHMARKS.md, "Against the targets")."""
    if x["batch"] != 1:
        return "≥ 100,000 pairs/s"
    if x["clients"] == 1:
        # Two commits in sequence, each one fdatasync, plus 100 µs of everything else.
        return f"≥ {num(1 / (2 / fsyncs + 100e-6))} pairs/s"
    if x["clients"] == 64 and x["tenants"] == 1:
        return "≥ 25,000 pairs/s, p99 < 5 ms, ≥ 10x"
    if x["clients"] == 64:
        return "≥ 10x"
    return ""


def fsync_bound(fsyncs: float) -> str:
    """The disk's figures next to the call-control table."""
    return (f"Disk during this part: {num(fsyncs)} write + fdatasync rounds a second (4 KiB, "
            f"measured just before). At one client a pair is two durable commits in sequence, "
            f"so the disk alone bounds it at {num(fsyncs / 2)} pairs/s; the target, two fsyncs "
            f"plus 100 µs a pair, is {num(1 / (2 / fsyncs + 100e-6))} pairs/s. With more "
            f"clients, group commit shares each fsync among every request in flight.")


FLOOR_NOTE = (
    "Floor: the same load, with the same clients and calls a request, against "
    "`minutely-tools floor`: HTTP/1.1 on the product's stack (hyper, a tokio worker a core) "
    "that parses nothing and answers each request once one 64-byte record a call is appended "
    "and synced (one fdatasync shared by every request waiting). It is what loopback HTTP, "
    "one durable commit a request and the load generator leave on this machine, all sharing "
    "its cores; \"of floor\" is Minutely's figure over it.")


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def num(x: float, digits: int = 0) -> str:
    return f"{x:,.{digits}f}"


def rewrite(doc: str, name: str, body: str) -> str:
    """Replaces what lies between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`."""
    pattern = re.compile(rf"(<!-- bench:{name} -->\n).*?(<!-- /bench:{name} -->)", re.S)
    if not pattern.search(doc):
        raise SystemExit(f"BENCHMARKS.md lacks the markers of the {name!r} table")
    return pattern.sub(lambda m: m.group(1) + body.rstrip() + "\n" + m.group(2), doc)


def control_failures(part: str, x: dict) -> list[str]:
    """What went wrong in one call-control measurement: wrong charges, denials, failures."""
    out = []
    where = f"{x['clients']} clients, {x['tenants']} tenants, {x['batch']} per request"
    if not x["agree"]:
        out.append(f"{part}: Minutely's answers are wrong at {where}: {x['problems']}")
    if x["denied"] or x["failed"]:
        out.append(f"{part}: {x['denied']} denied, {x['failed']} failed at {where}")
    return out


ALL_PARTS = "rating,tenantfile,control,guard,pgbackend,cluster,ingest,memory,curve"


def guard_table(bin: str, rates: Path, size: dict) -> tuple[str, list[str]]:
    """Authorize + end pairs with the guard off and on (every rule enforced from the first
    call, no threshold reached), one case after the other on fresh servers, `guard_rounds`
    times each; the median of each side."""
    rows, failures = [], []
    for t in size["guard_tenants"]:
        for c in size["guard_clients"]:
            runs = {False: [], True: []}
            for _ in range(size["guard_rounds"]):
                for on in (False, True):
                    x = server_bench.control(bin, str(rates), [c], [t], size["seconds"],
                                             size["warmup"], guard=on)[0]
                    failures += control_failures("guard", x)
                    runs[on].append(x)
            off, on = (sorted(runs[k], key=lambda x: x["p99_ms"])[len(runs[k]) // 2]
                       for k in (False, True))
            rows.append([c, num(t), num(off["pairs_per_s"]), off["p50_ms"], off["p99_ms"],
                         num(on["pairs_per_s"]), on["p50_ms"], on["p99_ms"],
                         f"{on['p99_ms'] / off['p99_ms']:.2f}" if off["p99_ms"] else "?",
                         f"{on['pairs_per_s'] / off['pairs_per_s']:.2f}"
                         if off["pairs_per_s"] else "?"])
    body = table(["clients", "tenants", "off pairs/s", "off p50 ms", "off p99 ms",
                  "on pairs/s", "on p50 ms", "on p99 ms", "p99 on/off", "pairs/s on/off"],
                 rows)
    return body + ("\n\nThe guard on: every tenant in `enforce`, no learning period, with "
                   "thresholds no load here reaches (bench/minutely.py `GUARD_ON`), so both "
                   "sides make the same calls (a domestic destination: rules 6 and 7 look at "
                   "it and pass it); "
                   "each pair is an authorization and an end on the single-call routes. "
                   f"Median of {size['guard_rounds']} alternating runs a side. Target: p99 "
                   "on/off at most 1.10."), failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", required=True, help="the release minutely binary (minutely-tools beside it)")
    parser.add_argument("--python", required=True, help="a Python that has duckdb")
    parser.add_argument("--quick", action="store_true", help="small sizes; tables printed only")
    parser.add_argument("--only", default=ALL_PARTS,
                        help="comma-separated parts to run")
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(),
                                                          "minutely-bench"))
    args = parser.parse_args()
    size = SIZES["quick" if args.quick else "full"]
    parts = set(args.only.split(","))
    unknown = parts - {"rating", "tenantfile", "control", "guard", "pgbackend", "cluster",
                       "ingest", "memory", "curve"}
    if unknown:
        parser.error(f"--only: unknown parts {sorted(unknown)}")
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    os.chmod(work, 0o755)  # the PostgreSQL cluster runs as the postgres user
    bin = str(Path(args.bin).resolve())
    rates = work / "rates.csv"
    with open(rates, "w") as f:
        subprocess.run([rating.tools_of(bin), "gen", "rates", "--currency", "EUR", "--extra-prefixes", "3000"],
                       stdout=f, check=True)

    facts = machine()
    facts["fsyncs_per_s"] = fsyncs_per_s(str(work))
    versions = {
        "minutely": sh(bin, "--version"),
        "rustc": sh("rustc", "--version"),
        "duckdb": sh(args.python, "-c", "import duckdb; print(duckdb.__version__)"),
        "postgresql": sh("bash", "-c", "ls /usr/lib/postgresql | sort -V | tail -n 1"),
    }
    command = "bench/run" + (" --quick" if args.quick else "")
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"machine: {facts}\nversions: {versions}", flush=True)
    tables: dict[str, str] = {}
    failures: list[str] = []


    if "rating" in parts:
        print("== offline rating", flush=True)
        r = rating.run(bin, args.python, str(work / "rating"), size["records"])
        m, d = r["minutely"], r["duckdb"]
        tables["rating"] = table(
            ["side", "records", "wall s", "CPU s", "records/s", "records per CPU-second",
             "peak RSS MB", "threads"],
            [["minutely rate", num(r["records"]), num(m["wall_s"], 2), num(m["cpu_s"], 2),
              num(m["records_per_s"]), num(m["records_per_cpu_s"]), num(m["max_rss_mb"]),
              m.get("threads", 1)],
             [f"DuckDB {d.get('version', versions['duckdb'])}", num(r["records"]),
              num(d["wall_s"], 2), num(d["cpu_s"], 2), num(d["records_per_s"]),
              num(d["records_per_cpu_s"]), num(d["max_rss_mb"]), d.get("threads", "?")]],
        ) + (f"\n\nRatio (DuckDB wall / minutely wall): **{r['ratio']}** (target at least 2); "
             f"CPU ratio {r['cpu_ratio']}; records per CPU-second target at least 1,000,000; "
             f"peak RSS target under 1,000 MB. Charges agree: "
             f"**{'yes' if r['agree'] else 'NO'}** "
             f"({r['mismatches']} mismatches); rate card of {num(r['prefixes'])} rows.")
        if not (r["agree"] and r["same_job"]):
            failures.append(f"rating: the exports disagree: {r['first_mismatches']}")
        print(tables["rating"], flush=True)

    if "tenantfile" in parts:
        print("== loading a tenant file", flush=True)
        t = tenant_file_load(bin, rates, work / "tenantfile", size["tenant_users"])
        tables["tenantfile"] = table(
            ["tenant file", "users", "bytes", "best of 5 runs, s", "load, ms"],
            [[f"{num(t['users'])} users", num(t["users"]), num(t["bytes"]), t["big_s"],
              t["load_ms"]],
             ["1 user (start-up and rate card alone)", "1", num(t["small_bytes"]),
              t["small_s"], ""]],
        ) + ("\n\nLoad = the difference between the two runs of `minutely rate` over no call "
             "records (same rate card). Target: a file of 100,000 users under 100 ms.")
        print(tables["tenantfile"], flush=True)

    if "control" in parts:
        print("== real-time call control", flush=True)
        fsyncs = fsyncs_per_s(str(work))
        single = server_bench.control(bin, str(rates), size["clients"], size["tenants"],
                                      size["seconds"], size["warmup"])
        batched = server_bench.control(bin, str(rates), size["clients"], size["tenants"],
                                       size["seconds"], size["warmup"], size["control_batch"])
        pg = postgres.run(str(rates), str(work), size["clients"], size["tenants"],
                          size["pg_seconds"])
        floors = {b: server_bench.floor(bin, size["clients"], size["floor_seconds"],
                                        size["warmup"], "pairs" if b == 1 else "batch", b)
                  for b in (1, size["control_batch"])}
        pg_by = {(p["clients"], p["tenants"]): p for p in pg}
        if pg and pg[0].get("postgresql"):
            versions["postgresql"] = pg[0]["postgresql"]
        rows = []
        for x in single + batched:
            p = pg_by.get((x["clients"], x["tenants"]), {})
            ratio = x["pairs_per_s"] / p["pairs_per_s"] if p.get("pairs_per_s") else 0
            route = "single" if x["batch"] == 1 else f"batch of {x['batch']}"
            rows.append([route, x["clients"], num(x["tenants"]), num(x["pairs_per_s"]),
                         x["p50_ms"], x["p99_ms"], x["p999_ms"],
                         num(p.get("pairs_per_s", 0)), p.get("p50_ms", "?"),
                         p.get("p99_ms", "?"), p.get("p999_ms", "?"), f"{ratio:.1f}x",
                         num(floors[x["batch"]][x["clients"]]),
                         f"{x['pairs_per_s'] / floors[x['batch']][x['clients']]:.2f}",
                         control_target(x, fsyncs)])
            failures += control_failures("control", x)
        for p in pg:
            if not p.get("agree"):
                failures.append(f"control: PostgreSQL's answers are wrong: {p.get('problems')}")
        tables["control"] = (table(
            ["Minutely route", "clients", "tenants", "Minutely pairs/s", "p50 ms", "p99 ms",
             "p999 ms", "PostgreSQL pairs/s", "p50 ms", "p99 ms", "p999 ms", "ratio",
             "floor pairs/s", "of floor", "target"], rows) + "\n\n" + fsync_bound(fsyncs)
            + "\n\n" + FLOOR_NOTE)
        print(tables["control"], flush=True)

    if "guard" in parts:
        print("== the toll-fraud guard in the authorize path", flush=True)
        tables["guard"], more = guard_table(bin, rates, size)
        failures += more
        print(tables["guard"], flush=True)

    if "pgbackend" in parts:
        print("== real-time call control on the PostgreSQL backend", flush=True)
        clients, tenants = size["pgbackend_clients"], size["pgbackend_tenants"]
        with postgres.backend_cluster(str(work), max(clients) + 40) as new_database:
            on_pg = server_bench.control(bin, str(rates), clients, tenants, size["seconds"],
                                         size["warmup"], new_store=new_database)
        reference = postgres.run(str(rates), str(work), clients, tenants, size["pg_seconds"])
        ref_by = {(p["clients"], p["tenants"]): p for p in reference}
        rows = []
        for x in on_pg:
            p = ref_by.get((x["clients"], x["tenants"]), {})
            ratio = x["pairs_per_s"] / p["pairs_per_s"] if p.get("pairs_per_s") else 0
            rows.append(["1", x["clients"], num(x["tenants"]), num(x["pairs_per_s"]),
                         x["p50_ms"], x["p99_ms"], num(p.get("pairs_per_s", 0)),
                         p.get("p50_ms", "?"), p.get("p99_ms", "?"), f"{ratio:.2f}x"])
            failures += control_failures("pgbackend", x)
        failures += [f"pgbackend: the reference's answers are wrong: {p.get('problems')}"
                     for p in reference if not p.get("agree")]
        tables["pgbackend"] = table(
            ["Minutely nodes", "clients", "tenants", "Minutely on PostgreSQL pairs/s",
             "p50 ms", "p99 ms", "PL/pgSQL reference pairs/s", "p50 ms", "p99 ms", "ratio"],
            rows) + ("\n\nBoth on private clusters of the same PostgreSQL with the same settings "
                     "(durable commits), one after the other on the same machine; the single "
                     "routes, one authorize and one end request a pair.")
        print(tables["pgbackend"], flush=True)

    if "cluster" in parts:
        print("== several nodes on PostgreSQL", flush=True)
        clients, tenants = size["cluster_clients"], size["cluster_tenants"]
        with postgres.backend_cluster(str(work), 3 * max(clients) + 80) as new_database:
            by_nodes = cluster.throughput(bin, str(rates), new_database, [1, 3], clients,
                                          tenants, size["seconds"], size["warmup"])
            moves = cluster.takeovers(bin, str(rates), new_database, size["takeovers"],
                                      size["takeover_lease_ms"])
        reference = postgres.run(str(rates), str(work), clients, tenants, size["pg_seconds"])
        ref_by = {(p["clients"], p["tenants"]): p for p in reference}
        rows = []
        for x in by_nodes:
            p = ref_by.get((x["clients"], x["tenants"]), {})
            ratio = x["pairs_per_s"] / p["pairs_per_s"] if p.get("pairs_per_s") else 0
            rows.append([x["nodes"], x["clients"], num(x["tenants"]), num(x["pairs_per_s"]),
                         x["p50_ms"], x["p99_ms"], num(p.get("pairs_per_s", 0)),
                         p.get("p50_ms", "?"), p.get("p99_ms", "?"), f"{ratio:.2f}x"])
            if not x["agree"] or x["denied"] or x["failed"]:
                failures.append(f"cluster: {x['nodes']} nodes: {x['problems']}, "
                                f"{x['denied']} denied, {x['failed']} failed")
        failures += [f"cluster: the reference's answers are wrong: {p.get('problems')}"
                     for p in reference if not p.get("agree")]
        tables["cluster"] = table(
            ["Minutely nodes", "clients", "tenants", "pairs/s", "p50 ms", "p99 ms",
             "PL/pgSQL reference pairs/s", "p50 ms", "p99 ms", "ratio"], rows) + (
            "\n\nThe clients are shared out over the nodes' addresses; each tenant is held by "
            "the node that created it (tenants created through the nodes in turn), and a "
            "request that reaches another node is forwarded to it. The pair's latencies are "
            "the worst of the parts'.\n\n" + table(
                ["takeovers", "lease", "p50 s", "p99 s", "min s", "max s"],
                [[moves["count"], f"{moves['lease_ms']} ms", moves["p50_s"], moves["p99_s"],
                  moves["min_s"], moves["max_s"]]]) +
            "\n\nA takeover: the node that holds the tenant is killed (SIGKILL); the time "
            "runs until another node grants an authorization for it (asked every 5 ms through "
            "the two others). Each kill comes right after the previous takeover and the "
            "restart of the node killed before, so the lease has just been taken: each figure "
            "is the worst case, what was left of a fresh lease, plus the claim and the reload "
            "of the tenant. A node killed at a random moment leaves between four fifths of a "
            "lease and a whole one (leases are renewed every fifth).")
        print(tables["cluster"], flush=True)

    if "ingest" in parts or "curve" in parts:
        print("== ingestion and batch sizes", flush=True)
        batches = size["ingest_batches"] if "curve" in parts else [100]
        fsyncs = fsyncs_per_s(str(work))
        ing = server_bench.ingest(bin, str(rates), batches, size["seconds"], 8)
        ing_floor = {b: server_bench.floor(bin, [8], size["floor_seconds"], 0, "ingest", b)[8]
                     for b in batches}
        tables["ingest"] = table(
            ["records per request", "records/s", "request p50 ms", "request p99 ms",
             "floor records/s", "of floor"],
            [[num(i["batch"]), num(i["records_per_s"]), i["p50_ms"], i["p99_ms"],
              num(ing_floor[i["batch"]]), f"{i['records_per_s'] / ing_floor[i['batch']]:.2f}"]
             for i in ing]) + (
            f"\n\nTarget: at least 200,000 records/s. Disk during this part: "
            f"{num(fsyncs)} write + fdatasync rounds a second; every request is one durable "
            f"commit (shared by the requests in flight), so the disk bounds requests, not "
            f"records: {num(fsyncs)} commits a second of up to 8 requests each.")
        failures += [f"ingest: {i['failed']} requests failed" for i in ing if i["failed"]]
        failures += [f"ingest: wrong charges after batches of {i['batch']}: {i['problems']}"
                     for i in ing if not i["agree"]]
        print(tables["ingest"], flush=True)

    if "curve" in parts:
        print("== cost curve: tenants", flush=True)
        curve = server_bench.control(bin, str(rates), [64], size["curve_tenants"],
                                     size["seconds"], size["warmup"])
        tables["curve"] = table(
            ["tenants", "pairs/s (64 clients)", "p50 ms", "p99 ms"],
            [[num(c["tenants"]), num(c["pairs_per_s"]), c["p50_ms"], c["p99_ms"]]
             for c in curve])
        for c in curve:
            failures += control_failures("curve", c)
        print(tables["curve"], flush=True)
        print("== cost curve: calls per call-control request", flush=True)
        clients = size["curve_control_clients"]
        batch_curve = []
        for b in size["curve_control_batches"]:
            batch_curve += server_bench.control(bin, str(rates), [clients], [1],
                                                size["seconds"], size["warmup"], b)
        tables["curve_batch"] = table(
            ["calls per request", f"pairs/s ({clients} clients, 1 tenant)", "pair p50 ms",
             "pair p99 ms"],
            [[num(c["batch"]), num(c["pairs_per_s"]), c["p50_ms"], c["p99_ms"]]
             for c in batch_curve])
        for c in batch_curve:
            failures += control_failures("curve", c)
        print(tables["curve_batch"], flush=True)

    if "memory" in parts:
        print("== memory", flush=True)
        mem = server_bench.memory(bin, str(rates), size["memory_tenants"],
                                  size["memory_reservations"])
        tables["memory"] = table(["state", "resident MiB", "target"], [
            ["idle", mem["idle_mib"], "< 30 MB"],
            [f"{num(mem['tenants'])} tenants", mem["tenants_mib"], ""],
            [f"{num(mem['reservations'])} live reservations (and the tenants)",
             mem["reservations_mib"], "< 300 MB at 1,000,000"],
        ]) + (f"\n\nAbout {num(mem['bytes_per_reservation'])} bytes per live reservation; "
              f"{num(mem['reservations_per_s'])} authorizations/s while making them.")
        if mem["reservations_denied"]:
            failures.append(f"memory: {mem['reservations_denied']} authorizations denied")
        print(tables["memory"], flush=True)

    tables["machine"] = table(["", ""], [
        ["when", when], ["command", f"`{command}`"],
        ["CPU", f"{facts['cpu']}, {facts['cores']} cores"],
        ["memory", f"{facts['memory_gib']} GiB"], ["kernel", facts["kernel"]],
        ["disk", f"{num(facts['fsyncs_per_s'])} write + fdatasync rounds a second (4 KiB)"],
        *[[k, v] for k, v in versions.items()],
    ])

    if parts != set(ALL_PARTS.split(",")):
        # A part run alone: its tables say when and where; the machine table stays the full
        # run's, which the other tables were measured with.
        del tables["machine"]
        where = (f"\n\nMeasured {when} by `{command} --only {args.only}` on {facts['cpu']}, "
                 f"{facts['cores']} cores, {num(facts['fsyncs_per_s'])} write + fdatasync "
                 f"rounds a second (4 KiB).")
        tables = {name: body + where for name, body in tables.items()}

    results = work / "results.json"
    results.write_text(json.dumps({"machine": facts, "versions": versions, "tables": tables},
                                  indent=2))
    if not args.quick:
        doc = DOC.read_text()
        for name, body in tables.items():
            doc = rewrite(doc, name, body)
        DOC.write_text(doc)
        print(f"BENCHMARKS.md rewritten ({', '.join(tables)})")
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    print("every comparison agreed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
