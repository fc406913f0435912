//! Black-box tests of the `minutely` binary (and `minutely-tools gen`, which makes sample data)
//! on real files and a real SQLite store.

use minutely_testkit::fixtures::example_tenant;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A fresh working directory with its own store.
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Workspace {
        Workspace {
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).expect("write a test file");
        path
    }

    /// Runs `minutely` with the workspace's store.
    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_minutely"))
            .args(args)
            .env("MINUTELY_DB", self.path("minutely.db"))
            .current_dir(self.dir.path())
            .output()
            .expect("run minutely")
    }

    /// Runs and requires success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "minutely {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8 output")
    }

    /// Runs `minutely-tools` (sample data) in the workspace and requires success; returns
    /// stdout.
    fn tool(&self, args: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_minutely-tools"))
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("run minutely-tools");
        assert!(
            out.status.success(),
            "minutely-tools {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8 output")
    }

    /// Runs and requires failure; returns stderr.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "minutely {args:?} should have failed"
        );
        String::from_utf8(out.stderr).expect("UTF-8 errors")
    }
}

const RATES: &str = minutely_testkit::rate_card!(
    "\
dial_out,+33,,France,FR,false,0.0240,0,60,60,2025-01-01T00:00:00Z
dial_out,+336,,France mobile,FR,false,0.1100,0.05,60,60,2025-01-01T00:00:00Z
dial_out,+81,,Japan,JP,false,0.0300,0,30,6,2025-01-01T00:00:00Z
dial_out,+44,,\"United Kingdom, fixed\",GB,false,0.0200,0,60,60,2025-01-01T00:00:00Z
dial_in_toll,FR,,France toll,FR,false,0.0300,0,60,60,2025-01-01T00:00:00Z
dial_in_toll,US,,United States toll,US,false,0.0200,0,60,60,2025-01-01T00:00:00Z
dial_in_toll_free,FR,*,France toll-free,FR,false,0.0600,0,60,60,2025-01-01T00:00:00Z
dial_in_toll_free,US,*,United States toll-free,US,false,0.0400,0,60,60,2025-01-01T00:00:00Z
dial_in_toll_free,US,CA,US toll-free from Canada,US,false,0.0550,0,60,60,2025-01-01T00:00:00Z
"
);

const CALLS: &str = "call_id,conference_id,organizer,direction,service_number,caller_number,destination_number,start,end
c1,m1,chloe.bernard@contoso.example,dial_in,+33 805 98 00 00,+1 416 555 0100,,2026-01-05T10:00:00Z,2026-01-05T10:02:05Z
c2,m1,Bruno.Martin@contoso.example,dial_out,,,+44 20 7946 0018,2026-01-05T10:01:00Z,2026-01-05T10:02:01Z
c3,m2,chloe.bernard@contoso.example,dial_out,,,+33 6 12 34 56 78,2026-01-05T11:00:00Z,2026-01-05T11:00:00Z
c4,m2,david.roux@contoso.example,dial_out,,,+81 3 1234 5678,2026-01-05T11:30:00Z,2026-01-05T11:31:00Z
c5,m3,bruno.martin@contoso.example,dial_in,+33 1 86 95 00 00,,,2026-01-06T08:00:00Z,2026-01-06T09:00:00Z
c6,m3,chloe.bernard@contoso.example,dial_in,+1 800 555 0199,+1 416 555 0100,,2026-01-06T08:00:00Z,2026-01-06T08:00:30Z
c7,m3,nobody@contoso.example,dial_in,+33 1 86 95 00 00,,,2026-01-06T08:00:00Z,2026-01-06T08:01:00Z
c8,m4,chloe.bernard@contoso.example,dial_out,,,+33 6 12 34 56 78,2026-01-07T08:00:00Z,2026-01-07T07:59:00Z
";

#[test]
fn apply_is_declarative_and_idempotent() {
    let ws = Workspace::new();
    let file = ws.write("tenant.toml", &example_tenant());
    let first = ws.ok(&["apply", "-f", file.to_str().unwrap()]);
    assert!(first.contains("created tenant contoso"), "{first}");
    assert!(
        first.contains("assigned MCOMEETACPEA to chloe.bernard@contoso.example"),
        "{first}"
    );
    assert!(
        first.contains("declared funding 200.00 EUR (PO-2026-001) dated 2026-01-02T09:00:00Z"),
        "{first}"
    );
    let second = ws.ok(&["apply", "-f", file.to_str().unwrap()]);
    assert_eq!(second.trim(), "tenant contoso: no changes");
    // Declared fundings are history: made when the ledger reaches their instants.
    let wallet = ws.ok(&["wallet", "show", "--tenant", "contoso"]);
    assert!(wallet.contains("balance:   0.00 EUR"), "{wallet}");
    assert!(
        wallet.contains("declared funding 150.00 EUR (PO-2026-002) dated 2026-02-15T09:00:00Z"),
        "{wallet}"
    );
    let funded = ws.ok(&[
        "wallet",
        "fund",
        "--tenant",
        "contoso",
        "--amount",
        "100",
        "--reference",
        "PO-7",
        "--at",
        "2026-03-01T00:00:00Z",
    ]);
    assert!(
        funded.contains("balance 450.00 EUR"),
        "the declared fundings come first: {funded}"
    );
    let again = ws.ok(&[
        "wallet",
        "fund",
        "--tenant",
        "contoso",
        "--amount",
        "100",
        "--reference",
        "PO-7",
    ]);
    assert!(again.contains("already applied"), "{again}");
    let err = ws.fails(&["wallet", "fund", "--tenant", "contoso", "--amount", "50.5"]);
    assert!(err.contains("amount_not_whole"), "C11: {err}");
    let ledger = ws.ok(&["wallet", "ledger", "--tenant", "contoso"]);
    assert_eq!(
        ledger.lines().count(),
        4,
        "three fundings and a header: {ledger}"
    );
}

#[test]
fn a_refused_tenant_file_names_the_place_and_changes_nothing() {
    let ws = Workspace::new();
    // C1: pay-per-minute needs a volume licensing agreement.
    let bad = example_tenant().replace(
        "agreement = \"volume_licensing\"",
        "agreement = \"online_subscription\"",
    );
    let file = ws.write("bad.toml", &bad);
    let err = ws.fails(&["apply", "-f", file.to_str().unwrap()]);
    assert!(err.contains("ppm_requires_volume_licensing"), "{err}");
    assert!(err.contains("licenses.MCOMEETACPEA"), "{err}");
    assert!(err.contains("nothing was changed"), "{err}");
    let show = ws.fails(&["wallet", "show", "--tenant", "contoso"]);
    assert!(show.contains("unknown_tenant"), "{show}");
    // Money is never a float.
    let float = example_tenant().replace("amount = 200", "amount = 200.5");
    let err = ws.fails(&[
        "apply",
        "-f",
        ws.write("float.toml", &float).to_str().unwrap(),
    ]);
    assert!(
        err.contains("wallet.fundings[0].amount") && err.contains("never as a float"),
        "{err}"
    );
}

#[test]
fn a_rate_card_with_bad_rows_is_refused_whole_listing_each() {
    let ws = Workspace::new();
    let bad = format!(
        "{RATES}dial_out,+49,,Germany,DE,false,-1,0,60,60,2025-01-01T00:00:00Z\ndial_out,+33,,France again,FR,false,0.02,0,60,60,2025-01-01T00:00:00Z\n"
    );
    let err = ws.fails(&[
        "rates",
        "import",
        ws.write("bad.csv", &bad).to_str().unwrap(),
        "--currency",
        "EUR",
    ]);
    assert!(err.contains("2 bad rows"), "{err}");
    assert!(err.contains("line 11, column rate_per_minute"), "{err}");
    assert!(
        err.contains("line 12, column key: duplicate dial_out key +33"),
        "{err}"
    );
    assert_eq!(
        ws.ok(&["rates", "export", "--currency", "EUR"])
            .lines()
            .count(),
        1,
        "nothing was imported"
    );
    let good = ws.write("rates.csv", RATES);
    assert!(
        ws.ok(&[
            "rates",
            "import",
            good.to_str().unwrap(),
            "--currency",
            "EUR"
        ])
        .contains("added EUR version")
    );
    assert!(
        ws.ok(&[
            "rates",
            "import",
            good.to_str().unwrap(),
            "--currency",
            "EUR"
        ])
        .contains("unchanged EUR version")
    );
    let err = ws.fails(&[
        "rates",
        "import",
        good.to_str().unwrap(),
        "--currency",
        "XYZ",
    ]);
    assert!(err.contains("unknown currency code"), "{err}");
}

#[test]
fn rates_lookup_prints_every_fact_and_the_cost() {
    let ws = Workspace::new();
    let rates = ws.write("rates.csv", RATES);
    let out = ws.ok(&[
        "rates",
        "lookup",
        "+81 3 1234 5678",
        "--currency",
        "EUR",
        "--duration",
        "125s",
        "--rates",
        rates.to_str().unwrap(),
    ]);
    assert!(out.contains("destination:    Japan"), "{out}");
    assert!(out.contains("zone:           Zone A"), "{out}");
    assert!(out.contains("premium:        false"), "{out}");
    assert!(
        out.contains("increments:     30s first block, then 6s"),
        "{out}"
    );
    // C6: 30 + ceil(95/6)*6 = 126 s; C7: 0.03 * 126 / 60 = 0.063 -> 0.06.
    assert!(
        out.contains("cost of 125s:   0.06 EUR (126 billable seconds)"),
        "{out}"
    );
    let out = ws.ok(&[
        "rates",
        "lookup",
        "+1 800 555 0199",
        "--kind",
        "dial_in_toll_free",
        "--caller",
        "+1 416 555 0100",
        "--currency",
        "EUR",
        "--rates",
        rates.to_str().unwrap(),
    ]);
    assert!(
        out.contains("US toll-free from Canada"),
        "C35 origin-specific rate: {out}"
    );
    let err = ws.fails(&[
        "rates",
        "lookup",
        "+33 1",
        "--currency",
        "EUR",
        "--rates",
        rates.to_str().unwrap(),
    ]);
    assert!(err.contains("invalid_number"), "{err}");
}

/// Sets up a store with the example tenant and the test rate card.
fn ready() -> Workspace {
    let ws = Workspace::new();
    let tenant = ws.write("tenant.toml", &example_tenant());
    ws.ok(&["apply", "-f", tenant.to_str().unwrap()]);
    ws.ok(&[
        "rates",
        "import",
        ws.write("rates.csv", RATES).to_str().unwrap(),
        "--currency",
        "EUR",
    ]);
    ws
}

#[test]
fn ingest_charges_once_and_the_export_has_the_twenty_columns() {
    let ws = ready();
    let calls = ws.write("calls.csv", CALLS);
    let first = ws.run(&["ingest", calls.to_str().unwrap(), "--tenant", "contoso"]);
    assert!(first.status.success());
    let summary = String::from_utf8_lossy(&first.stderr);
    assert!(summary.contains("records:    8"), "{summary}");
    assert!(
        summary.contains("organizer_not_enabled             1"),
        "{summary}"
    );
    assert!(
        summary.contains("invalid_record                    1"),
        "{summary}"
    );
    let wallet_before = ws.ok(&["wallet", "show", "--tenant", "contoso"]);
    let again = ws.run(&["ingest", calls.to_str().unwrap(), "--tenant", "contoso"]);
    let summary = String::from_utf8_lossy(&again.stderr);
    assert!(summary.contains("duplicates: 8"), "C23: {summary}");
    assert!(summary.contains("nothing was charged twice"), "{summary}");
    assert_eq!(
        ws.ok(&["wallet", "show", "--tenant", "contoso"]),
        wallet_before
    );
    // C23: the same id with other content is refused and changes nothing.
    let changed = CALLS.replace("2026-01-05T10:02:05Z", "2026-01-05T10:09:05Z");
    let reused = ws.run(&[
        "ingest",
        ws.write("changed.csv", &changed).to_str().unwrap(),
        "--tenant",
        "contoso",
    ]);
    assert!(
        String::from_utf8_lossy(&reused.stderr).contains("call_id_reused                    1")
    );
    assert_eq!(
        ws.ok(&["wallet", "show", "--tenant", "contoso"]),
        wallet_before
    );

    let export = ws.ok(&[
        "report",
        "pstn-usage",
        "--tenant",
        "contoso",
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-31",
    ]);
    let mut reader = csv::ReaderBuilder::new().from_reader(export.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(
        header.join(","),
        "UsageId,Call ID,Conference ID,User Location,AAD ObjectId,UPN,User Display Name,Caller ID,Call Type,Number Type,Domestic/International,Destination Dialed,Destination Number,Start Time,End Time,Duration Seconds,Connection Fee,Charge,Currency,Capability"
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let ids: Vec<&str> = rows.iter().map(|r| &r[1]).collect();
    assert_eq!(
        ids,
        ["c1", "c2", "c3", "c5", "c6"],
        "charged calls, canonical order (C22)"
    );
    let c1 = &rows[0];
    // C35: a Canadian caller to the French toll-free number: no FR/CA rate, so `*` at 0.06;
    // 125 s -> 180 billable s -> 0.18. Pay-per-minute organizer: MCOMEETACPEA.
    assert_eq!(
        (&c1[8], &c1[9], &c1[10], &c1[16], &c1[17], &c1[19]),
        (
            "conf_in",
            "toll_free",
            "International",
            "0.00",
            "0.18",
            "MCOMEETACPEA"
        )
    );
    assert_eq!(
        (&c1[13], &c1[14], &c1[15]),
        ("2026-01-05T10:00:00Z", "2026-01-05T10:02:05Z", "125")
    );
    let c2 = &rows[1];
    // A name with a comma is quoted (RFC 4180) and reads back whole.
    assert_eq!(&c2[11], "United Kingdom, fixed");
    assert_eq!(&c2[5], "bruno.martin@contoso.example");
    let c6 = &rows[4];
    assert_eq!(
        &c6[17], "0.06",
        "C35: US toll-free from Canada at 0.055: 60 s -> 0.055 -> 0.06"
    );
    let extended = ws.ok(&[
        "report",
        "pstn-usage",
        "--tenant",
        "contoso",
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-31",
        "--extended",
    ]);
    assert!(
        extended
            .lines()
            .next()
            .unwrap()
            .ends_with("Capability,Funding,Pool Minutes,Credit Amount,Balance After,Rule")
    );
    // A call that debits nothing still reports the balance as it stands (199.82 after c1).
    let c5 = extended
        .lines()
        .find(|l| l.contains(",c5,"))
        .expect("c5 is exported");
    assert!(c5.ends_with(",included,0,0.00,199.82,C18"), "{c5}");
}

#[test]
fn offline_rating_agrees_with_the_store() {
    let ws = ready();
    let calls = ws.write("calls.csv", CALLS);
    ws.ok(&["ingest", calls.to_str().unwrap(), "--tenant", "contoso"]);
    let stored = ws.ok(&[
        "report",
        "pstn-usage",
        "--tenant",
        "contoso",
        "--from",
        "2026-01-01",
        "--to",
        "2026-02-01",
        "--extended",
    ]);
    // One date range everywhere: reversed or longer than 366 days is refused, naming it.
    for (from, to, expected) in [
        ("2026-02-01", "2026-01-01", "is before --from"),
        ("2025-01-01", "2026-03-01", "longer than 366 days"),
    ] {
        let err = ws.fails(&[
            "report",
            "pstn-usage",
            "--tenant",
            "contoso",
            "--from",
            from,
            "--to",
            to,
        ]);
        assert!(err.contains(expected), "{err}");
    }
    let refused = ws.path("refused.csv");
    let offline = ws.ok(&[
        "rate",
        "--rates",
        ws.path("rates.csv").to_str().unwrap(),
        "--currency",
        "EUR",
        "--tenant-file",
        ws.path("tenant.toml").to_str().unwrap(),
        "--calls",
        calls.to_str().unwrap(),
        "--extended",
        "--refused",
        refused.to_str().unwrap(),
    ]);
    assert_eq!(
        offline, stored,
        "the offline run and the store rate every call alike"
    );
    let refused = std::fs::read_to_string(refused).unwrap();
    let reasons: Vec<&str> = refused
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').nth(1).unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "policy_domestic_only",
            "organizer_not_enabled",
            "invalid_record"
        ]
    );
}

#[test]
fn generated_calls_are_deterministic_and_rate_cleanly() {
    let ws = Workspace::new();
    let tenant = ws.write("tenant.toml", &example_tenant());
    let args = [
        "gen",
        "calls",
        "--tenant-file",
        tenant.to_str().unwrap(),
        "--count",
        "3000",
        "--seed",
        "42",
    ];
    let one = ws.tool(&args);
    assert_eq!(one, ws.tool(&args), "same seed, same bytes");
    assert_eq!(one.lines().count(), 3001);
    let rates = ws.tool(&["gen", "rates", "--currency", "EUR"]);
    assert!(rates.starts_with("# SAMPLE PRICES"));
    ws.write("rates.csv", &rates);
    ws.write("calls.csv", &one);
    let out = ws.run(&[
        "rate",
        "--rates",
        "rates.csv",
        "--currency",
        "EUR",
        "--tenant-file",
        "tenant.toml",
        "--calls",
        "calls.csv",
    ]);
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{summary}");
    assert!(summary.contains("records:    3000"), "{summary}");
    assert!(
        !summary.contains("no_rate") && !summary.contains("invalid_number"),
        "the sample card covers the generated traffic: {summary}"
    );
}

#[test]
fn the_demo_runs() {
    let ws = Workspace::new();
    let out = ws.ok(&["demo", "--count", "2000"]);
    assert!(
        out.contains("SAMPLE prices") && out.contains("Summary:") && out.contains("Who paid:"),
        "{out}"
    );
}

/// The names under "Commands:" of a `--help` text, in order.
fn command_names(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| !line.starts_with("Commands:"))
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .filter_map(|line| line.split_whitespace().next().map(str::to_string))
        .collect()
}

#[test]
fn the_product_lists_its_commands_in_order_and_the_tools_are_apart() {
    let ws = Workspace::new();
    assert_eq!(
        command_names(&ws.ok(&["--help"])),
        [
            "rates",
            "countries",
            "apply",
            "wallet",
            "ingest",
            "import",
            "reconcile",
            "rerate",
            "rate",
            "report",
            "fraud",
            "advise",
            "prices",
            "statement",
            "settings",
            "demo",
            "serve",
            "keys",
            "audit",
            "backup",
            "restore",
            "migrate",
            "help",
        ]
    );
    assert_eq!(
        command_names(&ws.tool(&["--help"])),
        ["gen", "load", "soak", "floor", "fraud-sim", "help"]
    );
    // A tool's command is not the product's: refused as a usage error, with clap's exit code.
    for tool_command in ["gen", "load", "soak", "floor", "fraud-sim"] {
        let out = ws.run(&[tool_command, "--help"]);
        assert_eq!(out.status.code(), Some(2), "minutely {tool_command}");
    }
}

#[test]
fn the_operator_sets_the_minimum_amount() {
    let ws = Workspace::new();
    // C11: the operator may configure the minimum (default 50).
    assert_eq!(ws.ok(&["settings", "show"]).trim(), "minimum amount: 50");
    assert_eq!(
        ws.ok(&["settings", "set", "--minimum-amount", "100"])
            .trim(),
        "minimum amount: 100"
    );
    let err = ws.fails(&["settings", "set", "--minimum-amount", "10.5"]);
    assert!(err.contains("positive whole number"), "{err}");
    let tenant = ws.write("tenant.toml", &example_tenant());
    let err = ws.fails(&["apply", "-f", tenant.to_str().unwrap()]);
    assert!(
        err.contains("wallet: amount_below_minimum"),
        "the trigger of 50 is now too small: {err}"
    );
    let lower = example_tenant()
        .replace("trigger = 50", "trigger = 100")
        .replace("amount = 100", "amount = 150");
    let lower = lower
        .replace("amount = 200", "amount = 250")
        .replace("amount = \"150\"", "amount = \"300\"");
    ws.ok(&["apply", "-f", ws.write("ok.toml", &lower).to_str().unwrap()]);
    let err = ws.fails(&["wallet", "fund", "--tenant", "contoso", "--amount", "80"]);
    assert!(err.contains("amount_below_minimum"), "{err}");
}

/// The example tenant as a tenant paying in `currency` in `country`, with every amount of its
/// wallet (trigger, recharge, fundings) `amount`.
fn tenant_in(id: &str, country: &str, currency: &str, amount: &str) -> String {
    example_tenant()
        .replace("id = \"contoso\"", &format!("id = \"{id}\""))
        .replace("country = \"FR\"", &format!("country = \"{country}\""))
        .replace("currency = \"EUR\"", &format!("currency = \"{currency}\""))
        .replace("trigger = 50", &format!("trigger = {amount}"))
        .replace("amount = 100 ", &format!("amount = {amount} "))
        .replace("amount = 200", &format!("amount = {amount}"))
        .replace("amount = \"150\"", &format!("amount = \"{amount}\""))
}

#[test]
fn c11_each_currency_may_have_its_own_minimum_amount() {
    let ws = Workspace::new();
    let set = ws.ok(&[
        "settings",
        "set",
        "--minimum-amount",
        "5000",
        "--currency",
        "jpy",
    ]);
    assert_eq!(set, "minimum amount: 50\nminimum amount JPY: 5000\n");
    // Each command is a new process over the store file: the setting survived a restart.
    assert_eq!(ws.ok(&["settings", "show"]), set);
    // A JPY tenant: its trigger of 4999 is below JPY's minimum, named with its currency.
    let yen = ws.write("yen.toml", &tenant_in("yen", "JP", "JPY", "4999"));
    let err = ws.fails(&["apply", "-f", yen.to_str().unwrap()]);
    assert!(
        err.contains("amount_below_minimum") && err.contains("from 5000 (the minimum in JPY)"),
        "{err}"
    );
    let yen = ws.write("yen.toml", &tenant_in("yen", "JP", "JPY", "5000"));
    ws.ok(&["apply", "-f", yen.to_str().unwrap()]);
    let fund = |tenant: &str, amount: &str| {
        ws.run(&["wallet", "fund", "--tenant", tenant, "--amount", amount])
    };
    // A USD tenant keeps the default of 50.
    let usd = ws.write("usd.toml", &tenant_in("dollar", "US", "USD", "50"));
    ws.ok(&["apply", "-f", usd.to_str().unwrap()]);
    for (tenant, below, minimum, says) in [
        ("yen", "4999", "5000", "from 5000 (the minimum in JPY)"),
        ("dollar", "49", "50", "from 50 (the minimum in USD)"),
    ] {
        let refused = fund(tenant, below);
        let err = String::from_utf8_lossy(&refused.stderr);
        assert!(
            !refused.status.success() && err.contains("amount_below_minimum") && err.contains(says),
            "{tenant}: {err}"
        );
        assert!(
            fund(tenant, minimum).status.success(),
            "C11 {minimum} is the minimum of {tenant}"
        );
    }
    // Changing the default leaves JPY's own; removing JPY's makes it follow the default.
    ws.ok(&["settings", "set", "--minimum-amount", "60"]);
    assert_eq!(
        ws.ok(&["settings", "show"]),
        "minimum amount: 60\nminimum amount JPY: 5000\n"
    );
    let shown = ws.ok(&[
        "settings",
        "set",
        "--currency",
        "JPY",
        "--remove-minimum-amount",
    ]);
    assert_eq!(shown, "minimum amount: 60\n");
    assert!(
        fund("yen", "61").status.success(),
        "JPY follows the default again"
    );
    let err = ws.fails(&[
        "settings",
        "set",
        "--minimum-amount",
        "0",
        "--currency",
        "JPY",
    ]);
    assert!(err.contains("positive whole number"), "{err}");
    let err = ws.fails(&[
        "settings",
        "set",
        "--minimum-amount",
        "50",
        "--currency",
        "XYZ",
    ]);
    assert!(err.contains("unknown currency"), "{err}");
    // Each change is audited with its currency.
    let audit = ws.ok(&["audit"]);
    let settings: Vec<&str> = audit
        .lines()
        .filter(|l| l.contains("settings.set"))
        .collect();
    assert_eq!(settings.len(), 3, "{audit}");
    assert!(settings[0].contains("minimum_amount.JPY"), "{audit}");
    assert!(settings[2].contains("minimum_amount.JPY"), "{audit}");
}

#[test]
fn the_country_table_is_exported_and_an_edited_one_imported() {
    let ws = Workspace::new();
    let table = ws.ok(&["countries", "export"]);
    assert_eq!(
        table,
        std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/countries.csv")
        )
        .unwrap()
    );
    let edited = table.replace(
        "KR,South Korea,true,yes,yes,yes,no",
        "KR,South Korea,true,yes,yes,yes,yes",
    );
    assert!(
        ws.ok(&[
            "countries",
            "import",
            ws.write("edited.csv", &edited).to_str().unwrap()
        ])
        .contains("115 countries")
    );
    assert!(
        ws.ok(&["countries", "export"])
            .contains("KR,South Korea,true,yes,yes,yes,yes")
    );
    let bad = edited.replace("FR,France,true", "FR,France,perhaps");
    let err = ws.fails(&[
        "countries",
        "import",
        ws.write("bad.csv", &bad).to_str().unwrap(),
    ]);
    assert!(err.contains("column zone_a"), "{err}");
    assert!(
        ws.ok(&["countries", "export"]).contains("FR,France,true"),
        "a refused file changes nothing"
    );
}

#[test]
fn a_statement_is_written_as_json_html_and_pdf_and_agrees_with_the_ledger() {
    let ws = ready();
    let calls = ws.write("calls.csv", CALLS);
    ws.ok(&["ingest", calls.to_str().unwrap(), "--tenant", "contoso"]);
    let json = ws.ok(&[
        "statement",
        "--tenant",
        "contoso",
        "--month",
        "2026-01",
        "--format",
        "json",
    ]);
    let statement: serde_json::Value = serde_json::from_str(&json).expect("a JSON statement");
    let dec = |v: &serde_json::Value| {
        v.as_str()
            .unwrap_or_else(|| panic!("a decimal string, got {v}"))
            .parse::<rust_decimal::Decimal>()
            .expect("a decimal")
    };
    // The identity of the statement, with the ledger's own amounts (C24).
    assert_eq!(
        dec(&statement["opening_balance"]) + dec(&statement["fundings_total"])
            - dec(&statement["usage_total"]["amount"])
            - dec(&statement["forfeits_total"]),
        dec(&statement["closing_balance"]),
        "{statement}"
    );
    assert_eq!(statement["fundings_total"], "200.00", "{statement}");
    let html = ws.ok(&[
        "statement",
        "--tenant",
        "contoso",
        "--month",
        "2026-01",
        "--lang",
        "de",
    ]);
    assert!(html.contains("<html lang=\"de\""), "{html}");
    let pdf = ws.path("january.pdf");
    ws.ok(&[
        "statement",
        "--tenant",
        "contoso",
        "--month",
        "2026-01",
        "--lang",
        "ja",
        "--format",
        "pdf",
        "-o",
        pdf.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&pdf).expect("the PDF was written");
    assert!(bytes.starts_with(b"%PDF-"), "not a PDF");
    // Bad input is named and writes nothing.
    let err = ws.fails(&["statement", "--tenant", "contoso", "--month", "2026-13"]);
    assert!(err.contains("2026-13"), "{err}");
    let err = ws.fails(&["statement", "--tenant", "nobody", "--month", "2026-01"]);
    assert!(err.contains("nobody"), "{err}");
}

#[test]
fn reconcile_reads_a_kamailio_log_and_reports_each_call() {
    let ws = ready();
    // A real Kamailio 5.6.3 line shape; the calls were never authorized in this store, so
    // only the bridge's own records could settle them.
    let log = ws.write(
        "acc.log",
        " 0(1) INFO: <core> [main.c:3055]: main(): processes (at least): 7\n\
         1(8776) INFO: acc [acc_cdr.c:395]: log_write_cdr(): start_time=1796577237.448; \
         end_time=1796577239.755; duration=2.307; call_id=k-1; mt_tenant=contoso; \
         mt_direction=dial_out\n\
         1(8776) INFO: acc [acc_cdr.c:395]: log_write_cdr(): start_time=1796577237.448; \
         end_time=1796577239.755; duration=2.307; call_id=k-2; mt_tenant=nobody\n",
    );
    let path = log.to_str().unwrap();
    let table = ws.ok(&["reconcile", "--acc", path, "--dry-run"]);
    assert!(table.contains("not_authorized"), "{table}");
    assert!(table.contains("unknown_tenant"), "{table}");
    assert!(table.contains("not_found 2"), "{table}");
    assert!(table.contains("dry run"), "{table}");
    let json: serde_json::Value =
        serde_json::from_str(&ws.ok(&["reconcile", "--acc", path, "--json"])).expect("JSON");
    assert_eq!(json["not_found"], 2, "{json}");
    assert_eq!(json["items"][0]["line"], 2, "{json}");
    // A marked line without its call id refuses the whole log, naming the line.
    let bad = ws.write(
        "bad.log",
        "x\nCDR: start_time=1;duration=1;mt_tenant=contoso\n",
    );
    let err = ws.fails(&["reconcile", "--acc", bad.to_str().unwrap()]);
    assert!(err.contains("line 2") && err.contains("call_id"), "{err}");
}

#[test]
fn rerate_after_a_corrected_version_dry_then_for_real_then_nothing_c22_c24() {
    let ws = Workspace::new();
    let rates = ws.write("rates.csv", RATES);
    ws.ok(&[
        "rates",
        "import",
        rates.to_str().unwrap(),
        "--currency",
        "EUR",
    ]);
    let tenant = ws.write("tenant.toml", &example_tenant());
    ws.ok(&["apply", "-f", tenant.to_str().unwrap()]);
    let calls = ws.write(
        "calls.csv",
        "call_id,conference_id,organizer,direction,service_number,caller_number,destination_number,start,end
r1,m1,chloe.bernard@contoso.example,dial_out,,,+33 6 12 34 56 78,2026-01-05T10:00:00Z,2026-01-05T10:10:00Z
r2,m1,chloe.bernard@contoso.example,dial_out,,,+44 20 7946 0018,2026-01-05T11:00:00Z,2026-01-05T11:02:00Z
",
    );
    ws.ok(&["ingest", calls.to_str().unwrap(), "--tenant", "contoso"]);
    // The French mobile rate was 0.11 by mistake: the fix is 0.22.
    let fixed = ws.write(
        "fixed.csv",
        &RATES.replace(
            "+336,,France mobile,FR,false,0.1100",
            "+336,,France mobile,FR,false,0.2200",
        ),
    );
    let refused = ws.fails(&[
        "rates",
        "import",
        fixed.to_str().unwrap(),
        "--currency",
        "EUR",
    ]);
    assert!(refused.contains("--replace"), "{refused}");
    let out = ws.ok(&[
        "rates",
        "import",
        fixed.to_str().unwrap(),
        "--currency",
        "EUR",
        "--replace",
    ]);
    assert!(out.contains("replaced EUR version"), "{out}");
    let balance = || ws.ok(&["wallet", "show", "--tenant", "contoso"]);
    let before = balance();
    let period = [
        "rerate",
        "--tenant",
        "contoso",
        "--from",
        "2026-01-01T00:00:00Z",
        "--to",
        "2026-02-01T00:00:00Z",
        "--json",
    ];
    let json = |args: &[&str]| -> serde_json::Value { serde_json::from_str(&ws.ok(args)).unwrap() };
    let dry = json(&[&period[..], &["--dry-run"]].concat());
    assert_eq!(
        (dry["calls"].clone(), dry["changed"].clone()),
        (2.into(), 1.into()),
        "{dry}"
    );
    let item = &dry["items"][0];
    // 10 minutes at 0.11 plus the 0.05 connection fee, then at 0.22.
    assert_eq!(
        (
            item["call_id"].as_str(),
            item["old_amount"].as_str(),
            item["new_amount"].as_str()
        ),
        (Some("r1"), Some("1.15"), Some("2.25")),
        "{dry}"
    );
    assert_eq!(balance(), before, "a dry run changes nothing");
    let run = json(&period);
    assert_eq!(
        (run["id"].as_str(), run["net"].as_str()),
        (Some("rr-1"), Some("1.10")),
        "{run}"
    );
    let ledger = ws.ok(&["wallet", "ledger", "--tenant", "contoso"]);
    assert!(
        ledger.contains("refund") && ledger.contains("+1.15"),
        "{ledger}"
    );
    let again = json(&period);
    assert_eq!(
        (again["id"].as_str(), again["changed"].as_u64()),
        (Some("rr-2"), Some(0))
    );
    let list = ws.ok(&["rerate", "--tenant", "contoso", "--list"]);
    assert!(
        list.contains("rr-1") && list.contains("rr-2") && list.contains("cli"),
        "{list}"
    );
    let export = ws.ok(&[
        "report",
        "pstn-usage",
        "--tenant",
        "contoso",
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-31",
    ]);
    assert!(
        export.contains("2.25") && !export.contains("1.15"),
        "{export}"
    );
}
