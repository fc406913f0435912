#!/usr/bin/env python3
"""Minutely's side of the server benchmarks: real-time call control (authorize + end pairs),
ingestion through the JSON batch endpoint, resident memory, and the cost curves.

Each measurement starts `minutely serve` on a fresh store in a temporary directory (durable
commits, as shipped: SQLite WAL with synchronous=FULL), sets it up over the API with an
operator key, and drives it with `minutely-tools load` (built beside `minutely`) on loopback.
The server, the load generator and everything else share the machine's cores.

    python3 bench/minutely.py --bin target/release/minutely --rates rates.csv --quick

Only the standard library is needed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import postgres

ORGANIZER = "ana@bench.example"
DESTINATION = "+33 1 44 55 66 77"
DURATION_S = 42
# Large enough that no authorization of a run is denied: a 300 s hold costs cents.
FUNDING = 10_000_000


class BenchError(Exception):
    pass


def tenant_file(tenant: str) -> str:
    """A pay-per-minute tenant: every dial-out is credit-funded at the card's rate (C19)."""
    return f"""id = "{tenant}"
name = "Benchmark {tenant}"
country = "FR"
currency = "EUR"
timezone = "Europe/Paris"
agreement = "volume_licensing"
default_dial_out_policy = "Global"

[licenses]
MCOMEETACPEA = 1

[wallet]

[[wallet.fundings]]
reference = "BENCH-{tenant}"
amount = {FUNDING}
at = "2026-01-01T00:00:00Z"

[[users]]
upn = "{ORGANIZER}"
display_name = "Ana Bench"
usage_location = "FR"
licenses = ["MCOMEETACPEA"]
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise BenchError(f"no VmRSS for process {pid}")


def stop(proc: subprocess.Popen | None, grace_s: float) -> None:
    """Stops a process this script started: SIGTERM, then SIGKILL after `grace_s`."""
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def http_request(port: int, key: str, method: str, path: str, body: bytes | None,
                 content_type: str, timeout: float) -> tuple[int, bytes]:
    """One request to the server on 127.0.0.1:`port` with `key` (none when empty)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        if body is not None:
            headers["Content-Type"] = content_type
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_ready(proc: subprocess.Popen, request, what: str, log_tail) -> None:
    """Waits (60 s at most) until the server `proc` answers /readyz with 200 through
    `request`; raises with its log's tail if it stops first."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{what} stopped at start: {log_tail()}")
        try:
            if request("GET", "/readyz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise BenchError(f"{what} did not become ready within 60 s")


class Server:
    """`minutely serve` on a fresh store, stopped (and its directory removed) on exit: a new
    SQLite file, or the PostgreSQL database `store` names (new and empty)."""

    def __init__(self, bin: str, rates: str, extra: list[str] | None = None,
                 store: str | None = None):
        self.bin = bin
        self.dir = Path(tempfile.mkdtemp(prefix="minutely-bench-"))
        self.db = store or str(self.dir / "bench.db")
        self.port = free_port()
        self.extra = extra or []
        self.rates = rates
        self.proc: subprocess.Popen | None = None
        self.key = ""

    def cli(self, *args: str) -> str:
        result = subprocess.run([self.bin, "--db", self.db, *args], capture_output=True,
                                text=True, timeout=600)
        if result.returncode != 0:
            raise BenchError(f"minutely {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def __enter__(self) -> "Server":
        self.cli("rates", "import", self.rates, "--currency", "EUR")
        out = self.cli("keys", "create", "--kind", "operator", "--label", "bench")
        m = re.search(r"mk_[0-9a-f]+_[0-9a-f]+", out)
        if not m:
            raise BenchError(f"no key in the output of keys create: {out!r}")
        self.key = m.group(0)
        self.log = open(self.dir / "server.log", "w")
        self.proc = subprocess.Popen(
            [self.bin, "--db", self.db, "serve", "--listen", f"127.0.0.1:{self.port}",
             # One key sends the load of many bridges: no per-key limit.
             "--rate-limit-per-s", "0",
             # Every load client connects from 127.0.0.1 (up to 512 at once).
             "--max-connections-per-address", "4096",
             *self.extra],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_ready(self.proc, self.request, "the server", self.log_tail)
        return self

    def __exit__(self, *exc) -> None:
        stop(self.proc, 60)
        if hasattr(self, "log"):
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self) -> str:
        try:
            return (self.dir / "server.log").read_text()[-2000:]
        except OSError:
            return ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(self, method: str, path: str, body: bytes | None = None,
                content_type: str = "application/json") -> tuple[int, bytes]:
        return http_request(self.port, self.key, method, path, body, content_type, 60)

    def add_tenants(self, names: list[str]) -> float:
        """Creates the tenants through the API, a few requests at a time; returns seconds."""
        started = time.monotonic()

        def one(name: str) -> None:
            status, body = self.request("PUT", f"/v1/tenants/{name}/file",
                                        tenant_file(name).encode(), "application/toml")
            if status != 200:
                raise BenchError(f"tenant {name}: {status} {body[:300]!r}")

        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(one, names))
        return time.monotonic() - started

    def rss_mib(self) -> float:
        assert self.proc
        return round(rss_kib(self.proc.pid) / 1024, 1)

    def load(self, *, mode: str = "pairs", seconds: float | None = None, count: int = 0,
             concurrency: int = 64, tenant: str = "hot", tenants: int = 1,
             batch: int = 100) -> dict:
        try:
            return run_load(self.bin, self.url, self.key, mode=mode, seconds=seconds,
                            count=count, concurrency=concurrency, tenant=tenant,
                            tenants=tenants, batch=batch)
        except BenchError as e:
            raise BenchError(f"{e}\nserver: {self.log_tail()[-800:]}") from None

    def check_charges(self, names: list[str], pairs: int, cost: Decimal) -> dict:
        """What the tenants' wallets hold after `pairs` pairs of `cost` each: every pair
        debited exactly once at the card's rate, nothing left reserved."""
        with ThreadPoolExecutor(max_workers=16) as pool:
            wallets = list(pool.map(self.wallet, names))
        # A tenant that no call reached has not yet made its tenant file's funding (it is made
        # when the wallet's clock reaches it): count what was debited, not what is left.
        debited = sum(Decimal(w["debited"]) for w in wallets)
        reserved = sum(Decimal(w["reserved"]) for w in wallets)
        problems = [f"{w['tenant']}: C24 does not hold: {w}" for w in wallets
                    if Decimal(w["funded"]) - Decimal(w["debited"]) - Decimal(w["forfeited"])
                    != Decimal(w["balance"])][:3]
        if debited != pairs * cost:
            problems.append(f"{debited} debited for {pairs} pairs of {cost}")
        if reserved != 0:
            problems.append(f"{reserved} still reserved")
        return {"agree": not problems, "problems": problems, "debited": str(debited)}

    def wallet(self, tenant: str) -> dict:
        status, body = self.request("GET", f"/v1/tenants/{tenant}/wallet")
        if status != 200:
            raise BenchError(f"wallet of {tenant}: {status} {body[:300]!r}")
        return json.loads(body)


def run_load(bin: str, url: str, key: str, *, mode: str, seconds: float | None, count: int,
             concurrency: int, tenant: str, tenants: int, batch: int) -> dict:
    """One run of `minutely-tools load` (beside `bin`), its figures as JSON."""
    tools = str(Path(bin).with_name("minutely-tools"))
    args = [tools, "load", "--url", url, "--key", key, "--mode", mode,
            "--tenant", tenant, "--tenants", str(tenants), "--organizer", ORGANIZER,
            "--destination", DESTINATION, "--duration-s", str(DURATION_S),
            "--concurrency", str(concurrency), "--batch", str(batch), "--json"]
    if seconds is not None:
        args += ["--seconds", str(seconds)]
    else:
        args += ["--pairs", str(count)]
    result = subprocess.run(args, capture_output=True, text=True,
                            timeout=(seconds or 0) + 3600)
    if result.returncode != 0:
        raise BenchError(f"minutely-tools load failed: {result.stderr.strip()[-1500:]}")
    return json.loads(result.stdout)


class Floor:
    """`minutely-tools floor`: HTTP on the product's stack, one group-committed append and
    fdatasync a request, nothing else. The same load against it gives the floor every
    real-time figure is read against. Stopped (its directory removed) on exit."""

    def __init__(self, bin: str, seconds: float):
        self.bin = bin
        self.dir = Path(tempfile.mkdtemp(prefix="minutely-floor-"))
        self.seconds = seconds
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def __enter__(self) -> "Floor":
        tools = str(Path(self.bin).with_name("minutely-tools"))
        self.proc = subprocess.Popen(
            [tools, "floor", "--listen", "127.0.0.1:0", "--dir", str(self.dir),
             "--seconds", str(int(self.seconds) + 60)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert self.proc.stdout
        line = self.proc.stdout.readline()
        m = re.match(r"listening on (127\.[0-9.]+:[0-9]+)", line)
        if not m:
            raise BenchError(f"the floor server did not start: {line!r}")
        self.url = f"http://{m.group(1)}"
        return self

    def __exit__(self, *exc) -> None:
        stop(self.proc, 10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def load(self, **kw) -> dict:
        return run_load(self.bin, self.url, "floor", **kw)


def floor(bin: str, clients: list[int], seconds: float, warmup: float, mode: str,
          batch: int) -> dict[int, float]:
    """Units a second (pairs, or records when ingesting) on the floor server at each client
    count, with the load the product is measured with."""
    out = {}
    for c in clients:
        with Floor(bin, warmup + seconds) as f:
            if warmup > 0:
                f.load(mode=mode, seconds=warmup, count=0, concurrency=c, tenant="hot",
                       tenants=1, batch=batch)
            figures = f.load(mode=mode, seconds=seconds, count=0, concurrency=c,
                             tenant="hot", tenants=1, batch=batch)
            if figures["failed"] or figures["denied"]:
                raise BenchError(f"the floor server failed requests: {figures}")
            out[c] = round(figures["per_s"], 1)
    return out


def tenant_names(tenants: int) -> list[str]:
    return ["hot"] if tenants == 1 else [f"hot-{i}" for i in range(tenants)]


# The toll-fraud guard enforcing every rule from the first call (no learning period), with
# thresholds no load of the benchmark reaches: every check and counter runs, nothing is
# refused (so both sides do the same calls).
GUARD_ON = {
    "default_mode": "enforce",
    "limits": {
        "organizer_live": 10_000, "conference_live": 10_000, "tenant_live": 65_535,
        "organizer_per_minute": 10_000_000, "tenant_per_minute": 10_000_000,
        "floor_hour": "1000000000", "floor_day": "1000000000",
        "learning_days": 0, "learning_dialouts": 0,
    },
}


def control(bin: str, rates: str, clients: list[int], tenants: list[int], seconds: float,
            warmup: float, batch: int = 1, new_store=None, guard: bool = False) -> list[dict]:
    """Authorize + end pairs at each (clients, tenants), each case on a fresh server: one call
    per request on the single-call routes (`batch` 1), or `batch` calls per request on the
    batched route (the authorizations of a batch in one request, their ends in the next).
    `new_store`, when given, makes each case's store (a PostgreSQL URL); else a SQLite file.
    `guard`: the toll-fraud guard on (`GUARD_ON`) before the load."""
    cost = postgres.expected_cost(postgres.read_dial_out_rates(rates),
                                  "+" + re.sub(r"\D", "", DESTINATION), DURATION_S)
    mode, unit = ("pairs", "pair") if batch == 1 else ("batch", "batch")
    results = []
    for t in tenants:
        for c in clients:
            with Server(bin, rates, store=new_store() if new_store else None) as server:
                names = tenant_names(t)
                server.add_tenants(names)
                if guard:
                    status, body = server.request("PUT", "/v1/fraud",
                                                  json.dumps(GUARD_ON).encode())
                    if status != 200:
                        raise BenchError(f"the guard: {status} {body[:300]!r}")
                tenant = "hot"
                warm = 0
                if warmup > 0:
                    warm = server.load(mode=mode, seconds=warmup, concurrency=c, tenant=tenant,
                                       tenants=t, batch=batch)["pairs"]
                figures = server.load(mode=mode, seconds=seconds, concurrency=c, tenant=tenant,
                                      tenants=t, batch=batch)
                # The answers: every pair charged once at the card's rate, nothing held.
                check = server.check_charges(names, warm + figures["pairs"], cost)
                results.append({
                    "clients": c,
                    "tenants": t,
                    "batch": batch,
                    "pairs": figures["pairs"],
                    "pairs_per_s": round(figures["per_s"], 1),
                    # A pair's latency: its authorization's request and its end's, back to back.
                    "p50_ms": round(figures[unit]["p50_ms"], 3),
                    "p99_ms": round(figures[unit]["p99_ms"], 3),
                    "p999_ms": round(figures[unit]["p999_ms"], 3),
                    "denied": figures["denied"],
                    "failed": figures["failed"],
                    "agree": check["agree"],
                    "problems": check["problems"],
                })
    return results


def ingest(bin: str, rates: str, batches: list[int], seconds: float, concurrency: int) -> list[dict]:
    """Records per second through the JSON batch endpoint, at each batch size. The answers:
    after each size, the wallet has been debited every record exactly once at the card's
    rate."""
    cost = postgres.expected_cost(postgres.read_dial_out_rates(rates),
                                  "+" + re.sub(r"\D", "", DESTINATION), DURATION_S)
    results = []
    with Server(bin, rates) as server:
        server.add_tenants(["hot"])
        records = 0
        for b in batches:
            figures = server.load(mode="ingest", seconds=seconds, concurrency=concurrency,
                                  batch=b)
            records += figures["records"]
            check = server.check_charges(["hot"], records, cost)
            results.append({
                "agree": check["agree"],
                "problems": check["problems"],
                "batch": b,
                "concurrency": concurrency,
                "records": figures["records"],
                "records_per_s": round(figures["per_s"], 1),
                "p50_ms": round(figures["request"]["p50_ms"], 3),
                "p99_ms": round(figures["request"]["p99_ms"], 3),
                "failed": figures["failed"],
            })
    return results


def memory(bin: str, rates: str, tenants: int, reservations: int) -> dict:
    """Resident memory idle, with `tenants` tenants, and with `reservations` live holds."""
    # Holds must outlive the run that makes them.
    with Server(bin, rates, ["--window-s", "7200", "--grace-s", "7200"]) as server:
        time.sleep(1)
        idle = server.rss_mib()
        took = server.add_tenants(tenant_names(tenants) + ["hot"])
        time.sleep(1)
        with_tenants = server.rss_mib()
        started = time.monotonic()
        figures = server.load(mode="authorize", count=reservations, concurrency=64)
        made = time.monotonic() - started
        time.sleep(1.5)  # the live-reservations gauge is published at the next sweep
        with_holds = server.rss_mib()
        status, body = server.request("GET", "/metrics")
        live = None
        m = re.search(rb"^minutely_live_reservations (\d+)", body, re.M)
        if status == 200 and m:
            live = int(m.group(1))
        return {
            "idle_mib": idle,
            "tenants": tenants,
            "tenants_mib": with_tenants,
            "tenants_s": round(took, 1),
            "reservations": figures["calls"],
            "reservations_denied": figures["denied"],
            "reservations_live": live,
            "reservations_mib": with_holds,
            "reservations_per_s": round(figures["calls"] / max(made, 1e-9), 1),
            "bytes_per_reservation": round((with_holds - with_tenants) * 1024 * 1024
                                           / max(figures["calls"], 1)),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", required=True)
    parser.add_argument("--rates", required=True, help="a rate card (minutely-tools gen rates)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    try:
        out = {
            "control": control(args.bin, args.rates, [1, 64], [1, 100], 3, 1),
            "ingest": ingest(args.bin, args.rates, [1, 100], 3, 8),
            "memory": memory(args.bin, args.rates, 100, 2000),
        }
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
