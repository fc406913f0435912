//! The committed fuzz corpus of the API request bodies, replayed on stable through the very
//! checks the fuzz targets run (`fuzz/checks/api.rs`): reading a body and the checks made
//! before any state is touched never panic, and a refusal names the field at fault.

#[path = "../../../../fuzz/checks/api.rs"]
mod checks;
#[path = "../../../../fuzz/checks/replay.rs"]
mod replay;

const HERE: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn call_record_json_corpus() {
    replay::replay(HERE, "call_record_json", checks::call_record_json);
}

#[test]
fn api_bodies_corpus() {
    replay::replay(HERE, "api_bodies", checks::api_bodies);
}

/// Each body the target knows has seeds, so none is left to chance.
#[test]
fn every_api_body_has_seeds() {
    let files = replay::corpus(HERE, "api_bodies");
    for name in checks::BODIES {
        let prefix = format!("{name}\n");
        assert!(
            files
                .iter()
                .any(|(_, data)| data.starts_with(prefix.as_bytes())),
            "no seed in fuzz/corpus/api_bodies for {name}"
        );
    }
}
