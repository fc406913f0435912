//! The web console's translation catalogues (`crates/server/console/i18n/*.json`): every file
//! parses, all five have the same keys, no value is empty, every key the pages use exists, each
//! value keeps the `{placeholders}` of the English one, and every reason code of the charging
//! rules has its label.
//!
//! Keys in use are found where the console writes them: `t("key")` in the scripts and
//! `data-i18n="key"` (also `data-i18n-placeholder`, `-title`, `-aria-label`) in the HTML.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const LANGUAGES: &[&str] = &["en", "ja", "zh-CN", "fr", "de"];

fn console_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("console")
}

fn catalogue(lang: &str) -> BTreeMap<String, String> {
    let path = console_dir().join("i18n").join(format!("{lang}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: cannot read: {e}", path.display()));
    let value: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
    let object = value
        .as_object()
        .unwrap_or_else(|| panic!("{}: not a JSON object", path.display()));
    object
        .iter()
        .map(|(key, value)| {
            let text = value
                .as_str()
                .unwrap_or_else(|| panic!("{lang}.json: {key} is not a string"));
            (key.clone(), text.to_string())
        })
        .collect()
}

fn files_with(dir: &Path, extension: &str, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("console directory") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            files_with(&path, extension, out);
        } else if path.extension().is_some_and(|e| e == extension) {
            out.push(path);
        }
    }
}

/// The quoted text after each occurrence of `prefix`, up to the closing quote.
fn quoted_after(text: &str, prefix: &str, out: &mut BTreeSet<String>) {
    for (at, _) in text.match_indices(prefix) {
        // `t("` must be the function `t`, not the tail of a longer name such as `split("`.
        if prefix == "t(\"" {
            let before = text[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == '$') {
                continue;
            }
        }
        let rest = &text[at + prefix.len()..];
        if let Some(end) = rest.find('"') {
            out.insert(rest[..end].to_string());
        }
    }
}

fn keys_in_use() -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    let mut scripts = Vec::new();
    files_with(&console_dir(), "js", &mut scripts);
    assert!(!scripts.is_empty(), "no scripts found under console/");
    for path in scripts {
        let text = std::fs::read_to_string(&path).expect("script");
        quoted_after(&text, "t(\"", &mut keys);
    }
    let mut pages = Vec::new();
    files_with(&console_dir(), "html", &mut pages);
    for path in pages {
        let text = std::fs::read_to_string(&path).expect("page");
        for attribute in [
            "data-i18n=\"",
            "data-i18n-placeholder=\"",
            "data-i18n-title=\"",
            "data-i18n-aria-label=\"",
        ] {
            quoted_after(&text, attribute, &mut keys);
        }
    }
    keys
}

fn placeholders(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let name = &after[..close];
                if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    names.insert(name.to_string());
                }
                rest = &after[close + 1..];
            }
            None => break,
        }
    }
    names
}

#[test]
fn catalogues_parse_and_have_the_same_keys() {
    let all: Vec<(&str, BTreeMap<String, String>)> =
        LANGUAGES.iter().map(|l| (*l, catalogue(l))).collect();
    let union: BTreeSet<&String> = all.iter().flat_map(|(_, c)| c.keys()).collect();
    let mut problems = Vec::new();
    for (lang, entries) in &all {
        for key in &union {
            match entries.get(*key) {
                None => problems.push(format!("{lang}.json misses {key}")),
                Some(value) if value.trim().is_empty() => {
                    problems.push(format!("{lang}.json: {key} is empty"))
                }
                Some(_) => {}
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_key_in_use_is_in_every_catalogue() {
    let used = keys_in_use();
    assert!(used.len() > 100, "only {} keys found in use", used.len());
    let mut problems = Vec::new();
    for lang in LANGUAGES {
        let entries = catalogue(lang);
        for key in &used {
            if !entries.contains_key(key) {
                problems.push(format!("{lang}.json misses {key}, used by the console"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn translations_keep_the_placeholders() {
    let english = catalogue("en");
    let mut problems = Vec::new();
    for lang in &LANGUAGES[1..] {
        let entries = catalogue(lang);
        for (key, text) in &english {
            let Some(other) = entries.get(key) else {
                continue;
            };
            if placeholders(text) != placeholders(other) {
                problems.push(format!("{lang}.json: {key} has other placeholders than en"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_reason_code_has_a_label() {
    let english = catalogue("en");
    let missing: Vec<&str> = minutely_core::reason::Reason::ALL
        .iter()
        .map(|r| r.code())
        .filter(|code| !english.contains_key(&format!("reason.{code}")))
        .collect();
    assert!(
        missing.is_empty(),
        "reason codes without a label: {missing:?}"
    );
}
