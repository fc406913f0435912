"""Several nodes on one PostgreSQL store (`minutely serve --node`): authorize + end pairs a
second through one node and through three, and the time from an owner's death (SIGKILL) to
the first grant by its successor.

Called by bench.py (`bench/run --only cluster`). Every node, the load generator and PostgreSQL
share the machine's cores.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

import minutely as server_bench
import postgres
from minutely import BenchError, ORGANIZER, DESTINATION, DURATION_S


def cli(bin: str, store: str, *args: str) -> str:
    result = subprocess.run([bin, "--db", store, *args], capture_output=True, text=True,
                            timeout=600)
    if result.returncode != 0:
        raise BenchError(f"minutely {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def prepare(bin: str, rates: str, store: str) -> str:
    """The card imported and an operator key made, before any node runs; the key."""
    cli(bin, store, "rates", "import", rates, "--currency", "EUR")
    out = cli(bin, store, "keys", "create", "--kind", "operator", "--label", "bench")
    m = re.search(r"mk_[0-9a-f]+_[0-9a-f]+", out)
    if not m:
        raise BenchError(f"no key in the output of keys create: {out!r}")
    return m.group(0)


class Node:
    """One `minutely serve --node` process on `store`."""

    def __init__(self, bin: str, store: str, name: str, key: str, lease_ms: int):
        self.bin, self.store, self.name, self.key, self.lease_ms = bin, store, name, key, lease_ms
        self.port = server_bench.free_port()
        self.dir = Path(tempfile.mkdtemp(prefix=f"minutely-{name}-"))
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Node":
        log = open(self.dir / "node.log", "a")
        self.proc = subprocess.Popen(
            [self.bin, "--db", self.store, "serve", "--listen", f"127.0.0.1:{self.port}",
             "--node", self.name, "--lease-ms", str(self.lease_ms),
             "--rate-limit-per-s", "0", "--max-connections-per-address", "4096"],
            stdout=log, stderr=subprocess.STDOUT)
        server_bench.wait_ready(self.proc, self.request, f"node {self.name}", self.log_tail)
        return self

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        server_bench.stop(self.proc, 30)

    def log_tail(self) -> str:
        try:
            return (self.dir / "node.log").read_text()[-1500:]
        except OSError:
            return ""

    def request(self, method: str, path: str, body: bytes | None = None,
                content_type: str = "application/json", timeout: float = 30) -> tuple[int, bytes]:
        return server_bench.http_request(self.port, self.key, method, path, body,
                                         content_type, timeout)

    def holds(self, tenant: str) -> bool:
        try:
            status, text = self.request("GET", "/readyz", timeout=2)
        except OSError:
            return False
        return f"\nlease {tenant} " in text.decode()


def add_tenants(nodes: list[Node], names: list[str]) -> None:
    """Each tenant created through a node in turn: the node that creates it holds it."""
    for i, name in enumerate(names):
        node = nodes[i % len(nodes)]
        status, body = node.request("PUT", f"/v1/tenants/{name}/file",
                                    server_bench.tenant_file(name).encode(), "application/toml")
        if status != 200:
            raise BenchError(f"tenant {name}: {status} {body[:300]!r}")


def load_through(nodes: list[Node], clients: int, tenants: int, seconds: float) -> dict:
    """The load of `clients` clients shared out over the nodes' addresses, run at once; the
    pairs and pairs/s summed, the worst p50 and p99 of the parts."""
    shares = [clients // len(nodes) + (1 if i < clients % len(nodes) else 0)
              for i in range(len(nodes))]
    parts: list[dict] = []
    errors: list[str] = []

    def one(node: Node, concurrency: int) -> None:
        try:
            parts.append(server_bench.run_load(
                node.bin, node.url, node.key, mode="pairs", seconds=seconds, count=0,
                concurrency=concurrency, tenant="hot", tenants=tenants, batch=1))
        except BenchError as e:
            errors.append(str(e))

    threads = [threading.Thread(target=one, args=(n, s)) for n, s in zip(nodes, shares) if s]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise BenchError("; ".join(errors))
    return {
        "pairs": sum(p["pairs"] for p in parts),
        "per_s": sum(p["per_s"] for p in parts),
        "p50_ms": max(p["pair"]["p50_ms"] for p in parts),
        "p99_ms": max(p["pair"]["p99_ms"] for p in parts),
        "denied": sum(p["denied"] for p in parts),
        "failed": sum(p["failed"] for p in parts),
    }


def charges(node: Node, names: list[str], pairs: int, cost: Decimal) -> list[str]:
    """What is wrong with the wallets after `pairs` pairs of `cost` (read through `node`)."""
    debited, reserved, problems = Decimal(0), Decimal(0), []
    for name in names:
        status, body = node.request("GET", f"/v1/tenants/{name}/wallet")
        if status != 200:
            return [f"wallet of {name}: {status} {body[:200]!r}"]
        w = json.loads(body)
        debited += Decimal(w["debited"])
        reserved += Decimal(w["reserved"])
        if Decimal(w["funded"]) - Decimal(w["debited"]) - Decimal(w["forfeited"]) != Decimal(w["balance"]):
            problems.append(f"{name}: C24 does not hold: {w}")
    if debited != pairs * cost:
        problems.append(f"{debited} debited for {pairs} pairs of {cost}")
    if reserved != 0:
        problems.append(f"{reserved} still reserved")
    return problems[:3]


def throughput(bin: str, rates: str, new_database, node_counts: list[int], clients: list[int],
               tenants: list[int], seconds: float, warmup: float) -> list[dict]:
    """Pairs a second through 1 and through 3 nodes, each case on a new database."""
    cost = postgres.expected_cost(postgres.read_dial_out_rates(rates),
                                  "+" + re.sub(r"\D", "", DESTINATION), DURATION_S)
    out = []
    for t in tenants:
        for c in clients:
            for n in node_counts:
                store = new_database()
                key = prepare(bin, rates, store)
                nodes = [Node(bin, store, f"n{i + 1}", key, 5_000) for i in range(n)]
                try:
                    for node in nodes:
                        node.start()
                    names = server_bench.tenant_names(t)
                    add_tenants(nodes, names)
                    warm = load_through(nodes, c, t, warmup)["pairs"] if warmup > 0 else 0
                    x = load_through(nodes, c, t, seconds)
                    problems = charges(nodes[0], names, warm + x["pairs"], cost)
                finally:
                    for node in nodes:
                        node.stop()
                out.append({"nodes": n, "clients": c, "tenants": t,
                            "pairs_per_s": round(x["per_s"], 1), "p50_ms": round(x["p50_ms"], 3),
                            "p99_ms": round(x["p99_ms"], 3), "denied": x["denied"],
                            "failed": x["failed"], "agree": not problems, "problems": problems})
    return out


AUTHORIZE = json.dumps({"conference_id": "takeover", "organizer": ORGANIZER,
                        "direction": "dial_out", "destination_number": DESTINATION}).encode()


def first_grant(nodes: list[Node], round_: int, deadline_s: float = 60) -> float:
    """Asks the nodes in turn for a grant of tenant `hot` until one allows; the instant."""
    for k in range(100_000):
        node = nodes[k % len(nodes)]
        try:
            status, body = node.request(
                "POST", f"/v1/tenants/hot/calls/t{round_}-{k}/authorize", AUTHORIZE, timeout=5)
            if status == 200 and json.loads(body)["decision"] == "allow":
                return time.monotonic()
        except OSError:
            pass
        if time.monotonic() > deadline_s:
            break
        time.sleep(0.005)
    raise BenchError(f"takeover {round_}: no grant within the deadline")


def takeovers(bin: str, rates: str, new_database, count: int, lease_ms: int) -> dict:
    """`count` times: SIGKILL the node that holds `hot`, time until another grants for it,
    start the killed node again. Three nodes; the lease as given."""
    store = new_database()
    key = prepare(bin, rates, store)
    nodes = [Node(bin, store, f"n{i + 1}", key, lease_ms) for i in range(3)]
    times = []
    try:
        for node in nodes:
            node.start()
        add_tenants(nodes[:1], ["hot"])
        for r in range(count):
            owner = next((n for n in nodes if n.holds("hot")), None)
            if owner is None:
                raise BenchError(f"takeover {r}: no node holds hot")
            others = [n for n in nodes if n is not owner]
            killed = time.monotonic()
            owner.kill()
            granted = first_grant(others, r, killed + 60)
            times.append(granted - killed)
            owner.start()
    finally:
        for node in nodes:
            node.stop()
    times.sort()
    nearest = lambda q: times[min(len(times) - 1, max(0, -(-len(times) * q // 100) - 1))]
    return {"count": len(times), "lease_ms": lease_ms, "p50_s": round(nearest(50), 2),
            "p99_s": round(nearest(99), 2), "max_s": round(times[-1], 2),
            "min_s": round(times[0], 2)}
