//! `minutely import cgrates` on each tariff plan CGRateS ships (read from `shared/cgrates-tp`
//! beside the project, never copied into it): what imports, what is reported (file:line), and,
//! where the plan is represented, the cost of the calls CGRateS's own tests price, through
//! `minutely rates lookup` on the store the import wrote.
//!
//! The expected costs are CGRateS's, from its repository (github.com/cgrates/cgrates, the
//! commit named in `shared/cgrates-tp/PROVENANCE.md`); each is cited where it is used.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The directory of CGRateS's tariff plans: `shared/cgrates-tp` beside the project root, or
/// the directory `CGRATES_TP` names (for a checkout elsewhere, such as a second work tree).
fn plans() -> PathBuf {
    let dir = match std::env::var_os("CGRATES_TP") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/cgrates-tp"),
    };
    assert!(
        dir.join("tutorial").is_dir(),
        "the CGRateS tariff plans are missing: looked for {} (shared/cgrates-tp beside the project root; CGRATES_TP=DIR names another place)",
        dir.display()
    );
    dir
}

/// A fresh store in its own directory.
struct Store {
    dir: tempfile::TempDir,
}

impl Store {
    fn new() -> Store {
        Store {
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_minutely"))
            .args(args)
            .env("MINUTELY_DB", self.dir.path().join("minutely.db"))
            .current_dir(self.dir.path())
            .output()
            .expect("run minutely")
    }

    /// `minutely import cgrates PLAN --currency EUR ARGS`: (succeeded, stdout, stderr).
    fn import(&self, plan: &str, args: &[&str]) -> (bool, String, String) {
        let dir = plans().join(plan);
        let mut all = vec!["import", "cgrates", dir.to_str().expect("UTF-8 path")];
        all.extend_from_slice(&["--currency", "EUR"]);
        all.extend_from_slice(args);
        let out = self.run(&all);
        let text = |b: Vec<u8>| String::from_utf8(b).expect("UTF-8 output");
        (out.status.success(), text(out.stdout), text(out.stderr))
    }

    /// The cost line of `minutely rates lookup`, such as `1.40 EUR`.
    fn cost(&self, number: &str, duration: &str) -> String {
        let out = self.run(&[
            "rates",
            "lookup",
            number,
            "--currency",
            "EUR",
            "--duration",
            duration,
        ]);
        let stdout = String::from_utf8(out.stdout).expect("UTF-8 output");
        assert!(out.status.success(), "lookup {number}: {stdout}");
        let line = stdout
            .lines()
            .find(|l| l.starts_with("cost of"))
            .expect("a cost line");
        let after = line.split_once(':').expect("cost of Ns: X EUR").1.trim();
        after.split(" (").next().expect("the amount").to_string()
    }

    /// The EUR card in the store, as rate-card CSV rows (without the header).
    fn card(&self) -> Vec<String> {
        let out = self.run(&["rates", "export", "--currency", "EUR"]);
        let stdout = String::from_utf8(out.stdout).expect("UTF-8 output");
        stdout.lines().skip(1).map(str::to_string).collect()
    }
}

/// The places of the report (`Rates.csv:5`), in the order listed.
fn places(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("  "))
        .filter_map(|l| {
            let (file, rest) = l.split_once(".csv:")?;
            let line = rest.split(':').next()?;
            Some(format!("{file}.csv:{line}"))
        })
        .collect()
}

/// A plan that is refused: the report lists exactly `expected`, nothing is stored, and with
/// `--skip-unrepresentable` nothing remains to import either.
fn refused_whole(plan: &str, args: &[&str], expected: &[&str]) {
    let store = Store::new();
    let (ok, stdout, stderr) = store.import(plan, args);
    assert!(!ok, "{plan} {args:?} should be refused:\n{stdout}");
    assert_eq!(places(&stdout), expected, "{plan} {args:?}:\n{stdout}");
    assert!(stderr.contains("nothing stored"), "{stderr}");
    let mut skip = args.to_vec();
    skip.push("--skip-unrepresentable");
    let (ok, _, stderr) = store.import(plan, &skip);
    assert!(!ok, "{plan}: nothing of it can be represented");
    assert!(
        stderr.contains("no rate of the profile can be represented"),
        "{stderr}"
    );
    assert_eq!(store.card(), Vec::<String>::new(), "{plan}: nothing stored");
}

#[test]
fn tutorial_is_reported_whole() {
    let store = Store::new();
    let (ok, _, stderr) = store.import("tutorial", &[]);
    assert!(!ok);
    assert!(
        stderr.contains("several tenants (cgrates.com, cgrates.org)"),
        "{stderr}"
    );
    // CGRateS prices 1001 calling 1002 for 120 s at 0.7002 (apier/v1/costs_it_test.go,
    // testCostGetCost) and for 2m10s at 0.7169 (general_tests/tutorial_it_test.go,
    // testTutorialGetCost): RT_20CNT's second group
    // costs half the first (Rates.csv:5), and "1002" is an extension, not an E.164 prefix.
    refused_whole(
        "tutorial",
        &["--tenant", "cgrates.org", "--subject", "1001"],
        &[
            "DestinationRates.csv:4", // MaxCost 0.12 *disconnect
            "Destinations.csv:2",
            "Destinations.csv:3",
            "Destinations.csv:5",
            "Rates.csv:5",
            "RatingProfiles.csv:2",
            "RatingProfiles.csv:3",
        ],
    );
}

#[test]
fn tutorial2_imports_its_all_day_prefixes_at_cgrates_prices() {
    refused_whole(
        "tutorial2",
        &[],
        &[
            "Destinations.csv:2",
            "Destinations.csv:3",
            "Destinations.csv:4",
            "Destinations.csv:5",
            "Destinations.csv:6",
            "RatingPlans.csv:2", // PEAK
            "RatingPlans.csv:3", // OFFPEAK_MORNING
            "RatingPlans.csv:4", // OFFPEAK_EVENING
            "RatingPlans.csv:5", // OFFPEAK_WEEKEND
            "RatingPlans.csv:7", // NEW_YEAR, weight 20
            "RatingProfiles.csv:2",
        ],
    );
    // Read as international digits, 20 and 30 are Egypt and Greece; 10 (+1, shared) and
    // "voicemail" are still not prefixes of one country.
    let store = Store::new();
    let args = ["--digits-are-e164"];
    let (ok, stdout, _) = store.import("tutorial2", &args);
    assert!(!ok);
    let expected = [
        "Destinations.csv:2",
        "Destinations.csv:6",
        "RatingPlans.csv:2",
        "RatingPlans.csv:3",
        "RatingPlans.csv:4",
        "RatingPlans.csv:5",
        "RatingPlans.csv:7",
    ];
    assert_eq!(places(&stdout), expected, "{stdout}");
    let (ok, stdout, stderr) = store.import(
        "tutorial2",
        &["--digits-are-e164", "--skip-unrepresentable"],
    );
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("the elements listed are left out"),
        "{stdout}"
    );
    assert_eq!(
        store.card(),
        [
            "dial_out,+20,,DST_2030,EG,false,1.2,0.2,60,1,2019-03-01T00:00:00Z",
            "dial_out,+30,,DST_2030,GR,false,1.2,0.2,60,1,2019-03-01T00:00:00Z",
        ]
    );
    // general_tests/tutorial2_it_test.go, testTutGetCost: subject 1002 (rated by *any)
    // calling 2001 for 45 s costs 1.4 (0.2 to connect and the first minute whole at 1.2, RT_120C).
    assert_eq!(store.cost("+20 2 23456789", "45s"), "1.40 EUR");
    // After the first minute RT_120C bills by the second: 0.2 + 1.2 + 1.2 * 10 / 60.
    assert_eq!(store.cost("+30 210 1234567", "70s"), "1.60 EUR");
    // The same test prices 2001 at 0.55 on New Year's Day (DR_20_60C, NEW_YEAR): that timing
    // is what RatingPlans.csv:7 reports, and what the card leaves out.
}

#[test]
fn oldtutorial_is_reported_whole() {
    // Its tests (general_tests/oldtutorial_it_test.go) are commented out upstream; every rate
    // of its *any profile depends on the time of day, the MaxCost or a non-E.164 prefix.
    refused_whole(
        "oldtutorial",
        &[],
        &[
            "DestinationRates.csv:9", // MaxCost 0.62 *disconnect
            "Destinations.csv:4",
            "Destinations.csv:5",
            "Rates.csv:3", // RT_10CNT: 0.1 then 0.05 per minute
            "Rates.csv:9", // RT_40CNT: 30 s steps to 60 s, then 10 s
            "Rates.csv:9", // RT_40CNT: 0.4 then 0.2 per minute
            "RatingPlans.csv:2",
            "RatingPlans.csv:3",
            "RatingPlans.csv:4",
            "RatingPlans.csv:5",
            "RatingProfiles.csv:2",
        ],
    );
}

#[test]
fn testtp_imports_exactly_at_cgrates_prices() {
    let store = Store::new();
    let (ok, stdout, stderr) = store.import("testtp", &["--dry-run"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("every element of the profile is represented exactly"));
    assert!(
        stdout.contains("dial_out,+4917,,GERMANY_MOBILE,DE,false,60,0,1,1,2012-01-01T00:00:00Z")
    );
    assert_eq!(
        store.card(),
        Vec::<String>::new(),
        "a dry run stores nothing"
    );
    let (ok, stdout, stderr) = store.import("testtp", &[]);
    assert!(ok, "{stderr}");
    assert_eq!(places(&stdout), Vec::<String>::new());
    assert!(stdout.contains("added EUR version effective from 2012-01-01T00:00:00Z"));
    assert_eq!(store.card().len(), 4);
    // apier/v1/apier_it_test.go (testApierResponderGetCost) and general_tests/costs1_test.go
    // (TestCosts1GetCost1): 90 s to +4917621621391 and to +4986517174963 cost 90 (RT_1CENT:
    // 1 per second); a call of 0 s costs 0 (TestCosts1GetCostZeroDuration).
    assert_eq!(store.cost("+4917621621391", "90s"), "90.00 EUR");
    assert_eq!(store.cost("+4986517174963", "90s"), "90.00 EUR");
    assert_eq!(store.cost("+4986517174963", "0s"), "0.00 EUR");
    // The same directory again changes nothing.
    let (ok, stdout, _) = store.import("testtp", &[]);
    assert!(ok && stdout.contains("unchanged EUR version"), "{stdout}");
}

#[test]
fn testit_is_reported_whole() {
    // The default profile (*any) prices the destination *any with RT_1CNT (0.01 per minute,
    // by the second) rounded *up to 5 decimals, which can change a charge that Minutely
    // rounds to the cent once.
    refused_whole(
        "testit",
        &[],
        &[
            "DestinationRates.csv:2", // rounding *up 5
            "DestinationRates.csv:2", // destination *any
            "RatingProfiles.csv:2",
        ],
    );
    // apier/v2/cdrs_it_test.go, testV2CDRsProcessCDR: subject ANY2CNT calling +4986517174963
    // is charged 0.0198 (CustomerCharges), an amount below the cent. With *any priced at +49
    // what is left is that rounding (RT_2CNT, *up to 5 decimals).
    let args = ["--subject", "ANY2CNT", "--any-destination", "+49"];
    refused_whole(
        "testit",
        &args,
        &["DestinationRates.csv:3", "RatingProfiles.csv:4"],
    );
}

#[test]
fn reratecdrs_imports_at_chosen_prefixes_at_cgrates_prices() {
    let store = Store::new();
    let (ok, _, stderr) = store.import("reratecdrs", &[]);
    assert!(!ok);
    assert!(
        stderr.contains("choose one of 1001, rs1, rs2 with --subject"),
        "{stderr}"
    );
    refused_whole(
        "reratecdrs",
        &["--subject", "1001"],
        &["DestinationRates.csv:2", "RatingProfiles.csv:2"],
    );
    let (ok, stdout, stderr) = store.import(
        "reratecdrs",
        &["--subject", "1001", "--any-destination", "+49"],
    );
    assert!(ok, "{stderr}");
    assert_eq!(places(&stdout), Vec::<String>::new());
    // general_tests/rerate_cdrs_it_test.go, TestRerateCDRs: 1001's second call of 2 minutes
    // costs 1.2, and its first, whose first minute a 1-minute voice balance pays, costs 0.6
    // for the other minute (RT_ANY: 0.6 per minute, by the second; Minutely has no voice
    // balances, so that minute is the cost of a 1-minute call here).
    assert_eq!(store.cost("+49 30 1234567", "60s"), "0.60 EUR");
    assert_eq!(store.cost("+49 30 1234567", "2m"), "1.20 EUR");
}

#[test]
fn a_file_over_the_bound_or_a_missing_directory_is_refused() {
    let store = Store::new();
    let dir = store.dir.path().join("plan");
    std::fs::create_dir(&dir).expect("a plan directory");
    // A sparse file one byte over the bound: nothing past the bound is read.
    let big = std::fs::File::create(dir.join("Destinations.csv")).expect("a file");
    big.set_len(64 * 1024 * 1024 + 1).expect("a sparse file");
    let plan = dir.to_str().expect("UTF-8 path");
    let out = store.run(&["import", "cgrates", plan, "--currency", "EUR"]);
    let stderr = String::from_utf8(out.stderr).expect("UTF-8 errors");
    assert!(!out.status.success());
    assert!(stderr.contains("is larger than 67108864 bytes"), "{stderr}");
    let missing = store.dir.path().join("nowhere");
    let out = store.run(&[
        "import",
        "cgrates",
        missing.to_str().unwrap(),
        "--currency",
        "EUR",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a directory"));
    assert_eq!(store.card(), Vec::<String>::new());
}
