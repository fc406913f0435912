//! A request body read as one JSON object: anything else (an array, a string, a number,
//! `null`, or anything after the object) is refused, and errors name the field and the problem
//! in the API's words, never the Rust types behind it.

use crate::error::{ServiceError, ServiceResult};
use serde::de::DeserializeOwned;

/// Parses bytes that must hold exactly one JSON object.
pub fn parse_object<T: DeserializeOwned>(bytes: &[u8]) -> ServiceResult<T> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(ServiceError::invalid(format!(
            "the body must be a JSON object ({{...}}), not {}",
            json_kind(first.copied())
        )));
    }
    let mut reader = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut reader).map_err(|e| {
        let path = e.path().to_string();
        let text = describe(e.inner());
        if path == "." {
            ServiceError::invalid(format!("the body is not valid: {text}"))
        } else {
            ServiceError::invalid(format!("{path}: {text}"))
        }
    })?;
    reader
        .end()
        .map_err(|e| ServiceError::invalid(format!("the body is not valid: {}", describe(&e))))?;
    Ok(value)
}

fn json_kind(first: Option<u8>) -> &'static str {
    match first {
        None => "an empty body",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b'n') => "null",
        Some(b't' | b'f') => "a boolean",
        Some(b'-' | b'0'..=b'9') => "a number",
        Some(_) => "JSON",
    }
}

/// A parse error in the API's words: serde's text without the names of the server's types
/// ("expected struct EndRequest" becomes "expected an object").
pub fn describe(error: &serde_json::Error) -> String {
    without_types(&error.to_string())
}

/// A deserializer's message without the names of the server's types.
pub fn without_types(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("expected ") {
        out.push_str(&rest[..at]);
        let tail = &rest[at + "expected ".len()..];
        let (replacement, skip) = type_phrase(tail);
        out.push_str("expected ");
        out.push_str(replacement);
        rest = &tail[skip..];
    }
    out.push_str(rest);
    out
}

/// What to say instead of a type named after "expected ", and how much of `tail` it replaces.
fn type_phrase(tail: &str) -> (&'static str, usize) {
    for (prefix, phrase) in [
        ("struct variant ", "an object"),
        ("tuple struct ", "an array"),
        ("struct ", "an object"),
        ("enum ", "one of the allowed values"),
        ("unit struct ", "null"),
    ] {
        if let Some(name) = tail.strip_prefix(prefix) {
            let len = name
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(name.len());
            return (phrase, prefix.len() + len);
        }
    }
    // Primitive types: "expected u64" says what a client must send instead.
    let word_len = tail
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(tail.len());
    let phrase = match &tail[..word_len] {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number, 0 or more",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number",
        "f32" | "f64" => "a number",
        "char" => "a single character",
        _ => return ("", 0),
    };
    (phrase, word_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct EndRequest {
        duration_s: u64,
    }

    fn error_of(body: &str) -> String {
        parse_object::<EndRequest>(body.as_bytes())
            .unwrap_err()
            .detail
    }

    #[test]
    fn only_one_object_is_a_body() {
        assert!(parse_object::<EndRequest>(br#" {"duration_s":5} "#).is_ok());
        for bad in [
            "[5]",
            "null",
            "5",
            "\"x\"",
            "true",
            r#"{"duration_s":5} x"#,
            "{} {}",
        ] {
            let detail = error_of(bad);
            assert!(!detail.contains("EndRequest"), "{bad}: {detail}");
        }
        assert!(error_of("[250]").contains("an array"));
    }

    #[test]
    fn errors_never_name_server_types() {
        let detail = error_of(r#"{"duration_s":"x"}"#);
        assert!(!detail.contains("EndRequest"), "{detail}");
        assert!(detail.contains("invalid type"), "{detail}");
        let detail = error_of(r#"{"other":1}"#);
        assert!(detail.contains("other"), "{detail}");
        let detail = error_of(r#"{"duration_s":-1}"#);
        assert!(detail.starts_with("duration_s: "), "{detail}");
        assert!(detail.contains("a whole number, 0 or more"), "{detail}");
        assert!(!detail.contains("u64"), "{detail}");
        let nested = serde_json::from_str::<Vec<EndRequest>>("[1]").unwrap_err();
        let text = describe(&nested);
        assert!(text.contains("expected an object"), "{text}");
        assert!(!text.contains("EndRequest"), "{text}");
    }
}
