//! `minutely prices` and `minutely advise` on a real store: prices set offline and audited,
//! then a month of ingested usage re-rated under each plan (C18 to C21, C32), checked against a
//! hand computation from the card.

use rust_decimal::Decimal;
use serde_json::Value;
use std::path::{Path, PathBuf};

use crate::support::run;
use std::str::FromStr;

const RATES: &str = minutely_testkit::rate_card!(
    "\
dial_out,+33,,France,FR,false,0.0240,0,60,60,2026-01-01T00:00:00Z
dial_out,+336,,France mobile,FR,false,0.1100,0,60,60,2026-01-01T00:00:00Z
dial_in_toll,FR,,France toll,FR,false,0.0300,0,60,60,2026-01-01T00:00:00Z
"
);

const TENANT: &str = r#"
id = "acme"
name = "Acme"
country = "FR"
currency = "EUR"
timezone = "Europe/Paris"
agreement = "volume_licensing"

[licenses]
MCOMEETADD = 1
MCOMEETACPEA = 1
MCOPSTNPP = 1

[wallet]

[[numbers]]
number = "+33 1 86 95 00 00"
kind = "toll"

[[users]]
upn = "sub@acme.example"
display_name = "Sub User"
licenses = ["MCOMEETADD", "MCOPSTNPP"]

[[users]]
upn = "ppm@acme.example"
display_name = "PPM User"
licenses = ["MCOMEETACPEA"]
"#;

/// January 2026: Sub 90 minutes to a French mobile and 10 on the toll bridge; PPM 20 minutes
/// to a French mobile and 10 on the toll bridge.
const CALLS: &str = "\
call_id,conference_id,organizer,direction,service_number,caller_number,destination_number,start,end
s1,c1,sub@acme.example,dial_out,,,+33612345678,2026-01-10T10:00:00Z,2026-01-10T11:30:00Z
s2,c2,sub@acme.example,dial_in,+33186950000,+33144556677,,2026-01-11T10:00:00Z,2026-01-11T10:10:00Z
p1,c3,ppm@acme.example,dial_out,,,+33612345678,2026-01-12T10:00:00Z,2026-01-12T10:20:00Z
p2,c4,ppm@acme.example,dial_in,+33186950000,+33144556677,,2026-01-13T10:00:00Z,2026-01-13T10:10:00Z
";

fn ok(db: &Path, args: &[&str]) -> String {
    let out = run(db, args);
    assert!(
        out.status.success(),
        "minutely {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn fails(db: &Path, args: &[&str]) -> String {
    let out = run(db, args);
    assert!(!out.status.success(), "minutely {args:?} should fail");
    String::from_utf8(out.stderr).expect("UTF-8")
}

fn d(text: &str) -> Decimal {
    Decimal::from_str(text).expect("a decimal")
}

fn dec(v: &Value) -> Decimal {
    d(v.as_str()
        .unwrap_or_else(|| panic!("a decimal string, got {v}")))
}

fn seeded(dir: &Path) -> PathBuf {
    let db = dir.join("minutely.db");
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        path.to_str().expect("UTF-8 path").to_string()
    };
    let (rates, tenant, calls) = (
        write("rates.csv", RATES),
        write("tenant.toml", TENANT),
        write("calls.csv", CALLS),
    );
    ok(&db, &["rates", "import", &rates, "--currency", "EUR"]);
    ok(&db, &["apply", "-f", &tenant]);
    ok(&db, &["ingest", &calls, "--tenant", "acme"]);
    db
}

#[test]
fn c20_c32_advise_prices_each_plan_from_the_store() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let db = seeded(dir.path());
    let set = ok(
        &db,
        &[
            "prices",
            "set",
            "EUR",
            "MCOMEETADD=5.00",
            "MCOMEETACPEA=0",
            "MCOPSTNPP=1",
        ],
    );
    assert!(set.contains("EUR MCOPSTNPP 1.00"), "{set}");
    let list = ok(&db, &["prices", "list"]);
    assert_eq!(
        list,
        "EUR MCOMEETACPEA 0.00\nEUR MCOMEETADD 5.00\nEUR MCOPSTNPP 1.00\n"
    );
    // Audited like the server's price changes.
    let audit = ok(&db, &["audit"]);
    assert!(audit.contains("license_prices.set"), "{audit}");

    let json = ok(
        &db,
        &[
            "advise", "--tenant", "acme", "--from", "2026-01", "--to", "2026-01", "--json",
        ],
    );
    let a: Value = serde_json::from_str(&json).expect("JSON");
    let s = &a["scenarios"];
    // Actual: a 60-minute pool (C20) pays 60 of Sub's 90 minutes, 30 x 0.11 by credits
    // (C32); PPM 20 x 0.11 + 10 x 0.03; Sub's toll dial-in is included (C18). Licenses
    // 5 + 0 + 1.
    assert_eq!(
        dec(&s["actual"]["usage_cost"]),
        d("3.30") + d("2.20") + d("0.30")
    );
    assert_eq!(dec(&s["actual"]["total"]), d("5.80") + d("6.00"));
    // All pay-per-minute: every minute by credits.
    assert_eq!(
        dec(&s["all_ppm"]["total"]),
        d("9.90") + d("0.30") + d("2.20") + d("0.30")
    );
    // All subscription: a 120-minute pool covers both dial-outs, toll dial-ins included, no
    // credits needed (C19): two MCOMEETADD only.
    assert_eq!(dec(&s["all_subscription"]["usage_cost"]), d("0"));
    assert_eq!(dec(&s["all_subscription"]["total"]), d("10.00"));
    assert_eq!(s["all_subscription"]["pool_minutes_used"], 110);
    assert_eq!(dec(&s["cheapest"]["total"]), d("10.00"));
    assert_eq!(dec(&a["saving"]), d("1.80"));
    assert_eq!(a["search"], "exhaustive");

    let table = ok(
        &db,
        &[
            "advise", "--tenant", "acme", "--from", "2026-01", "--to", "2026-01",
        ],
    );
    assert!(table.contains("cheapest"), "{table}");
    assert!(table.contains("ppm@acme.example"), "{table}");
    assert!(table.contains("saving against actual: 1.80 EUR"), "{table}");
}

#[test]
fn bad_prices_and_periods_are_refused_naming_them() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let db = seeded(dir.path());
    for (args, named) in [
        (vec!["prices", "set", "EUR", "MCOBOGUS=1"], "MCOBOGUS"),
        (vec!["prices", "set", "EUR", "MCOMEETADD=-1"], "negative"),
        (
            vec!["prices", "set", "EUR", "MCOMEETADD=1.234"],
            "decimal places",
        ),
        (vec!["prices", "set", "EUR", "MCOMEETADD"], "LICENSE=PRICE"),
        (vec!["prices", "set", "XYZ", "MCOMEETADD=1"], "XYZ"),
    ] {
        let err = fails(&db, &args);
        assert!(err.contains(named), "{args:?}: {err}");
    }
    assert_eq!(ok(&db, &["prices", "list"]), "");
    for (from, to, named) in [
        ("2026-13", "2026-01", "from"),
        ("2026-01", "2100-01", "future"),
        ("2025-01", "2026-02", "12 months"),
    ] {
        let err = fails(
            &db,
            &["advise", "--tenant", "acme", "--from", from, "--to", to],
        );
        assert!(err.contains(named), "{from}..{to}: {err}");
    }
    let err = fails(
        &db,
        &[
            "advise", "--tenant", "nobody", "--from", "2026-01", "--to", "2026-01",
        ],
    );
    assert!(err.contains("unknown_tenant"), "{err}");
    // Without prices everything counted is listed as missing.
    let json = ok(
        &db,
        &[
            "advise", "--tenant", "acme", "--from", "2026-01", "--to", "2026-01", "--json",
        ],
    );
    let a: Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(
        a["missing_prices"],
        serde_json::json!(["MCOMEETADD", "MCOMEETACPEA", "MCOPSTNPP"])
    );
}
