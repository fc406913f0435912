//! The committed fuzz corpus of the file formats, replayed on stable through the very checks
//! the fuzz targets run (`fuzz/checks/formats.rs`): parsers never panic, refusals name their
//! rows, and what is accepted round-trips; the importers of other systems' files
//! (`fuzz/checks/imports.rs`) keep what they accept within Minutely's bounds.

#[path = "../../../../fuzz/checks/formats.rs"]
mod checks;
#[path = "../../../../fuzz/checks/imports.rs"]
mod imports;
#[path = "../../../../fuzz/checks/replay.rs"]
mod replay;

const HERE: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn rate_card_corpus() {
    replay::replay(HERE, "rate_card", checks::rate_card);
}

#[test]
fn call_records_csv_corpus() {
    replay::replay(HERE, "call_records_csv", checks::call_records_csv);
}

#[test]
fn tenant_file_corpus() {
    replay::replay(HERE, "tenant_file", checks::tenant_file);
}

#[test]
fn tenant_toml_corpus() {
    replay::replay(HERE, "tenant_toml", checks::tenant_toml);
}

#[test]
fn e164_corpus() {
    replay::replay(HERE, "e164", checks::e164);
}

#[test]
fn kamailio_acc_corpus() {
    replay::replay(HERE, "kamailio_acc", checks::kamailio_acc);
}

#[test]
fn cgrates_corpus() {
    replay::replay(HERE, "cgrates", imports::cgrates);
}

#[test]
fn rate_deck_corpus() {
    replay::replay(HERE, "rate_deck", imports::rate_deck);
}

#[test]
fn switch_cdr_corpus() {
    replay::replay(HERE, "switch_cdr", imports::switch_cdr);
}
