//! `minutely rate` over several tenants at once: records routed by their `tenant` column or
//! their organizer, each tenant rated on its own book as if alone (C22), records of no tenant
//! refused (C30), and the run refused whole when a record's tenant is unknown or ambiguous.

use crate::support::run;
use minutely_testkit::fixtures::{RATES, example_tenant};
use std::path::PathBuf;
use std::process::Output;

/// A working directory with the sample card and two tenants, contoso and fabrikam (the same
/// directory, funded differently, with its own users).
struct Run {
    dir: tempfile::TempDir,
}

impl Run {
    fn new() -> Run {
        let run = Run {
            dir: tempfile::tempdir().expect("a temporary directory"),
        };
        run.write("rates.csv", RATES);
        std::fs::create_dir(run.path("tenants")).unwrap();
        run.write("tenants/contoso.toml", &example_tenant());
        run.write("tenants/fabrikam.toml", &fabrikam());
        run
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).expect("write a test file");
        path
    }

    /// `minutely rate` over the sample card in EUR, with these tenant files and calls.
    fn rate(&self, tenant_files: &[&str], calls: &str, extra: &[&str]) -> Output {
        let rates = self.path("rates.csv");
        let calls = self.path(calls);
        let mut args = vec![
            "rate".to_string(),
            "--rates".into(),
            rates.display().to_string(),
            "--currency".into(),
            "EUR".into(),
            "--calls".into(),
            calls.display().to_string(),
            "--extended".into(),
        ];
        for file in tenant_files {
            args.push("--tenant-file".into());
            args.push(self.path(file).display().to_string());
        }
        args.extend(extra.iter().map(|a| a.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&self.path("unused.db"), &args)
    }

    /// A successful run's export and summary.
    fn ok(&self, tenant_files: &[&str], calls: &str, extra: &[&str]) -> (String, String) {
        let out = self.rate(tenant_files, calls, extra);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "minutely rate failed:\n{stderr}");
        (String::from_utf8(out.stdout).unwrap(), stderr)
    }

    /// Generated traffic of one tenant file.
    fn generate(&self, tenant_file: &str, seed: &str) -> String {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_minutely-tools"))
            .args(["gen", "calls", "--count", "1500", "--seed", seed])
            .arg("--tenant-file")
            .arg(self.path(tenant_file))
            .output()
            .expect("run minutely-tools");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

/// The example tenant as another tenant: its id, users' domain and fundings differ.
fn fabrikam() -> String {
    example_tenant()
        .replace("contoso", "fabrikam")
        .replace("amount = 200", "amount = 75")
        .replace("Contoso SA", "Fabrikam GmbH")
}

/// Every data line of a CSV text (the header left out).
fn rows(text: &str) -> Vec<&str> {
    text.lines().skip(1).collect()
}

/// The rows of a multi-tenant output whose last column is `tenant`, without that column.
fn rows_of<'a>(text: &'a str, tenant: &str) -> Vec<&'a str> {
    let suffix = format!(",{tenant}");
    rows(text)
        .into_iter()
        .filter_map(|row| row.strip_suffix(suffix.as_str()))
        .collect()
}

/// A single-tenant summary, without its timing line.
fn facts(summary: &str) -> Vec<&str> {
    summary
        .lines()
        .filter(|l| !l.starts_with("time:"))
        .collect()
}

/// The block of a multi-tenant summary under `title`, de-indented.
fn block<'a>(summary: &'a str, title: &str) -> Vec<&'a str> {
    summary
        .lines()
        .skip_while(|l| *l != title)
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| &l[2..])
        .collect()
}

/// The calls of `text` with a `tenant` column first, filled by `tenant(i)` for row `i`.
fn with_tenant_column(text: &str, tenant: impl Fn(usize) -> &'static str) -> String {
    let mut lines = text.lines();
    let mut out = format!("tenant,{}\n", lines.next().unwrap());
    for (i, line) in lines.enumerate() {
        out += &format!("{},{line}\n", tenant(i));
    }
    out
}

const STRANGER: &str = "x1,m9,stranger@nowhere.example,dial_out,,,+33 1 42 68 53 00,2026-01-20T10:00:00Z,2026-01-20T10:05:00Z";

#[test]
fn c22_each_tenant_of_a_combined_file_is_rated_as_if_alone() {
    let run = Run::new();
    let contoso = run.generate("tenants/contoso.toml", "7");
    let fabrikam = run.generate("tenants/fabrikam.toml", "8");
    run.write("contoso.csv", &contoso);
    run.write("fabrikam.csv", &fabrikam);
    // contoso's records name no tenant (their organizer routes them); every other fabrikam
    // record names its tenant; one record's organizer is a user of neither.
    let mut combined = with_tenant_column(&contoso, |_| "");
    combined += &rows(&with_tenant_column(&fabrikam, |i| {
        if i % 2 == 0 { "fabrikam" } else { "" }
    }))
    .join("\n");
    combined += &format!("\n,{STRANGER}\n");
    run.write("combined.csv", &combined);

    let alone_c = run.ok(&["tenants/contoso.toml"], "contoso.csv", &[]);
    let alone_f = run.ok(&["tenants/fabrikam.toml"], "fabrikam.csv", &[]);
    let refused = run.path("refused.csv").display().to_string();
    let (export, summary) = run.ok(&["tenants"], "combined.csv", &["--refused", &refused]);

    assert!(
        export.starts_with("UsageId,") && export.lines().next().unwrap().ends_with(",Rule,Tenant")
    );
    assert!(rows(&alone_c.0).len() > 100 && rows(&alone_f.0).len() > 100);
    assert_eq!(
        rows_of(&export, "contoso"),
        rows(&alone_c.0),
        "C22 contoso's rows"
    );
    assert_eq!(
        rows_of(&export, "fabrikam"),
        rows(&alone_f.0),
        "C22 fabrikam's rows"
    );
    assert_eq!(
        rows(&export).len(),
        rows(&alone_c.0).len() + rows(&alone_f.0).len(),
        "no row of another tenant or of none"
    );
    assert_eq!(
        block(&summary, "tenant contoso"),
        facts(&alone_c.1),
        "contoso's totals"
    );
    assert_eq!(
        block(&summary, "tenant fabrikam"),
        facts(&alone_f.1),
        "fabrikam's totals"
    );
    let total = block(&summary, "total (2 tenants)");
    let records = contoso.lines().count() + fabrikam.lines().count() - 2 + 1;
    assert_eq!(total[0], format!("records:    {records}"), "{summary}");
    assert!(
        block(&summary, "no tenant (the organizer is a user of none)")
            .contains(&"  organizer_not_enabled             1"),
        "{summary}"
    );

    // C30: the record of no tenant is charged nothing and refused, with an empty tenant.
    let refused = std::fs::read_to_string(run.path("refused.csv")).unwrap();
    assert!(
        refused.starts_with("call_id,")
            && refused
                .lines()
                .next()
                .unwrap()
                .ends_with(",reason,rule,tenant")
    );
    let stranger: Vec<&str> = rows(&refused)
        .into_iter()
        .filter(|l| l.starts_with("x1,m9,stranger@nowhere.example,"))
        .collect();
    assert_eq!(stranger.len(), 1, "{refused}");
    assert!(
        stranger[0].ends_with(",organizer_not_enabled,C18,"),
        "{refused}"
    );
    assert!(
        !export.contains("x1,"),
        "the stranger's call is not exported"
    );
    for line in rows(&refused) {
        assert!(
            line.ends_with(",contoso") || line.ends_with(",fabrikam") || line.ends_with("C18,"),
            "every refused call carries its tenant: {line}"
        );
    }

    // The same tenants given one by one rate alike.
    let (again, _) = run.ok(
        &["tenants/fabrikam.toml", "tenants/contoso.toml"],
        "combined.csv",
        &[],
    );
    assert_eq!(again, export, "a directory and the files one by one");
}

#[test]
fn a_record_of_an_unknown_tenant_or_an_ambiguous_organizer_refuses_the_run() {
    let run = Run::new();
    // northwind has fabrikam's users: a fabrikam user's record must name its tenant.
    run.write(
        "northwind.toml",
        &fabrikam().replace("id = \"fabrikam\"", "id = \"northwind\""),
    );
    let header = "tenant,call_id,conference_id,organizer,direction,service_number,caller_number,destination_number,start,end";
    let calls = format!(
        "{header}
,a1,m1,bruno.martin@contoso.example,dial_out,,,+33 1 42 68 53 00,2026-01-05T10:00:00Z,2026-01-05T10:01:00Z
,a2,m1,Bruno.Martin@Fabrikam.example,dial_out,,,+33 1 42 68 53 00,2026-01-05T10:00:00Z,2026-01-05T10:01:00Z
northwind,a3,m1,bruno.martin@fabrikam.example,dial_out,,,+33 1 42 68 53 00,2026-01-05T10:00:00Z,2026-01-05T10:01:00Z
initech,a4,m1,bruno.martin@contoso.example,dial_out,,,+33 1 42 68 53 00,2026-01-05T10:00:00Z,2026-01-05T10:01:00Z
"
    );
    run.write("calls.csv", &calls);
    let refused = run.path("refused.csv");
    let out = run.rate(
        &["tenants", "northwind.toml"],
        "calls.csv",
        &["--refused", refused.to_str().unwrap()],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("line 3, column organizer")
            && stderr
                .contains("Bruno.Martin@Fabrikam.example is a user of tenants fabrikam, northwind"),
        "the ambiguous record is named with its tenants: {stderr}"
    );
    assert!(
        stderr.contains("line 5, column tenant") && stderr.contains("\"initech\""),
        "the unknown tenant is named with its line: {stderr}"
    );
    assert!(
        !stderr.contains("line 2") && !stderr.contains("line 4"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "a refused run exports nothing");
    assert!(
        !refused.exists(),
        "a refused run leaves no refused-calls file"
    );

    // A single tenant's run refuses a record naming another tenant too.
    let out = run.rate(&["tenants/contoso.toml"], "calls.csv", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("\"northwind\""),
        "{stderr}"
    );
}

#[test]
fn the_tenants_of_a_run_are_bounded_distinct_and_in_the_cards_currency() {
    let run = Run::new();
    run.write(
        "calls.csv",
        &format!("{}\n", minutely_formats::calls::HEADER.join(",")),
    );
    // The same tenant twice.
    run.write("again.toml", &example_tenant());
    let out = run.rate(&["tenants", "again.toml"], "calls.csv", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("tenant contoso is also the tenant of"),
        "{stderr}"
    );
    // Another currency than the card's.
    run.write(
        "dollars.toml",
        &fabrikam().replace("currency = \"EUR\"", "currency = \"USD\""),
    );
    let out = run.rate(&["tenants/contoso.toml", "dollars.toml"], "calls.csv", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("pays in USD"),
        "{stderr}"
    );
    // More tenant files than a run rates: refused before any is read.
    let many = run.path("many");
    std::fs::create_dir(&many).unwrap();
    // 1000 is `MAX_TENANTS` of `minutely rate`.
    for i in 0..=1000 {
        std::fs::write(many.join(format!("t{i:04}.toml")), "").unwrap();
    }
    let out = run.rate(&["many"], "calls.csv", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("at most 1000 tenants"),
        "{stderr}"
    );
    // An empty directory.
    std::fs::create_dir(run.path("empty")).unwrap();
    let out = run.rate(&["empty"], "calls.csv", &[]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds no tenant file"));
}

#[test]
fn c11_an_offline_run_uses_the_minimum_of_the_tenants_currency() {
    let run = Run::new();
    run.write(
        "calls.csv",
        &format!("{}\n", minutely_formats::calls::HEADER.join(",")),
    );
    let yen = example_tenant()
        .replace("country = \"FR\"", "country = \"JP\"")
        .replace("currency = \"EUR\"", "currency = \"JPY\"")
        .replace("Europe/Paris", "Asia/Tokyo")
        .replace("trigger = 50", "trigger = 5000")
        .replace("amount = 100 ", "amount = 5000 ")
        .replace("amount = 200", "amount = 4999")
        .replace("amount = \"150\"", "amount = \"5000\"");
    run.write("yen.toml", &yen);
    let yen_run = |extra: &[&str]| {
        let mut args = vec![
            "rate",
            "--currency",
            "JPY",
            "--tenant-file",
            "yen.toml",
            "--calls",
            "calls.csv",
            "--rates",
            "rates.csv",
        ];
        args.extend_from_slice(extra);
        std::process::Command::new(env!("CARGO_BIN_EXE_minutely"))
            .args(&args)
            .current_dir(run.dir.path())
            .output()
            .unwrap()
    };
    // The default minimum (50) lets the 4999 JPY funding through.
    let out = yen_run(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // JPY's own minimum of 5000 refuses it, naming the minimum and the currency.
    let out = yen_run(&["--currency-minimum", "JPY=5000"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("amount_below_minimum")
            && stderr.contains("from 5000 (the minimum in JPY)"),
        "{stderr}"
    );
    let fixed = yen.replace("amount = 4999", "amount = 5000");
    run.write("yen.toml", &fixed);
    let out = yen_run(&["--currency-minimum", "JPY=5000"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Another currency's minimum does not apply to a JPY tenant.
    run.write("yen.toml", &yen);
    let out = yen_run(&["--currency-minimum", "USD=5000"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = yen_run(&["--currency-minimum", "JPY5000"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected CODE=AMOUNT"));
}

#[test]
fn c30_an_organizer_with_a_title_case_letter_is_routed_to_its_tenant() {
    // "ǅ" (U+01C5) is a title-case letter: not upper case, yet lower-cased to "ǆ". A UPN that
    // holds it is found as written: the record goes to its tenant and is charged there, not
    // refused as nobody's (C30).
    let run = Run::new();
    run.write(
        "tenants/fabrikam.toml",
        &fabrikam().replace("bruno.martin@fabrikam", "ǅbruno.martin@fabrikam"),
    );
    let header = "call_id,conference_id,organizer,direction,service_number,caller_number,destination_number,start,end";
    run.write(
        "calls.csv",
        &format!(
            "{header}\na1,m1,ǅbruno.martin@fabrikam.example,dial_out,,,+33 1 42 68 53 00,2026-01-05T10:00:00Z,2026-01-05T10:01:00Z\n"
        ),
    );
    let refused = run.path("refused.csv");
    let (export, _) = run.ok(
        &["tenants"],
        "calls.csv",
        &["--refused", refused.to_str().unwrap()],
    );
    assert_eq!(rows_of(&export, "fabrikam").len(), 1, "{export}");
    let refused = std::fs::read_to_string(&refused).unwrap();
    assert!(rows(&refused).is_empty(), "{refused}");
}
