"""The SIP edge test's harness: the engine, Kamailio and sipp as child processes on loopback.

Every process is started by this module, remembered by its pid and stopped by that pid only
(also when a check fails or the run is interrupted). Every wait is bounded in time.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
KAMAILIO_DIR = os.path.dirname(HERE)
ROOT = os.path.dirname(os.path.dirname(KAMAILIO_DIR))
SCENARIOS = os.path.join(HERE, "scenarios")
CFG = os.path.join(KAMAILIO_DIR, "kamailio.cfg")
LOOPBACK = "127.0.0.1"
# the cap of a fail-open toll dial-in (the shipped default is 1800 s)
FAIL_OPEN_CAP_S = 3


def find_bin():
    if os.environ.get("MINUTELY_BIN"):
        return os.path.abspath(os.environ["MINUTELY_BIN"])
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    return os.path.join(target, "release", "minutely")


class Failure(Exception):
    pass


def free_port():
    """A port free on loopback for both UDP and TCP (Kamailio listens on both)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind((LOOPBACK, 0))
            port = u.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                    t.bind((LOOPBACK, port))
            except OSError:
                continue
        if port not in Run.taken:
            Run.taken.add(port)
            return port
    raise Failure("no free port on loopback")


def wait_until(what, predicate, timeout, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise Failure(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class Proc:
    """A child process with its output in files; stopped by its pid."""

    def __init__(self, run, name, argv, cwd=None):
        self.run = run
        self.name = name
        self.argv = argv
        self.out_path = os.path.join(run.dir, f"{name}.out")
        self.err_path = os.path.join(run.dir, f"{name}.err")
        self.out = open(self.out_path, "ab")
        self.err = open(self.err_path, "ab")
        self.popen = subprocess.Popen(
            argv, stdout=self.out, stderr=self.err, stdin=subprocess.DEVNULL, cwd=cwd or run.dir,
            start_new_session=True,
        )
        self.pid = self.popen.pid
        run.procs.append(self)

    def alive(self):
        return self.popen.poll() is None

    def wait(self, timeout):
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Failure(f"{self.name} (pid {self.pid}) still running after {timeout:.0f} s") from None

    def kill9(self):
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def stop(self, grace=5.0):
        if self.alive():
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
        self.out.close()
        self.err.close()

    def text(self, which="out"):
        with open(self.out_path if which == "out" else self.err_path, "r", errors="replace") as f:
            return f.read()


class Run:
    """One test run: a temporary directory and every process started in it."""

    taken = set()

    def __init__(self, keep=False):
        self.dir = tempfile.mkdtemp(prefix="minutely-sip-")
        self.procs = []
        self.keep = keep

    def close(self, failed):
        for p in reversed(self.procs):
            try:
                p.stop()
            except Exception as e:  # keep stopping the others
                print(f"  (stopping {p.name}: {e})")
        if failed or self.keep:
            print(f"  logs kept in {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


# ----------------------------------------------------------------------------------------
# The engine


class Engine:
    def __init__(self, run, binary, window_s, grace_s):
        self.run = run
        self.bin = binary
        self.tools = os.path.join(os.path.dirname(binary), "minutely-tools")
        self.db = os.path.join(run.dir, "m.db")
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.window_s = window_s
        self.grace_s = grace_s
        self.proc = None
        self.starts = 0

    def start(self):
        self.starts += 1
        self.proc = Proc(self.run, f"engine{self.starts}", [
            self.bin, "--db", self.db, "serve", "--listen", f"{LOOPBACK}:{self.port}",
            "--window-s", str(self.window_s), "--grace-s", str(self.grace_s),
        ])
        def ready():
            if not self.proc.alive():
                raise Failure(f"the engine exited: {self.proc.text('err')[-2000:]}")
            return "is serving http" in self.proc.text()
        wait_until("the engine to serve", ready, 60)

    def kill9(self):
        self.proc.kill9()

    def cli(self, *args):
        out = subprocess.run([self.bin, "--db", self.db, *args], capture_output=True, text=True, timeout=60)
        return out.returncode, out.stdout + out.stderr

    def create_key(self, kind, tenant=None, label="sip-test"):
        args = ["keys", "create", "--kind", kind, "--label", label]
        if tenant:
            args += ["--tenant", tenant]
        code, out = self.cli(*args)
        if code != 0:
            return None, out
        m = re.search(r"mk_[0-9a-f]+_[0-9a-f]+", out)
        return (m.group(0) if m else None), out

    def wait_key(self, key, path):
        def accepted():
            status, _ = self.api("GET", path, key)
            return status not in (401,)
        wait_until("the engine to accept a new key", accepted, 10, 0.2)

    def api(self, method, path, key, body=None, ctype="application/json", timeout=10):
        headers = {"Authorization": f"Bearer {key}"}
        data = None
        if body is not None:
            headers["Content-Type"] = ctype
            data = json.dumps(body).encode() if ctype == "application/json" else body.encode()
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                status, raw = r.status, r.read().decode()
                ctype_back = r.headers.get("content-type", "")
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read().decode()
            ctype_back = e.headers.get("content-type", "")
        if "json" in ctype_back and raw:
            return status, json.loads(raw)
        return status, raw

    def ok(self, method, path, key, body=None, ctype="application/json"):
        status, data = self.api(method, path, key, body, ctype)
        if status // 100 != 2:
            raise Failure(f"{method} {path}: {status} {data}")
        return data

    def openapi_paths(self):
        with urllib.request.urlopen(self.url + "/openapi.json", timeout=10) as r:
            return set(json.loads(r.read())["paths"].keys())


# ----------------------------------------------------------------------------------------
# Kamailio


class Kamailio:
    def __init__(self, run, engine_url, key):
        self.run = run
        self.bridge_side = free_port()
        self.pstn_side = free_port()
        self.gateway_port = free_port()
        self.bridge_port = free_port()
        self.engine_url = engine_url
        self.key = key
        self.rundir = os.path.join(run.dir, "kamailio-run")
        os.makedirs(self.rundir, exist_ok=True)
        self.proc = None

    def defines(self):
        return {
            "LISTEN_IP": LOOPBACK,
            "BRIDGE_SIDE_PORT": str(self.bridge_side),
            "PSTN_SIDE_PORT": str(self.pstn_side),
            "BRIDGE_PORT": f'"{self.bridge_port}"',
            "GATEWAY_PORT": f'"{self.gateway_port}"',
            "MINUTELY_URL": f'"{self.engine_url}"',
            "EDGE_KEY": f'"{self.key}"',
            # a toll dial-in let through while the engine is down is cut after 3 s, not 1800
            "FAIL_OPEN_CAP_S": str(FAIL_OPEN_CAP_S),
        }

    def start(self):
        argv = [shutil.which("kamailio") or "/usr/sbin/kamailio", "-f", CFG, "-DD", "-E",
                "-P", os.path.join(self.rundir, "kamailio.pid"), "-Y", self.rundir,
                "-m", "64", "-M", "16"]
        for name, value in self.defines().items():
            argv += ["-A", f"{name}={value}"]
        self.proc = Proc(self.run, "kamailio", argv)
        wait_until("Kamailio to answer OPTIONS", lambda: self._options_ok() or self._check_alive(), 20, 0.2)

    def _check_alive(self):
        if not self.proc.alive():
            raise Failure(f"kamailio exited:\n{self.proc.text('err')[-3000:]}")
        return False

    def _options_ok(self):
        msg = (
            f"OPTIONS sip:ping@{LOOPBACK}:{self.bridge_side} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {LOOPBACK}:9;branch=z9hG4bK-{time.time_ns()}\r\n"
            f"From: <sip:test@{LOOPBACK}>;tag=t1\r\nTo: <sip:ping@{LOOPBACK}>\r\n"
            f"Call-ID: ping-{time.time_ns()}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((LOOPBACK, 0))
            s.settimeout(0.3)
            # the Via names port 9: the answer goes to the source port only with rport; use it
            msg = msg.replace(";branch=", ";rport;branch=")
            s.sendto(msg.encode(), (LOOPBACK, self.bridge_side))
            try:
                data, _ = s.recvfrom(65535)
            except (socket.timeout, ConnectionRefusedError):
                return False
        return data.startswith(b"SIP/2.0 200")

    def log(self):
        return self.proc.text("err")

    def acc_lines(self):
        """The acc records in the log: transactions ("ACC: transaction ...") and CDRs
        (log_write_cdr(): start_time=...; ...)."""
        return [l for l in self.log().splitlines() if "ACC:" in l or "log_write_cdr()" in l]


# ----------------------------------------------------------------------------------------
# sipp


class Sipp:
    """One sipp instance running a scenario file; its <log> lines go to a file."""

    counter = 0

    def __init__(self, run, name, scenario, *, remote=None, port=None, inf_lines=None,
                 duration_ms=1000, calls=None, rate=None, cid=None, extra=()):
        Sipp.counter += 1
        self.run = run
        self.name = name
        self.port = port or free_port()
        self.log_path = os.path.join(run.dir, f"{name}.log")
        argv = ["sipp"]
        if remote:
            argv.append(remote)
        argv += ["-sf", os.path.join(SCENARIOS, scenario), "-i", LOOPBACK, "-p", str(self.port),
                 "-t", "u1", "-nostdin", "-trace_logs", "-log_file", self.log_path,
                 "-trace_err", "-error_file", os.path.join(run.dir, f"{name}.errors"),
                 "-d", str(duration_ms), "-mi", LOOPBACK, "-mp", str(free_port()), "-nd"]
        if inf_lines is not None:
            inf = os.path.join(run.dir, f"{name}.csv")
            with open(inf, "w") as f:
                f.write("SEQUENTIAL\n")
                for line in inf_lines:
                    f.write(line + "\n")
            argv += ["-inf", inf]
        if calls is not None:
            argv += ["-m", str(calls), "-l", str(calls)]
        if rate is not None:
            argv += ["-r", str(rate), "-rp", "1000"]
        if cid:
            argv += ["-cid_str", cid]
        argv += list(extra)
        self.proc = Proc(run, name, argv)

    def wait(self, timeout):
        return self.proc.wait(timeout)

    def lines(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return [l.strip() for l in f if l.strip()]
        except FileNotFoundError:
            return []

    def events(self, kind):
        """{call_id: [fields...]} of the log lines starting with kind."""
        out = {}
        for line in self.lines():
            parts = line.split()
            if parts and parts[0] == kind and len(parts) > 1:
                out[parts[1]] = parts[2:]
        return out
