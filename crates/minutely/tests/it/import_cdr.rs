//! `minutely import cdr` through the real binary on a real store: the shipped sample records
//! and mappings of examples/ (Asterisk, FreeSWITCH, Kamailio) into the example tenant.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const RATES: &str = minutely_testkit::rate_card!(
    "\
dial_out,+33,,France,FR,false,0.0240,0,60,60,2025-01-01T00:00:00Z
dial_in_toll,FR,,France toll,FR,false,0.0300,0,60,60,2025-01-01T00:00:00Z
dial_in_toll_free,FR,*,France toll-free,FR,false,0.0600,0,60,60,2025-01-01T00:00:00Z
"
);

fn example(name: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    root.join(name).to_str().expect("a UTF-8 path").to_string()
}

struct Store {
    dir: tempfile::TempDir,
}

impl Store {
    /// A store with the card and the example tenant (a wallet of 350.00 EUR by March 2026).
    fn new() -> Store {
        let store = Store {
            dir: tempfile::tempdir().expect("a temporary directory"),
        };
        let rates = store.dir.path().join("rates.csv");
        std::fs::write(&rates, RATES).expect("write the card");
        store.ok(&[
            "rates",
            "import",
            rates.to_str().unwrap(),
            "--currency",
            "EUR",
        ]);
        store.ok(&["apply", "-f", &example("tenant.toml")]);
        store
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("minutely.db")
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_minutely"))
            .args(args)
            .env("MINUTELY_DB", self.db())
            .output()
            .expect("run minutely")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "minutely {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8 output")
    }

    fn import(&self, file: &str, format: &str, mapping: &str, dry: bool) -> Output {
        let (file, mapping) = (example(file), example(mapping));
        let mut args = vec![
            "import",
            "cdr",
            &file,
            "--format",
            format,
            "--mapping",
            &mapping,
        ];
        if dry {
            args.push("--dry-run");
        }
        self.run(&args)
    }

    /// The March usage export's rows: (call id, start, end, duration, charge).
    fn usage(&self) -> Vec<[String; 5]> {
        let csv = self.ok(&[
            "report",
            "pstn-usage",
            "--tenant",
            "contoso",
            "--from",
            "2026-03-01",
            "--to",
            "2026-03-31",
        ]);
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let rows = reader.records().map(|r| {
            let r = r.expect("an export row");
            [1, 13, 14, 15, 17].map(|i| r[i].to_string())
        });
        rows.collect()
    }

    fn balance(&self) -> String {
        let wallet = self.ok(&["wallet", "show", "--tenant", "contoso"]);
        let line = wallet.lines().find(|l| l.starts_with("balance:"));
        line.expect("a balance line").to_string()
    }
}

fn text(out: &Output) -> String {
    assert!(
        out.status.success(),
        "import failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("UTF-8 output")
}

fn row(id: &str, start: &str, end: &str, duration_s: &str, charge: &str) -> [String; 5] {
    [id, start, end, duration_s, charge].map(String::from)
}

#[test]
fn asterisk_records_are_charged_from_the_answer_once_and_the_rest_reported() {
    let store = Store::new();
    let before = store.balance();
    // A dry run reports and rates, changing nothing.
    let dry = text(&store.import(
        "cdr/Master.csv",
        "asterisk",
        "cdr-mapping-asterisk.toml",
        true,
    ));
    for expected in [
        "records read: 7",
        "line 2: unanswered: disposition \"NO ANSWER\"",
        "line 4: not_pstn_leg",
        "line 5: no_tenant: accountcode is empty",
        "line 7: no_organizer",
        "tenant contoso: 3 records (dial_in 2, dial_out 1), 486 billed seconds",
        "charged:    3 (0.43 EUR)",
        "dry run: nothing was changed",
    ] {
        assert!(dry.contains(expected), "{expected:?} in\n{dry}");
    }
    assert_eq!(store.usage(), Vec::<[String; 5]>::new());
    assert_eq!(store.balance(), before);

    let first = text(&store.import(
        "cdr/Master.csv",
        "asterisk",
        "cdr-mapping-asterisk.toml",
        false,
    ));
    assert!(first.contains("charged:    3 (0.43 EUR)"), "{first}");
    // Local times of Europe/Paris; each call starts at its answer and lasts billsec: the ring
    // before the answer is not charged (C5, C38). C6: 125 s bill 3 minutes at 0.024 (C7: 0.07).
    assert_eq!(
        store.usage(),
        [
            row(
                "1772442000.1",
                "2026-03-02T09:00:20Z",
                "2026-03-02T09:02:25Z",
                "125",
                "0.07"
            ),
            row(
                "1772442180.5",
                "2026-03-02T09:03:02Z",
                "2026-03-02T09:04:03Z",
                "61",
                "0.06"
            ),
            row(
                "1772442300.9",
                "2026-03-02T09:05:15Z",
                "2026-03-02T09:10:15Z",
                "300",
                "0.30"
            ),
        ]
    );
    assert!(
        store.balance().contains("349.57 EUR"),
        "{}",
        store.balance()
    );

    // C23: the same file again charges nothing twice.
    let again = text(&store.import(
        "cdr/Master.csv",
        "asterisk",
        "cdr-mapping-asterisk.toml",
        false,
    ));
    assert!(again.contains("duplicates: 3"), "{again}");
    assert!(again.contains("charged:    0 (0.00 EUR)"), "{again}");
    assert_eq!(store.usage().len(), 3);
    assert!(store.balance().contains("349.57 EUR"));
}

#[test]
fn freeswitch_and_kamailio_records_of_the_same_calls_are_charged_alike() {
    for (file, format, mapping, ids) in [
        (
            "cdr/freeswitch.csv",
            "freeswitch",
            "cdr-mapping-freeswitch.toml",
            [
                "0b0c5c2e-6d1a-4f39-9d1e-2a9f3c1b7a01",
                "4f7d2b11-0c3e-4e2a-8a55-6c0d9e8f1b02",
            ],
        ),
        (
            "cdr/kamailio-acc.log",
            "kamailio-acc",
            "cdr-mapping-kamailio.toml",
            ["a84b4c76e66710@bridge.example", "c77e01@pstn-gw.example"],
        ),
    ] {
        let store = Store::new();
        let report = text(&store.import(file, format, mapping, false));
        assert!(report.contains("unanswered       1"), "{format}: {report}");
        assert!(
            report.contains("charged:    2 (0.13 EUR)"),
            "{format}: {report}"
        );
        let usage = store.usage();
        let got: Vec<(&str, &str, &str)> = usage
            .iter()
            .map(|r| (r[0].as_str(), r[3].as_str(), r[4].as_str()))
            .collect();
        assert_eq!(
            got,
            [(ids[0], "125", "0.07"), (ids[1], "61", "0.06")],
            "{format}"
        );
    }
}

#[test]
fn a_malformed_file_is_refused_whole_naming_line_field_and_value() {
    let store = Store::new();
    let master = std::fs::read_to_string(example("cdr/Master.csv")).unwrap();
    let bad = master.replace(",61,", ",sixty,");
    let path = store.dir.path().join("Master.csv");
    std::fs::write(&path, bad).unwrap();
    let mapping = example("cdr-mapping-asterisk.toml");
    let args = [
        "import",
        "cdr",
        path.to_str().unwrap(),
        "--format",
        "asterisk",
        "--mapping",
        &mapping,
    ];
    let out = store.run(&args);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 3") && err.contains("billsec") && err.contains("\"sixty\""),
        "{err}"
    );
    assert!(err.contains("nothing was changed"), "{err}");
    assert_eq!(store.usage().len(), 0);
    // A tenant the store does not have is reported, and the other tenants' calls go on.
    let other = master.replacen("\"contoso\"", "\"fabrikam\"", 1);
    std::fs::write(&path, other).unwrap();
    let report = text(&store.run(&args));
    assert!(
        report.contains("line 1: unknown_tenant: no tenant \"fabrikam\" in the store"),
        "{report}"
    );
    assert!(report.contains("tenant contoso: 2 records"), "{report}");
    assert_eq!(store.usage().len(), 2);
    // A mapping for another switch is refused before the records are read.
    let wrong = store.import(
        "cdr/Master.csv",
        "asterisk",
        "cdr-mapping-kamailio.toml",
        false,
    );
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("mapping refused"));
}
