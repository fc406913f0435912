"""The scenarios of the SIP edge test, each checked through the engine's API."""

import os
import threading
import time
from decimal import Decimal

from harness import Engine, Failure, Kamailio, LOOPBACK, Sipp, wait_until

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
}

ORGANIZER = "chloe.bernard@sipco.example"
NO_DIAL_OUT = "paul.nodial@sipco.example"
FRANCE = "+33144556677"          # 0.60 EUR/min, per second: 0.01 EUR a second
EXPENSIVE = "+33972000000"       # 600 EUR/min: 10 EUR a second
LONDON = "+442071234567"         # 60 EUR/min: 1 EUR a second
CALLER = "+33612345678"
TOLL_FREE = "+33805980000"       # sipco's toll-free number (0.60 EUR/min, per second)
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
'''
    if numbers:
        text += '''
[[numbers]]
number = "+33 805 98 00 00"
kind = "toll_free"

[[numbers]]
number = "+33 1 86 95 00 00"
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
        order = [1, 2, 3, 4, 5, 6, 7, 9, 8]
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
        self.bridge_uas = Sipp(self.run, "bridge-uas", "bridge_uas.xml", port=self.kam.bridge_port,
                               duration_ms=1000, inf_lines=[f"{ORGANIZER};conf-s9"] * 4)
        time.sleep(0.3)
        uac = self.dialin_uac = Sipp(self.run, "gateway-s9", "gateway_dialin.xml",
                                     remote=f"{LOOPBACK}:{self.kam.pstn_side}",
                                     inf_lines=[f"{TOLL_FREE};{CALLER}", f"{UNKNOWN_NUMBER};{CALLER}"],
                                     duration_ms=3000, calls=2, rate=1, cid="s9x%u@sip.test")
        uac.wait(30)
        refused = uac.events("REFUSED")
        self.expect(refused.get("s9x2@sip.test", [None])[0] == "404", f"the unknown number got {refused.get('s9x2@sip.test')}")
        inv = self.bridge_uas.events("INVITE").get("s9x1@sip.test")
        self.expect(inv is not None and "tenant=sipco" in inv and "kind=toll_free" in inv,
                    f"the bridge got the dial-in with {inv and ' '.join(inv[1:3])}")
        answered = uac.events("ANSWERED")
        self.expect("s9x1@sip.test" in answered, "the toll-free call was answered")
        cid = "s9x1@sip.test"
        charge = self.wait_charged("sipco", cid)
        self.expect(charge["category"].startswith("dial_in") and charge["duration_s"] == 3,
                    f"charged as {charge['category']} for {charge['duration_s']} s (talked 3 s after the answer)")
