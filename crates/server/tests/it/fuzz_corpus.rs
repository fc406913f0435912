//! The committed fuzz corpus of the API request bodies, replayed on stable through the very
//! checks the fuzz targets run (`fuzz/checks/api.rs`): reading a body and the checks made
//! before any state is touched never panic, and a refusal names the field at fault; here, on
//! top of the checks the targets make, every refusal answers with a client error whose code
//! the server's message catalogue knows in every language.

#[path = "../../../../fuzz/checks/api.rs"]
mod checks;
#[path = "../../../../fuzz/checks/replay.rs"]
mod replay;

use minutely_server::error::ApiError;
use minutely_server::i18n;
use minutely_service::ServiceError;

const HERE: &str = env!("CARGO_MANIFEST_DIR");

/// The server's answer to a refusal: a 4xx whose code has a message.
fn in_catalogue(e: &ServiceError) {
    let answer = ApiError::from(e.clone());
    assert!(
        answer.status.is_client_error(),
        "not a client error: {answer:?}"
    );
    assert!(
        i18n::has_message(answer.code),
        "no message for code {:?}",
        answer.code
    );
}

#[test]
fn call_record_json_corpus() {
    replay::replay(HERE, "call_record_json", |data| {
        checks::call_record_json(data, &in_catalogue)
    });
}

#[test]
fn api_bodies_corpus() {
    replay::replay(HERE, "api_bodies", |data| {
        checks::api_bodies(data, &in_catalogue)
    });
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
