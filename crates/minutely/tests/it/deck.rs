//! `minutely import deck` through the real binary: a carrier's deck read with the example
//! mapping (examples/deck-mapping.toml) into the store's rate card, a refused deck that changes
//! nothing, the magnitude check and its explicit acceptance, and a dry run that stores nothing.

use crate::support::{minutely, run};
use std::path::{Path, PathBuf};

/// A deck in the layout of examples/deck-mapping.toml: `;`, decimal commas, day.month.year.
const DECK: &str = "\
Code;Destination;Rate;Setup;Billing;Effective
+33;France;0,0240;0;60/60;01.01.2026
+331;France Paris;0,0250;0;60/60;01.01.2026
+336;France mobile;0,1100;0;60/60;01.01.2026
0044;United Kingdom;0,0180;;1/1;01.01.2026
1416;;0,0100;0,0500;6/6;01.01.2026
+33;France;0,0260;0;60/60;01.02.2026
";

fn mapping() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/deck-mapping.toml")
}

fn text(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// `minutely import deck FILE --currency USD --mapping examples/deck-mapping.toml` and more.
fn import(db: &Path, deck: &Path, more: &[&str]) -> std::process::Output {
    let mapping = mapping();
    let mut args = vec![
        "import",
        "deck",
        text(deck),
        "--currency",
        "USD",
        "--mapping",
        text(&mapping),
    ];
    args.extend_from_slice(more);
    run(db, &args)
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_deck_becomes_the_stores_dial_out_card_and_prices_calls() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = dir.path().join("minutely.db");
    let deck = dir.path().join("deck.csv");
    std::fs::write(&deck, DECK).expect("write the deck");
    let dry = import(&db, &deck, &["--dry-run"]);
    assert!(dry.status.success(), "{}", stderr(&dry));
    let summary = stdout(&dry);
    assert!(
        summary.contains("6 read, 6 priced, 0 skipped (non-geographic), 0 refused"),
        "{summary}"
    );
    assert!(summary.contains("versions:  2"), "{summary}");
    assert!(
        summary.contains("effective from 2026-01-01T00:00:00Z: 5 prefixes"),
        "{summary}"
    );
    assert!(summary.contains("countries: 3"), "{summary}");
    assert!(!db.exists(), "a dry run stores nothing");

    let out = import(&db, &deck, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("added USD version effective from 2026-02-01T00:00:00Z"));
    let card = minutely(&db, &["rates", "export", "--currency", "USD"]);
    assert!(
        card.contains("dial_out,+1416,,Canada,CA,false,0.0100,0.0500,6,6,2026-01-01T00:00:00Z"),
        "C8: the numbering plan's country, its name for want of a description:\n{card}"
    );
    assert!(
        card.contains("dial_out,+44,,United Kingdom,GB,false,0.0180,0,1,1,"),
        "{card}"
    );
    // C6, C7: 61 s on 6/6 increments are 66 billable seconds: 0.05 + 0.0100 * 66 / 60 = 0.061.
    let lookup = minutely(
        &db,
        &[
            "rates",
            "lookup",
            "+1 416 555 0100",
            "--currency",
            "USD",
            "--duration",
            "61s",
            "--at",
            "2026-01-15T00:00:00Z",
        ],
    );
    assert!(
        lookup.contains("cost of 61s:   0.06 USD (66 billable seconds)"),
        "{lookup}"
    );
    // C36: February's version has France only; nothing is inherited.
    let february = run(
        &db,
        &[
            "rates",
            "lookup",
            "+44 20 7946 0018",
            "--currency",
            "USD",
            "--at",
            "2026-02-02T00:00:00Z",
        ],
    );
    assert!(!february.status.success());
    assert!(
        stderr(&february).contains("no_rate"),
        "{}",
        stderr(&february)
    );
    let again = import(&db, &deck, &[]);
    assert!(stdout(&again).contains("unchanged USD version effective from 2026-01-01T00:00:00Z"));
}

#[test]
fn a_deck_with_bad_rows_is_refused_whole_naming_each_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = dir.path().join("minutely.db");
    let bad = format!(
        "{DECK}+49;Germany;0.02;0;60/60;01.01.2026\n+33;France twice;0,0240;0;60/60;01.01.2026\n+99;Nowhere;0,01;0;60-60;01.01.2026\n"
    );
    let deck = dir.path().join("bad.csv");
    std::fs::write(&deck, bad).expect("write the deck");
    for more in [&["--dry-run"][..], &[]] {
        let out = import(&db, &deck, more);
        assert!(!out.status.success(), "{more:?}");
        assert!(stdout(&out).contains("9 read, 6 priced, 0 skipped (non-geographic), 3 refused"));
        let errors = stderr(&out);
        for expected in [
            "line 8, column Rate: \"0.02\": '.' in a deck whose decimal separator is ','",
            "line 9, column Code: +33 is already on line 2",
            "line 10, column Code: \"+99\": no country calling code",
            "line 10, column Billing: \"60-60\"",
            "nothing was changed",
        ] {
            assert!(errors.contains(expected), "{expected}\n{errors}");
        }
    }
    let card = minutely(&db, &["rates", "export", "--currency", "USD"]);
    assert_eq!(card.lines().count(), 1, "only the header: {card}");
}

#[test]
fn a_rate_far_from_its_family_is_refused_until_accepted_by_prefix() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = dir.path().join("minutely.db");
    // 11.00 where 0.1100 was meant: over 100 times the French median (0.0250).
    let slip = DECK.replace("+336;France mobile;0,1100", "+336;France mobile;11,00");
    let deck = dir.path().join("slip.csv");
    std::fs::write(&deck, slip).expect("write the deck");
    let out = import(&db, &deck, &[]);
    assert!(!out.status.success());
    let errors = stderr(&out);
    assert!(
        errors.contains("line 4, column Rate: 11.00 is more than 100 times above 0.0250"),
        "{errors}"
    );
    assert!(errors.contains("--accept-outlier +336"), "{errors}");
    let accepted = import(&db, &deck, &["--accept-outlier", "+336"]);
    assert!(accepted.status.success(), "{}", stderr(&accepted));
    let summary = stdout(&accepted);
    assert!(summary.contains("accepted outliers: 1"), "{summary}");
    assert!(summary.contains("line 4: +336"), "{summary}");
    let card = minutely(&db, &["rates", "export", "--currency", "USD"]);
    assert!(
        card.contains("dial_out,+336,,France mobile,FR,false,11.00,"),
        "{card}"
    );
}
