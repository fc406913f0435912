"""The scenarios of the SIP edge test, each checked through the engine's API."""

import datetime
import os
import threading
import time
from decimal import Decimal

from harness import Engine, FAIL_OPEN_CAP_S, Failure, Kamailio, LOOPBACK, Sipp, wait_until

WINDOW_S = 4
GRACE_S = 2
RING_MS = 2000

TITLES = {
    1: "an allowed dial-out is charged its answered duration, ring time excluded",
    2: "refused dial-outs: 402 for credit, 403 for policy, X-Minutely-Reason, nothing charged",
    3: "a call longer than the credit is cut at the granted limit and charged exactly that",
    4: "a call extended across at least three windows is charged its duration",
    5: "engine killed mid-call: BYE at the last granted deadline, reconciliation settles once",
    6: "32 concurrent calls on a thin wallet never overspend; the ledger adds up (C24)",
    7: "the edge key reads no wallet and changes nothing, but authorizes for any tenant",
    8: "X-Minutely-* headers never reach the PSTN side",
    9: "dial-in: a toll-free number with the organizer on the 200 OK is charged; unknown number 404",
    10: "dial-in refused at the answer (toll_free_disabled, organizer_not_enabled): both legs get BYE at once, "
        "the refusal is recorded, nothing is charged",
    11: "engine down: toll-free dial-in and unseen toll number 503, a seen toll number fails open to the cap; "
        "reconcile leaves it, the bridge's record charges it once",
    12: "calls whose end was lost in the outage: reconcile settles them once, a late end report returns the first result",
}

ORGANIZER = "chloe.bernard@sipco.example"
NO_DIAL_OUT = "paul.nodial@sipco.example"
NO_TOLL_FREE = "nina.notollfree@sipco.example"   # licensed, toll_free_dial_in = false (C18)
GHOST = "ghost.unknown@sipco.example"            # no such user in the tenant (C18, C30)
FRANCE = "+33144556677"          # 0.60 EUR/min, per second: 0.01 EUR a second
EXPENSIVE = "+33972000000"       # 600 EUR/min: 10 EUR a second
LONDON = "+442071234567"         # 60 EUR/min: 1 EUR a second
CALLER = "+33612345678"
TOLL_FREE = "+33805980000"       # sipco's toll-free number (0.60 EUR/min, per second)
TOLL = "+33186950000"            # sipco's toll number (0.0242 EUR/min, per minute)
TOLL_UNSEEN = "+33186950001"     # sipco's second toll number: no call ever dials it while the engine is up
UNKNOWN_NUMBER = "+33199000000"


def tenant_toml(tenant, numbers=False):
    text = f'''id = "{tenant}"
name = "SIP test {tenant}"
country = "FR"
currency = "EUR"
timezone = "Europe/Paris"
agreement = "volume_licensing"
default_dial_out_policy = "Global"

[licenses]
MCOMEETACPEA = 5

[wallet]
low_balance_thresholds = [25]

[wallet.auto_recharge]
enabled = false
trigger = 50
amount = 100
payment_accepted = true

[[users]]
upn = "{ORGANIZER}"
display_name = "Chloe Bernard"
licenses = ["MCOMEETACPEA"]
toll_free_dial_in = true

[[users]]
upn = "{NO_DIAL_OUT}"
display_name = "Paul Nodial"
licenses = ["MCOMEETACPEA"]
dial_out_policy = "DialoutCPCDisabledPSTNDomestic"

[[users]]
upn = "{NO_TOLL_FREE}"
display_name = "Nina Notollfree"
licenses = ["MCOMEETACPEA"]
toll_free_dial_in = false
'''
    if numbers:
        text += '''
[[numbers]]
number = "+33 805 98 00 00"
kind = "toll_free"

[[numbers]]
number = "+33 1 86 95 00 00"
kind = "toll"

[[numbers]]
number = "+33 1 86 95 00 01"
kind = "toll"
'''
    return text


def rate_card(tools):
    import subprocess
    csv = subprocess.run([tools, "gen", "rates", "--currency", "EUR"], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    out = []
    effective = None
    for line in csv.splitlines():
        f = line.split(",")
        if len(f) == 11 and f[0] == "dial_out" and f[1] == "+33":
            f[6], f[7], f[8], f[9] = "0.6000", "0", "1", "1"
            effective = f[10]
        if len(f) == 11 and f[0] == "dial_in_toll_free" and f[1] == "FR" and f[2] == "*":
            f[6], f[7], f[8], f[9] = "0.6000", "0", "1", "1"
        out.append(",".join(f))
    out.append(f"dial_out,+339,,France VoIP (test),FR,false,600.0000,0,1,1,{effective}")
    out.append(f"dial_out,+4420,,London (test),GB,false,60.0000,0,1,1,{effective}")
    return "\n".join(out) + "\n"


def money(s):
    return Decimal(str(s))


class Context:
    def __init__(self, run, binary):
        self.run = run
        self.binary = binary
        self.engine = None
        self.kam = None
        self.gw = None
        self.results = {}
        self.lines = []
        self.bridge_uas = None
        self._outage = None

    # ------------------------------------------------------------------------------------
    def say(self, text):
        print(f"    {text}", flush=True)

    def setup(self):
        t0 = time.monotonic()
        e = self.engine = Engine(self.run, self.binary, WINDOW_S, GRACE_S)
        e.start()
        self.op, out = e.create_key("operator", label="sip-test operator")
        if not self.op:
            raise Failure(f"keys create --kind operator: {out}")
        e.wait_key(self.op, "/v1/tenants")
        self.paths = e.openapi_paths()
        self.has_answer = "/v1/tenants/{tenant}/calls/{call_id}/answer" in self.paths
        self.has_edge_numbers = any(p.startswith("/v1/edge/numbers") for p in self.paths)
        self.has_edge_authorize = any(p.startswith("/v1/edge/calls") for p in self.paths)
        self.has_reconcile = "/v1/edge/reconcile" in self.paths
        e.ok("POST", "/v1/rate-cards/EUR", self.op, rate_card(e.tools), "text/csv")
        for tenant in ("sipco", "sipdry", "sipcut", "sipthin"):
            e.ok("PUT", f"/v1/tenants/{tenant}/file", self.op, tenant_toml(tenant, numbers=tenant == "sipco"),
                 "application/toml")
        for tenant, amount in (("sipco", "1000"), ("sipcut", "50"), ("sipthin", "50")):
            e.ok("POST", f"/v1/tenants/{tenant}/wallet/fundings", self.op,
                 {"amount": amount, "reference": f"sip-test-{tenant}"})
        self.edge, out = e.create_key("edge", label="proxy")
        self.edge_kind = "edge"
        if not self.edge:
            # the engine predates the `edge` kind: the proxy runs on an operator key meanwhile
            self.edge, out = e.create_key("operator", label="proxy (until the edge kind exists)")
            self.edge_kind = "operator"
        e.wait_key(self.edge, "/v1/tenants/sipco/calls/none/explain")
        self.kam = Kamailio(self.run, e.url, self.edge)
        self.kam.start()
        self.gw = Sipp(self.run, "gateway", "gateway_uas.xml", port=self.kam.gateway_port, duration_ms=RING_MS)
        time.sleep(0.3)
        if not self.gw.proc.alive():
            raise Failure(f"the gateway sipp exited: {self.gw.proc.text()[-1500:]} {self.gw.proc.text('err')[-1500:]}")
        print(f"sip: engine {e.url} (window {WINDOW_S} s, grace {GRACE_S} s), proxy key kind {self.edge_kind}; "
              f"kamailio bridge side :{self.kam.bridge_side}, PSTN side :{self.kam.pstn_side}; "
              f"gateway :{self.kam.gateway_port}, bridge :{self.kam.bridge_port} "
              f"(set up in {time.monotonic() - t0:.1f} s)")
        missing = [name for name, has in (("/answer", self.has_answer), ("/v1/edge/numbers", self.has_edge_numbers),
                                          ("/v1/edge/calls", self.has_edge_authorize),
                                          ("/v1/edge/reconcile", self.has_reconcile),
                                          ("the edge key kind", self.edge_kind == "edge")) if not has]
        if missing:
            print(f"sip: this engine lacks {', '.join(missing)}: the scenarios that need them wait for it")

    def run_all(self, only):
        order = [1, 2, 3, 4, 5, 6, 7, 9, 8, 10, 11, 12]
        for n in order:
            if only and n not in only:
                continue
            print(f"\n{n}. {TITLES[n]}", flush=True)
            t0 = time.monotonic()
            try:
                result = getattr(self, f"s{n}")()
                self.results[n] = result or "pass"
            except Failure as e:
                self.say(f"FAIL: {e}")
                self.results[n] = "FAIL"
            except Exception as e:  # a bug in the test is a failure too
                self.say(f"FAIL: {type(e).__name__}: {e}")
                self.results[n] = "FAIL"
            self.say(f"({self.results[n]}, {time.monotonic() - t0:.1f} s)")
        return self.results

    # ------------------------------------------------------------------------------------
    # helpers

    def dialout(self, name, calls, *, cut=False, talk_ms=1000, rate=None, timeout=60):
        """Runs the bridge UAC for the given calls [(tenant, organizer, destination)]; waits."""
        lines = [f"{t};{o};conf-{name};{d};{CALLER}" for (t, o, d) in calls]
        uac = Sipp(self.run, f"bridge-{name}", "bridge_dialout_cut.xml" if cut else "bridge_dialout.xml",
                   remote=f"{LOOPBACK}:{self.kam.bridge_side}", inf_lines=lines, duration_ms=talk_ms,
                   calls=len(calls), rate=rate or 10, cid=f"{name}x%u@sip.test")
        return uac

    def start_bridge(self, name, lines, ring_ms=1000):
        """The bridge answering dial-ins (bridge_uas.xml) on the port the proxy sends them to,
        answering with the -inf lines organizer;conference in turn; the previous one is stopped
        by its pid first (one port)."""
        if self.bridge_uas is not None:
            self.bridge_uas.proc.stop()
        self.bridge_uas = Sipp(self.run, name, "bridge_uas.xml", port=self.kam.bridge_port,
                               duration_ms=ring_ms, inf_lines=lines)
        time.sleep(0.3)
        if not self.bridge_uas.proc.alive():
            raise Failure(f"the bridge sipp {name} exited: {self.bridge_uas.proc.text('err')[-1500:]}")
        return self.bridge_uas

    def dialin(self, name, numbers, *, cut=False, talk_ms=1000, rate=1):
        """The gateway dials the service numbers given (one call each, caller CALLER); with cut,
        it waits for the proxy's BYE instead of hanging up (gateway_dialin_cut.xml)."""
        return Sipp(self.run, f"gateway-{name}", "gateway_dialin_cut.xml" if cut else "gateway_dialin.xml",
                    remote=f"{LOOPBACK}:{self.kam.pstn_side}", inf_lines=[f"{n};{CALLER}" for n in numbers],
                    duration_ms=talk_ms, calls=len(numbers), rate=rate, cid=f"{name}x%u@sip.test")

    def acc_answer(self, call_id):
        """The proxy's acc record of the INVITE's final answer, as {field: value}."""
        for line in self.kam.acc_lines():
            if "ACC: transaction answered:" in line and f";call_id={call_id};" in line:
                body = line.split("ACC: transaction answered:", 1)[1].strip()
                return dict(f.split("=", 1) for f in body.split(";") if "=" in f)
        return None

    def acc_cdr(self, call_id):
        """The dialog's CDR written by acc, as {field: value}."""
        for line in self.kam.acc_lines():
            if "log_write_cdr()" in line and f"call_id={call_id};" in line:
                body = line.split("log_write_cdr():", 1)[1].strip()
                return dict(f.strip().split("=", 1) for f in body.split(";") if "=" in f)
        return None

    def refused_report(self, tenant):
        today = datetime.datetime.now(datetime.timezone.utc).date()
        span = f"from={today - datetime.timedelta(days=1)}&to={today + datetime.timedelta(days=1)}"
        data = self.engine.ok("GET", f"/v1/tenants/{tenant}/reports/refused?{span}&limit=1000", self.op)
        return {c["record"]["call_id"]: c for c in data["calls"]}

    def explain(self, tenant, call_id):
        status, data = self.engine.api("GET", f"/v1/tenants/{tenant}/calls/{call_id}/explain", self.op)
        return status, data

    def charge_of(self, tenant, call_id):
        status, data = self.explain(tenant, call_id)
        if status != 200:
            return None
        return data.get("charge")

    def wait_charged(self, tenant, call_id, timeout=10):
        return wait_until(f"{call_id} to be charged", lambda: self.charge_of(tenant, call_id), timeout, 0.2)

    def gateway_events(self, call_id):
        """{event: clock tick in ms} of a call at the gateway: INVITE, ACK (the answer), BYE."""
        ev = {}
        for line in self.gw.lines():
            parts = line.split()
            if len(parts) >= 3 and parts[1] == call_id:
                ev.setdefault(parts[0], int(parts[2]))
        return ev

    def wallet(self, tenant):
        return self.engine.ok("GET", f"/v1/tenants/{tenant}/wallet", self.op)

    def debits_for(self, tenant, call_id):
        ledger = self.engine.ok("GET", f"/v1/tenants/{tenant}/wallet/ledger?limit=1000", self.op)
        return [e for e in ledger["entries"] if e.get("call_id") == call_id]

    def expect(self, cond, text):
        if not cond:
            raise Failure(text)
        self.say(f"ok: {text}")

    # ------------------------------------------------------------------------------------
    # scenarios

    def s1(self):
        cid = "s1x1@sip.test"
        before = money(self.wallet("sipco")["balance"])
        uac = self.dialout("s1", [("sipco", ORGANIZER, FRANCE)], talk_ms=3000)
        code = uac.wait(30)
        self.expect(code == 0, f"the bridge's call completed (sipp exit {code})")
        ev = self.gateway_events(cid)
        ring = ev["ACK"] - ev["INVITE"]
        talk = ev["BYE"] - ev["ACK"]
        self.say(f"gateway saw: rang {ring} ms, then {talk} ms from the answer (its ACK) to the BYE")
        charge = self.wait_charged("sipco", cid)
        self.expect(charge["duration_s"] == talk // 1000 == 3,
                    f"charged duration {charge['duration_s']} s = the answered {talk} ms rounded down (ring of {ring} ms excluded)")
        self.expect(money(charge["amount"]) == Decimal("0.03"), f"amount {charge['amount']} EUR = 3 s at 0.60 EUR/min")
        after = money(self.wallet("sipco")["balance"])
        self.expect(before - after == Decimal("0.03"), f"the wallet went from {before} to {after}")

    def s2(self):
        calls = [("sipdry", ORGANIZER, FRANCE), ("sipco", NO_DIAL_OUT, FRANCE),
                 ("nosuchtenant", ORGANIZER, FRANCE)]
        before = {t: money(self.wallet(t)["balance"]) for t in ("sipdry", "sipco")}
        uac = self.dialout("s2", calls)
        code = uac.wait(20)
        refused = uac.events("REFUSED")
        got1 = refused.get("s2x1@sip.test")
        got2 = refused.get("s2x2@sip.test")
        self.expect(got1 is not None and got1[0] == "402" and got1[1] == "insufficient_credits",
                    f"an empty wallet's call got {got1 and ' '.join(got1[:2])} (402 insufficient_credits)")
        self.expect(got2 is not None and got2[0] == "403" and got2[1] == "policy_disabled",
                    f"a dial-out-disabled organizer's call got {got2 and ' '.join(got2[:2])} (403 policy_disabled)")
        got3 = refused.get("s2x3@sip.test")
        self.expect(got3 is not None and got3[0] == "403" and got3[1] == "unknown_tenant",
                    f"a dial-out naming no known tenant got {got3 and ' '.join(got3[:2])} (403 unknown_tenant, not 503)")
        for cid in ("s2x1@sip.test", "s2x2@sip.test", "s2x3@sip.test"):
            self.expect(cid not in {l.split()[1] for l in self.gw.lines() if l.startswith("INVITE")},
                        f"{cid} never reached the gateway")
        for t, cid in (("sipdry", "s2x1@sip.test"), ("sipco", "s2x2@sip.test")):
            self.expect(not self.debits_for(t, cid), f"no ledger entry for {cid}")
            after = money(self.wallet(t)["balance"])
            self.expect(after == before[t], f"{t}'s balance unchanged ({after})")

    def s3(self):
        cid = "s3x1@sip.test"
        uac = self.dialout("s3", [("sipcut", ORGANIZER, EXPENSIVE)], cut=True)
        code = uac.wait(40)
        self.expect(code == 0, f"the bridge's call was ended by the proxy (sipp exit {code})")
        ev = self.gateway_events(cid)
        talk = ev["BYE"] - ev["ACK"]
        charge = self.wait_charged("sipcut", cid)
        granted = 5  # 50 EUR at 10 EUR/s
        self.expect(granted * 1000 <= talk < granted * 1000 + 1000,
                    f"the gateway got the BYE {talk} ms after its answer (grant {granted} s: within 1 s of it)")
        self.expect(charge["duration_s"] == granted, f"charged {charge['duration_s']} s, the granted limit")
        self.expect(money(charge["amount"]) == Decimal("50.00"), f"amount {charge['amount']} EUR (the whole wallet)")
        w = self.wallet("sipcut")
        self.expect(money(w["balance"]) == 0 and money(w["reserved"]) == 0, f"balance {w['balance']}, reserved {w['reserved']}")

    def s4(self):
        cid = "s4x1@sip.test"
        uac = self.dialout("s4", [("sipco", ORGANIZER, FRANCE)], talk_ms=13000)
        code = uac.wait(40)
        self.expect(code == 0, f"the bridge hung up after 13 s (sipp exit {code})")
        ev = self.gateway_events(cid)
        talk = ev["BYE"] - ev["ACK"]
        extends = [l for l in self.kam.log().splitlines() if "MINUTELY extend call=" + cid in l and "extended=true" in l]
        self.expect(len(extends) >= 3, f"{len(extends)} extensions granted (windows of {WINDOW_S} s): "
                    + ", ".join(l.split("max_duration_s=")[1].split()[0] for l in extends))
        charge = self.wait_charged("sipco", cid)
        self.expect(charge["duration_s"] == talk // 1000 == 13, f"charged {charge['duration_s']} s for {talk} ms answered")

    def s5(self):
        cid = "s5x1@sip.test"
        uac = self.dialout("s5", [("sipco", ORGANIZER, FRANCE)], cut=True)
        wait_until("the answer", lambda: "s5x1@sip.test" in uac.events("ANSWERED"), 15)
        time.sleep(0.5)
        self.engine.kill9()
        self.say(f"engine killed (SIGKILL, pid {self.engine.proc.pid}) 0.5 s after the answer")
        try:
            self.s5_engine_down(uac, cid)
        finally:
            self.engine.start()
            self.say("engine restarted on the same store")
        if not self.has_reconcile:
            return "waits for the engine (/v1/edge/reconcile)"
        self.s5_reconcile(cid)

    def s5_engine_down(self, uac, cid):
        code = uac.wait(30)
        self.expect(code == 0, f"the call was cut by the proxy with the engine down (sipp exit {code})")
        ev = self.gateway_events(cid)
        talk = ev["BYE"] - ev["ACK"]
        self.expect(WINDOW_S * 1000 <= talk < WINDOW_S * 1000 + 1000,
                    f"BYE {talk} ms after the answer: at the last granted deadline ({WINDOW_S} s)")
        log = self.kam.log()
        self.expect(f"end not recorded call={cid}" in log, "the proxy could not report the end (logged)")
        cdrs = [l for l in self.kam.acc_lines() if f"call_id={cid};" in l and "duration=" in l]
        self.expect(len(cdrs) >= 1, f"the proxy's acc has the call's CDR: {cdrs[0].split('log_write_cdr(): ')[1] if cdrs else None}")
        cdr_duration = float(cdrs[0].split("duration=")[1].split(";")[0])
        self.expect(WINDOW_S <= cdr_duration < WINDOW_S + 1, f"the CDR's duration {cdr_duration} s is the call's")
        uac2 = self.dialout("s5b", [("sipco", ORGANIZER, FRANCE)])
        uac2.wait(20)
        got = uac2.events("REFUSED").get("s5bx1@sip.test")
        self.expect(got is not None and got[0] == "503" and got[1].startswith("retry-after=") and got[1] != "retry-after=",
                    f"a new dial-out while the engine is down fails closed: {got and ' '.join(got[:2])}")
        self.expect(not self.gateway_events("s5bx1@sip.test"), "and never reaches the gateway")

    def s5_reconcile(self, cid):
        acc = "\n".join(self.kam.acc_lines()) + "\n"
        r1 = self.engine.ok("POST", "/v1/edge/reconcile", self.op, {"kamailio_acc": acc})
        self.say(f"first reconcile: settled {r1.get('settled')}, already settled {r1.get('already_settled')}, "
                 f"not found {r1.get('not_found')}")
        r2 = self.engine.ok("POST", "/v1/edge/reconcile", self.op, {"kamailio_acc": acc})
        self.say(f"second reconcile: settled {r2.get('settled')}, already settled {r2.get('already_settled')}")
        mine = [i for i in r1.get("items", []) if i.get("call_id") == cid]
        self.expect(mine and mine[0].get("action") == "settled" and mine[0].get("duration_s") == WINDOW_S,
                    f"the first reconcile settled {cid} at {mine and mine[0].get('duration_s')} s ({mine and mine[0].get('why')})")
        self.expect(r2.get("settled") == 0, "the second reconcile settled nothing more")
        charge = self.wait_charged("sipco", cid)
        self.expect(charge["duration_s"] == WINDOW_S, f"charged {charge['duration_s']} s")
        self.expect(len(self.debits_for("sipco", cid)) == 1, "one debit for the call")

    def s6(self):
        try:
            self.s6_run()
        except Failure as e:
            if self.has_answer:
                raise
            self.say(f"not yet: {e}")
            return ("waits for the engine (/answer): without it a grant counts from the authorization, "
                    "so the ring time eats the grace and holds lapse while their calls still run")

    def s6_run(self):
        tenant = "sipthin"
        n = 32
        funded = money(self.wallet(tenant)["balance"])
        samples = []
        stop = threading.Event()

        def poll():
            while not stop.is_set():
                try:
                    samples.append(self.wallet(tenant))
                except Exception:
                    pass
                time.sleep(0.15)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        uac = self.dialout("s6", [(tenant, ORGANIZER, LONDON)] * n, cut=True, rate=n)
        try:
            uac.wait(60)
        finally:
            stop.set()
            poller.join(5)
        refused = uac.events("REFUSED")
        answered = uac.events("ANSWERED")
        cut = uac.events("CUT")
        self.say(f"{len(answered)} answered and cut ({len(cut)}), {len(refused)} refused "
                 f"({', '.join(sorted({' '.join(v[:2]) for v in refused.values()}))})")
        self.expect(len(answered) + len(refused) == n, f"all {n} calls were answered or refused")
        self.expect(all(v[0] == "402" for v in refused.values()), "every refusal is 402 insufficient_credits")
        self.expect(0 < len(answered) < n, "the wallet covered only some of the calls")
        gw_byes = {l.split()[1] for l in self.gw.lines() if l.startswith("BYE s6x")}
        self.expect(set(cut) == set(answered) and gw_byes == set(answered),
                    f"every answered call was cut on both legs: BYE at the bridge for {len(cut)}, at the gateway for {len(gw_byes)}")
        charges = {}
        for cid in answered:
            charges[cid] = self.wait_charged(tenant, cid)
        spent = sum(money(c["amount"]) for c in charges.values())
        seconds = sum(c["duration_s"] for c in charges.values())
        self.expect(spent == Decimal(seconds), f"charged {spent} EUR for {seconds} s at 1 EUR/s")
        low_avail = min(money(s["available"]) for s in samples) if samples else None
        low_bal = min(money(s["balance"]) for s in samples) if samples else None
        over = [s for s in samples if money(s["reserved"]) > money(s["balance"])]
        self.expect(samples and low_avail >= 0 and not over,
                    f"{len(samples)} wallet samples: available never below 0 (lowest {low_avail}), "
                    f"reservations never above the balance")
        w = self.wallet(tenant)
        self.expect(money(w["balance"]) == funded - spent and money(w["balance"]) >= 0,
                    f"final balance {w['balance']} = {funded} - {spent}, not below zero (lowest seen {low_bal}; "
                    f"C13 allows debt only from calls in progress, and every call stopped at its grant)")
        self.expect(money(w["reserved"]) == 0, "no reservation left")
        self.check_c24(tenant)

    def check_c24(self, tenant):
        """C24 from the ledger: what the lots were funded with, minus debits, minus forfeits, is
        the balance; the live lots hold the balance; the ledger's running balance ends there."""
        ledger = self.engine.ok("GET", f"/v1/tenants/{tenant}/wallet/ledger?limit=1000", self.op)
        lots = self.engine.ok("GET", f"/v1/tenants/{tenant}/wallet/lots?limit=1000", self.op)
        w = self.wallet(tenant)
        entries = ledger["entries"]
        funded = sum(money(e["delta"]) for e in entries
                     if e["kind"] not in ("debit", "forfeit") and money(e["delta"]) > 0)
        debits = sum(money(e["amount"]) for e in entries if e["kind"] == "debit")
        forfeits = sum(money(e["amount"]) for e in entries if e["kind"] == "forfeit")
        balance = money(w["balance"])
        self.expect(funded - debits - forfeits == balance,
                    f"C24: lots funded {funded} - debits {debits} - forfeits {forfeits} = balance {balance} "
                    f"({len(entries)} ledger entries)")
        self.expect(money(entries[-1]["balance_after"]) == balance and money(lots["live_total"]) == max(balance, 0),
                    f"the ledger's running balance ends at {entries[-1]['balance_after']}, the live lots hold {lots['live_total']}")

    def s7(self):
        if self.edge_kind != "edge":
            return "waits for the engine (the edge key kind)"
        e = self.engine
        k = self.edge
        for method, path, body, ctype in (
            ("GET", "/v1/tenants/sipco/wallet", None, None),
            ("GET", "/v1/tenants/sipco/wallet/ledger", None, None),
            ("GET", "/v1/tenants", None, None),
            ("POST", "/v1/tenants/sipco/wallet/fundings", {"amount": "50", "reference": "edge-try"}, "application/json"),
            ("PUT", "/v1/tenants/sipco/file", tenant_toml("sipco"), "application/toml"),
            ("POST", "/v1/keys", {"kind": "operator", "label": "edge-try"}, "application/json"),
        ):
            status, _ = e.api(method, path, k, body, ctype or "application/json")
            self.expect(status == 403, f"edge key: {method} {path} -> {status}")
        for tenant in ("sipco", "sipthin", "sipdry"):
            cid = f"s7-{tenant}"
            status, data = e.api("POST", f"/v1/tenants/{tenant}/calls/{cid}/authorize", k, {
                "conference_id": "c7", "organizer": ORGANIZER, "direction": "dial_out",
                "caller_number": CALLER, "destination_number": FRANCE})
            self.expect(status == 200 and data.get("decision") in ("allow", "deny"),
                        f"edge key: authorize for {tenant} -> {status} {data.get('decision')} {data.get('reason') or ''}")
            if data.get("decision") == "allow":
                e.api("POST", f"/v1/tenants/{tenant}/calls/{cid}/end", k, {"duration_s": 0})

    def s8(self):
        invites = [l for l in self.gw.lines() if l.startswith(("INVITE", "ACK", "BYE"))]
        leaked = [l for l in invites if not l.rstrip().endswith("xmin=")]
        self.expect(len(invites) > 0 and not leaked,
                    f"the gateway received {sum(1 for l in invites if l.startswith('INVITE'))} INVITEs and their ACKs/BYEs, "
                    f"none with an X-Minutely-* header{': ' + leaked[0] if leaked else ''}")
        if getattr(self, "dialin_uac", None):
            answers = [l for l in self.dialin_uac.lines() if l.startswith("ANSWERED")]
            leaked = [l for l in answers if not l.rstrip().endswith("xmin=")]
            self.expect(not leaked, f"the dial-in answers reaching the gateway carry no X-Minutely-* header ({len(answers)} seen)")
            spoof = [l for l in self.bridge_uas.lines() if l.startswith("INVITE") and not l.rstrip().endswith("spoof=")]
            self.expect(not spoof, "an X-Minutely-Organizer sent from the PSTN side never reaches the bridge")

    def s9(self):
        if not (self.has_edge_numbers and self.has_edge_authorize):
            return "waits for the engine (/v1/edge/numbers, /v1/edge/calls)"
        self.start_bridge("bridge-uas", [f"{ORGANIZER};conf-s9"])
        uac = self.dialin_uac = Sipp(self.run, "gateway-s9", "gateway_dialin.xml",
                                     remote=f"{LOOPBACK}:{self.kam.pstn_side}",
                                     inf_lines=[f"{TOLL_FREE};{CALLER}", f"{UNKNOWN_NUMBER};{CALLER}"],
                                     duration_ms=3000, calls=2, rate=1, cid="s9x%u@sip.test")
        uac.wait(30)
        refused = uac.events("REFUSED")
        self.expect(refused.get("s9x2@sip.test", [None])[0] == "404", f"the unknown number got {refused.get('s9x2@sip.test')}")
        self.expect(self.acc_answer("s9x2@sip.test") is None,
                    "its 404 has no acc record (no tenant: one would make the engine refuse the whole acc log)")
        inv = self.bridge_uas.events("INVITE").get("s9x1@sip.test")
        self.expect(inv is not None and "tenant=sipco" in inv and "kind=toll_free" in inv,
                    f"the bridge got the dial-in with {inv and ' '.join(inv[1:3])}")
        answered = uac.events("ANSWERED")
        self.expect("s9x1@sip.test" in answered, "the toll-free call was answered")
        cid = "s9x1@sip.test"
        charge = self.wait_charged("sipco", cid)
        self.expect(charge["category"].startswith("dial_in") and charge["duration_s"] == 3,
                    f"charged as {charge['category']} for {charge['duration_s']} s (talked 3 s after the answer)")

    def s10(self):
        if not (self.has_edge_numbers and self.has_edge_authorize):
            return "waits for the engine (/v1/edge/numbers, /v1/edge/calls)"
        tenant = "sipco"
        reasons = {NO_TOLL_FREE: "toll_free_disabled", GHOST: "organizer_not_enabled"}
        before = money(self.wallet(tenant)["balance"])
        bridge = self.start_bridge("bridge-s10", [f"{NO_TOLL_FREE};conf-s10", f"{GHOST};conf-s10"])
        uac = self.dialin("s10", [TOLL_FREE, TOLL_FREE], cut=True)
        code = uac.wait(30)
        self.expect(code == 0, f"both toll-free dial-ins were answered, then ended by the proxy (sipp exit {code})")
        answered, cut = uac.events("ANSWERED"), uac.events("CUT")
        b_answer, b_bye = bridge.events("ANSWER"), bridge.events("BYE")
        report = self.refused_report(tenant)
        for cid in ("s10x1@sip.test", "s10x2@sip.test"):
            organizer = b_answer[cid][1].split("=", 1)[1] if cid in b_answer else None
            reason = reasons.get(organizer)
            self.say(f"{cid}: the bridge answered with X-Minutely-Organizer: {organizer}")
            self.expect(cid in answered and cid in cut,
                        f"the gateway got the 200 OK (the proxy forwards it) and then a BYE from the proxy")
            gw_ms = int(cut[cid][0]) - int(answered[cid][0])
            self.expect(gw_ms < 1000, f"the gateway's BYE came {gw_ms} ms after its 200 OK (at once: under 1 s)")
            self.expect(cid in b_bye, "the bridge got a BYE from the proxy too")
            br_ms = int(b_bye[cid][0]) - int(b_answer[cid][0])
            self.expect(br_ms < 1000, f"the bridge's BYE came {br_ms} ms after its ACK (under 1 s)")
            leaked = [f for f in (answered[cid][1], cut[cid][1]) if f != "xmin="]
            self.expect(not leaked, f"no X-Minutely-* header on the 200 OK or the BYE at the gateway{': ' + leaked[0] if leaked else ''}")
            acc = self.acc_answer(cid) or {}
            self.expect(acc.get("code") == "200" and acc.get("mt_mode") == "refused",
                        f"the proxy's acc record: code={acc.get('code')} mt_mode={acc.get('mt_mode')}")
            status, ex = self.explain(tenant, cid)
            self.expect(status == 200 and ex.get("status") == "refused" and ex.get("reason") == reason and not ex.get("charge"),
                        f"the engine's outcome of the call: {status} {ex.get('status')} {ex.get('reason')} "
                        f"({ex.get('rule')}), no charge (expected {reason})")
            got = report.get(cid)
            self.expect(got is not None and got["reason"] == reason,
                        f"the refused-calls report lists it: {got and got['reason']} ({got and got['rule']})")
            self.expect(not self.debits_for(tenant, cid), "no ledger entry for it")
        after = money(self.wallet(tenant)["balance"])
        self.expect(after == before, f"{tenant}'s balance unchanged ({after})")

    # ------------------------------------------------------------------------------------
    # scenarios 11 and 12 share one engine outage

    def outage(self):
        """Kills the engine, makes the calls of scenarios 11 and 12, restarts it on the same
        store and reconciles the acc log once; runs once whichever of 11 and 12 asks first."""
        if self._outage is None:
            try:
                self._outage = self.run_outage()
            except Failure as e:
                self._outage = e
        if isinstance(self._outage, Failure):
            raise Failure(f"the engine outage (scenarios 11-12) failed: {self._outage}")
        return self._outage

    def run_outage(self):
        if not (self.has_edge_numbers and self.has_edge_authorize and self.has_reconcile):
            return None
        o = {}
        o["bridge_key"], out = self.engine.create_key("bridge", tenant="sipco", label="sip-test bridge")
        if not o["bridge_key"]:
            raise Failure(f"keys create --kind bridge: {out}")
        self.engine.wait_key(o["bridge_key"], "/v1/tenants/sipco/calls/none/explain")
        o["bridge"] = self.start_bridge("bridge-s11", [f"{ORGANIZER};conf-s11"])
        # engine up: a toll and a toll-free dial-in, authorized at the answer; the proxy sees both numbers
        o["up"] = up = self.dialin("s11", [TOLL, TOLL_FREE], talk_ms=3000, rate=4)
        wait_until("both calls answered", lambda: len(up.events("ANSWERED")) == 2 or (not up.proc.alive() and "exited"), 15)
        time.sleep(0.5)
        self.engine.kill9()
        self.say(f"outage: s11x1 (toll {TOLL}) and s11x2 (toll-free {TOLL_FREE}) answered and authorized; "
                 f"engine killed (SIGKILL, pid {self.engine.proc.pid}) 0.5 s later; they hang up 3 s after the answer")
        try:
            # engine down: the toll-free number (seen), a toll number never seen, the toll number seen
            o["down"] = down = self.dialin("s11y", [TOLL_FREE, TOLL_UNSEEN, TOLL], cut=True, rate=10)
            o["down_code"] = down.wait(30)
            o["up_code"] = up.wait(30)
            self.say(f"outage: s11yx1 (toll-free), s11yx2 (toll {TOLL_UNSEEN}, never seen), s11yx3 (toll {TOLL}, seen) "
                     f"dialled while the engine was down")
        finally:
            self.engine.start()
            self.say("outage over: engine restarted on the same store")
        o["acc"] = "\n".join(self.kam.acc_lines()) + "\n"
        o["reconcile"] = self.engine.ok("POST", "/v1/edge/reconcile", self.op, {"kamailio_acc": o["acc"]})
        o["items"] = {i["call_id"]: i for i in o["reconcile"].get("items", [])}
        r = o["reconcile"]
        self.say(f"outage: reconcile of the acc log: settled {r.get('settled')}, already settled {r.get('already_settled')}, "
                 f"not found {r.get('not_found')}, refused {r.get('refused')}")
        return o

    def s11(self):
        o = self.outage()
        if o is None:
            return "waits for the engine (/v1/edge/numbers, /v1/edge/calls, /v1/edge/reconcile)"
        tenant = "sipco"
        down, bridge = o["down"], o["bridge"]
        refused, answered, cut = down.events("REFUSED"), down.events("ANSWERED"), down.events("CUT")
        at_bridge = bridge.events("INVITE")
        self.expect(o["down_code"] == 0, f"the gateway's three calls completed (sipp exit {o['down_code']})")
        self.expect(f"MINUTELY number lookup failed number={TOLL_FREE}" in self.kam.log(),
                    "the proxy's number lookup failed while the engine was down (logged)")
        for cid, what in (("s11yx1@sip.test", f"a toll-free dial-in (to {TOLL_FREE}, looked up by s11x1 before)"),
                          ("s11yx2@sip.test", f"a toll dial-in to a number never looked up ({TOLL_UNSEEN})")):
            got = refused.get(cid)
            self.expect(got is not None and got[0] == "503" and got[1] not in ("retry-after=", "retry-after=[$ra]"),
                        f"{what} fails closed: {got and ' '.join(got[:2])}")
            self.expect(cid not in at_bridge, "and nothing reached the bridge")
        acc1, acc2 = self.acc_answer("s11yx1@sip.test") or {}, self.acc_answer("s11yx2@sip.test")
        self.expect(acc1.get("code") == "503" and acc1.get("mt_tenant") == "sipco",
                    f"the toll-free 503's acc record names its tenant from the last lookup: code={acc1.get('code')} "
                    f"mt_tenant={acc1.get('mt_tenant')}")
        self.expect(acc2 is None, "the unseen number's 503 has no acc record (no tenant to name)"
                    + (f": {acc2}" if acc2 else ""))
        cid = "s11yx3@sip.test"
        inv = at_bridge.get(cid)
        self.expect(inv is not None and "tenant=sipco" in inv and "kind=toll" in inv,
                    f"a toll dial-in to {TOLL} (looked up before) fails open: relayed to the bridge with "
                    f"{inv and ' '.join(inv[1:3])} (from the last lookup)")
        self.expect(cid in answered and cid in cut, "answered, then ended by the proxy")
        gw_ms = int(cut[cid][0]) - int(answered[cid][0])
        self.expect(FAIL_OPEN_CAP_S * 1000 <= gw_ms < FAIL_OPEN_CAP_S * 1000 + 1000,
                    f"the gateway got the BYE {gw_ms} ms after its 200 OK: at FAIL_OPEN_CAP_S ({FAIL_OPEN_CAP_S} s, "
                    f"passed with -A)")
        b_ans, b_bye = bridge.events("ANSWER"), bridge.events("BYE")
        br_ms = int(b_bye[cid][0]) - int(b_ans[cid][0]) if cid in b_bye and cid in b_ans else None
        self.expect(br_ms is not None and (FAIL_OPEN_CAP_S - 1) * 1000 < br_ms < FAIL_OPEN_CAP_S * 1000 + 1000,
                    f"the bridge got its BYE {br_ms} ms after its ACK")
        leaked = [f for f in (answered[cid][1], cut[cid][1]) if f != "xmin="]
        self.expect(not leaked, "no X-Minutely-* header on its 200 OK or BYE at the gateway")
        acc = self.acc_answer(cid) or {}
        self.expect(acc.get("code") == "200" and acc.get("mt_mode") == "fail_open" and acc.get("mt_direction") == "dial_in",
                    f"its acc record: code={acc.get('code')} mt_direction={acc.get('mt_direction')} mt_mode={acc.get('mt_mode')}")
        cdr = self.acc_cdr(cid)
        self.expect(cdr is not None, f"its CDR: start_time={cdr and cdr.get('start_time')} duration={cdr and cdr.get('duration')}")
        item = o["items"].get(cid)
        self.expect(item is not None and item["action"] == "not_found" and "not_authorized" in item["why"],
                    f"reconcile: {item and item['action']} {item and item['why']}")
        status, _ = self.explain(tenant, cid)
        self.expect(status == 404 and not self.debits_for(tenant, cid),
                    f"nothing charged by the reconcile (explain {status}, no ledger entry)")
        # the bridge's own call record settles it (ingestion, C23, C29)
        def instant(epoch):
            t = datetime.datetime.fromtimestamp(float(epoch), datetime.timezone.utc)
            return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
        record = {"call_id": cid, "conference_id": "conf-s11", "organizer": ORGANIZER, "direction": "dial_in",
                  "service_number": TOLL, "caller_number": CALLER,
                  "start": instant(cdr["start_time"]), "end": instant(cdr["end_time"])}
        before = money(self.wallet(tenant)["balance"])
        first = self.engine.ok("POST", f"/v1/tenants/{tenant}/calls", o["bridge_key"], {"calls": [record]})
        second = self.engine.ok("POST", f"/v1/tenants/{tenant}/calls", o["bridge_key"], {"calls": [record]})
        r1, r2 = first["results"][0], second["results"][0]
        c1 = r1.get("charge") or {}
        self.expect(first["charged"] == 1 and r1["status"] == "charged" and c1.get("category") == "dial_in_toll"
                    and money(c1.get("amount", 0)) > 0,
                    f"the bridge's record ({record['start']} to {record['end']}), ingested with a bridge key: "
                    f"{r1['status']} {c1.get('category')} {c1.get('duration_s')} s, {c1.get('amount')} EUR")
        self.expect(second["replayed"] == 1 and second["charged"] == 0 and r2["replay"] is True and r2.get("charge") == r1.get("charge"),
                    f"the same record again: replayed, the first result returned (charged {second['charged']})")
        after = money(self.wallet(tenant)["balance"])
        self.expect(len(self.debits_for(tenant, cid)) == 1 and before - after == money(c1["amount"]),
                    f"one debit: the balance went from {before} to {after}")

    def s12(self):
        o = self.outage()
        if o is None:
            return "waits for the engine (/v1/edge/numbers, /v1/edge/calls, /v1/edge/reconcile)"
        tenant = "sipco"
        up = o["up"]
        self.expect(o["up_code"] == 0, f"both calls were answered and the gateway hung up 3 s later (sipp exit {o['up_code']})")
        log = self.kam.log()
        again = self.engine.ok("POST", "/v1/edge/reconcile", self.op, {"kamailio_acc": o["acc"]})
        items2 = {i["call_id"]: i for i in again.get("items", [])}
        for cid, category in (("s11x1@sip.test", "dial_in_toll"), ("s11x2@sip.test", "dial_in_toll_free")):
            ev = self.gateway_dialin_events(up, cid)
            talk = ev["HANGUP"] - ev["ANSWERED"]
            self.expect(f"end not recorded call={cid}" in log,
                        f"{cid} ({category}): the proxy could not report its end (hung up {talk} ms after the answer)")
            item = o["items"].get(cid)
            self.expect(item is not None and item["action"] == "settled" and item["duration_s"] == talk // 1000,
                        f"reconcile settled it at {item and item['duration_s']} s ({item and item['why']}), charge {item and item.get('charge')}")
            charge = self.wait_charged(tenant, cid)
            self.expect(charge["category"] == category and charge["duration_s"] == item["duration_s"]
                        and money(charge["amount"]) == money(item["charge"]),
                        f"the engine's charge: {charge['category']} {charge['duration_s']} s, {charge['amount']} EUR")
            i2 = items2.get(cid)
            self.expect(i2 is not None and i2["action"] == "already_settled" and money(i2["charge"]) == money(item["charge"]),
                        f"the same acc log again: {i2 and i2['action']} ({i2 and i2['why']}), first charge {i2 and i2['charge']}")
            before = money(self.wallet(tenant)["balance"])
            status, late = self.engine.api("POST", f"/v1/tenants/{tenant}/calls/{cid}/end", self.edge,
                                           {"duration_s": item["duration_s"]})
            lc = (late.get("charge") or {}) if isinstance(late, dict) else {}
            self.expect(status == 200 and late.get("replay") is True and late.get("status") == "charged"
                        and money(lc.get("amount", -1)) == money(charge["amount"]),
                        f"a late end report (the proxy's, {item['duration_s']} s, edge key): {status}, replay "
                        f"{late.get('replay') if isinstance(late, dict) else late}, the first result ({lc.get('amount')} EUR)")
            after = money(self.wallet(tenant)["balance"])
            self.expect(len(self.debits_for(tenant, cid)) == 1 and after == before,
                        f"still one debit; the balance unchanged by the late report ({after})")
        s10 = [i for i in o["reconcile"].get("items", []) if i["call_id"].startswith("s10x")]
        if s10:
            self.expect(all(i["action"] != "settled" for i in s10) and all(not self.debits_for(tenant, i["call_id"]) for i in s10),
                        f"the reconcile charged none of scenario 10's refused dial-ins (their CDRs are in the log: "
                        f"{', '.join(sorted({i['action'] for i in s10}))})")

    def gateway_dialin_events(self, uac, call_id):
        """{event: clock tick in ms} of one call of a gateway dial-in sipp: ANSWERED, HANGUP."""
        ev = {}
        for line in uac.lines():
            parts = line.split()
            if len(parts) >= 3 and parts[1] == call_id:
                ev.setdefault(parts[0], int(parts[2]))
        return ev
