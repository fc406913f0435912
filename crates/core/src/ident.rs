//! One grammar per identifier. Every edge (HTTP paths and bodies, call-record files, tenant
//! files, the command line) checks identifiers with these functions, so a tenant id, call id,
//! conference id, funding reference or UPN means the same thing everywhere.
//!
//! Besides their length and alphabet, the grammars keep two classes of trouble out:
//! - path tricks: an identifier is never `.` or `..` (a tenant id starts with a letter or digit);
//! - spreadsheet formulas: no identifier starts with `=`, `+`, `-` or `@`, so an identifier
//!   written to a CSV download can never be read as a formula; control and bidirectional
//!   formatting characters are refused everywhere.

use std::fmt;

/// Longest tenant id, in bytes.
pub const MAX_TENANT_ID_BYTES: usize = 64;
/// Longest call id, in bytes.
pub const MAX_CALL_ID_BYTES: usize = 128;
/// Longest conference id, in characters.
pub const MAX_CONFERENCE_ID_CHARS: usize = 128;
/// Longest funding reference, in characters.
pub const MAX_REFERENCE_CHARS: usize = 128;
/// Longest UPN or organizer, in characters (a UPN's local part at most 64, its domain at most
/// 190).
pub const MAX_UPN_CHARS: usize = 256;
const MAX_UPN_LOCAL_CHARS: usize = 64;
const MAX_UPN_DOMAIN_CHARS: usize = 190;

/// The JSON-schema pattern of a tenant id.
pub const TENANT_ID_PATTERN: &str = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$";
/// The JSON-schema pattern of a call id.
pub const CALL_ID_PATTERN: &str = "^[A-Za-z0-9_][A-Za-z0-9._:@+~!%*()/=-]{0,127}$";
/// The JSON-schema pattern of a conference id: that of a funding reference.
pub const CONFERENCE_ID_PATTERN: &str = REFERENCE_PATTERN;
/// The JSON-schema pattern of a UPN.
/// Letters and digits are those of Unicode (`\\w`), so `élodie@contoso.fr` is a UPN.
pub const UPN_PATTERN: &str = "^\\w[\\w.%+'-]{0,63}@\\w(?:[\\w.-]{0,188}\\w)?$";
/// The JSON-schema pattern of a funding reference (no control or bidi characters, no leading
/// space or formula sign).
pub const REFERENCE_PATTERN: &str = "^[^\\u0000-\\u0020\\u007f-\\u009f=+@\\u002d\\u00ad\\u061c\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u206f\\ufeff][^\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u061c\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u206f\\ufeff]{0,127}$";

/// Which identifier was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Tenant,
    Call,
    Conference,
    Reference,
    Upn,
    Organizer,
}

impl Kind {
    fn noun(self) -> &'static str {
        match self {
            Kind::Tenant => "a tenant id",
            Kind::Call => "a call id",
            Kind::Conference => "a conference id",
            Kind::Reference => "a funding reference",
            Kind::Upn => "a UPN",
            Kind::Organizer => "an organizer",
        }
    }

    fn rule(self) -> &'static str {
        match self {
            Kind::Tenant => {
                "1 to 64 ASCII letters, digits, '.', '_' or '-', starting with a letter or digit"
            }
            Kind::Call => {
                "1 to 128 ASCII letters, digits or . _ : @ + ~ ! % * ( ) / = -, starting with a \
                 letter, digit or '_'"
            }
            Kind::Conference | Kind::Reference => {
                "1 to 128 characters without control or formatting characters, not starting with \
                 a space, '=', '+', '-' or '@'"
            }
            Kind::Upn => {
                "local@domain: 1 to 64 letters, digits or . _ % + ' - before the '@' (starting \
                 with a letter, digit or '_'), 1 to 190 letters, digits, '_', '.' or '-' after \
                 it (starting and ending with a letter, digit or '_')"
            }
            Kind::Organizer => {
                "1 to 256 characters without control or formatting characters, not starting \
                 with a space, '=', '+', '-' or '@'"
            }
        }
    }
}

/// An identifier that does not follow its grammar: names the field, the value (escaped and
/// shortened) and the grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadIdentifier {
    pub field: String,
    pub kind: Kind,
    pub value: String,
}

impl fmt::Display for BadIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: String = self.value.chars().take(40).collect();
        let more = if self.value.chars().count() > 40 {
            "..."
        } else {
            ""
        };
        write!(
            f,
            "{} {:?}{more} is not {}: {}",
            self.field,
            shown,
            self.kind.noun(),
            self.kind.rule()
        )
    }
}

impl std::error::Error for BadIdentifier {}

fn refuse(field: &str, kind: Kind, value: &str) -> BadIdentifier {
    BadIdentifier {
        field: field.to_string(),
        kind,
        value: value.to_string(),
    }
}

/// A tenant id: `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`.
pub fn tenant_id<'a>(field: &str, text: &'a str) -> Result<&'a str, BadIdentifier> {
    let bytes = text.as_bytes();
    let ok = !bytes.is_empty()
        && bytes.len() <= MAX_TENANT_ID_BYTES
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    ok.then_some(text)
        .ok_or_else(|| refuse(field, Kind::Tenant, text))
}

fn call_like(text: &str) -> bool {
    let bytes = text.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_CALL_ID_BYTES
        && (bytes[0].is_ascii_alphanumeric() || bytes[0] == b'_')
        && bytes.iter().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'.' | b'_'
                        | b':'
                        | b'@'
                        | b'+'
                        | b'~'
                        | b'!'
                        | b'%'
                        | b'*'
                        | b'('
                        | b')'
                        | b'/'
                        | b'='
                        | b'-'
                )
        })
}

/// A call id (the bridge's, or a SIP Call-ID): see [`CALL_ID_PATTERN`].
pub fn call_id<'a>(field: &str, text: &'a str) -> Result<&'a str, BadIdentifier> {
    call_like(text)
        .then_some(text)
        .ok_or_else(|| refuse(field, Kind::Call, text))
}

/// A conference id: the bridge's own text for a meeting, so any visible characters; the same
/// grammar as a funding reference ([`CONFERENCE_ID_PATTERN`]).
pub fn conference_id<'a>(field: &str, text: &'a str) -> Result<&'a str, BadIdentifier> {
    free_text(text, MAX_CONFERENCE_ID_CHARS)
        .then_some(text)
        .ok_or_else(|| refuse(field, Kind::Conference, text))
}

/// 1 to `max_chars` characters, none hidden, not starting with a space or a formula sign.
fn free_text(text: &str, max_chars: usize) -> bool {
    if text.is_ascii() {
        // One byte a character; the hidden ASCII characters are the controls.
        return (1..=max_chars).contains(&text.len())
            && !text.starts_with(' ')
            && !looks_like_formula(text)
            && !text.bytes().any(|b| b.is_ascii_control());
    }
    free_text_by_chars(text, max_chars)
}

/// `free_text` character by character, for any text.
fn free_text_by_chars(text: &str, max_chars: usize) -> bool {
    (1..=max_chars).contains(&text.chars().count())
        && !text.starts_with(' ')
        && !looks_like_formula(text)
        && !text.chars().any(is_hidden_char)
}

/// Control, bidirectional and other invisible formatting characters (Unicode Cc and the
/// format characters that change how text is shown).
pub fn is_hidden_char(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{ad}' | '\u{61c}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}' | '\u{feff}')
}

/// True when a text written to a CSV cell could be taken as a formula by a spreadsheet.
pub fn looks_like_formula(text: &str) -> bool {
    matches!(
        text.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r' | b'\n')
    )
}

/// A funding reference: see [`REFERENCE_PATTERN`].
pub fn reference<'a>(field: &str, text: &'a str) -> Result<&'a str, BadIdentifier> {
    free_text(text, MAX_REFERENCE_CHARS)
        .then_some(text)
        .ok_or_else(|| refuse(field, Kind::Reference, text))
}

/// A user principal name: see [`UPN_PATTERN`].
pub fn upn<'a>(field: &str, text: &'a str) -> Result<&'a str, BadIdentifier> {
    let ok = if text.is_ascii() {
        upn_ascii(text.as_bytes())
    } else {
        upn_by_chars(text)
    };
    ok.then_some(text)
        .ok_or_else(|| refuse(field, Kind::Upn, text))
}

/// The organizer named by a call record. Only what could never be a user is refused here (an
/// organizer unknown to the tenant is the charging rules' `organizer_not_enabled`, C30).
pub fn organizer<'a>(field: &str, text: &'a str) -> Result<&'a str, BadIdentifier> {
    free_text(text, MAX_UPN_CHARS)
        .then_some(text)
        .ok_or_else(|| refuse(field, Kind::Organizer, text))
}

/// A conference id that may be left empty (call records without a conference).
pub fn optional_conference_id<'a>(field: &str, text: &'a str) -> Result<&'a str, BadIdentifier> {
    if text.is_empty() {
        return Ok(text);
    }
    conference_id(field, text)
}

fn upn_by_chars(text: &str) -> bool {
    text.split_once('@')
        .is_some_and(|(local, domain)| upn_local(local) && upn_domain(domain))
}

/// `upn_by_chars` for an ASCII text, byte by byte (a byte is a character and its own count).
fn upn_ascii(text: &[u8]) -> bool {
    let word = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
    let Some(at) = text.iter().position(|b| *b == b'@') else {
        return false;
    };
    let (local, domain) = (&text[..at], &text[at + 1..]);
    let local_ok = local.first().is_some_and(word)
        && local.len() <= MAX_UPN_LOCAL_CHARS
        && local
            .iter()
            .all(|b| word(b) || matches!(b, b'.' | b'%' | b'+' | b'\'' | b'-'));
    local_ok
        && (1..=MAX_UPN_DOMAIN_CHARS).contains(&domain.len())
        && domain.first().is_some_and(word)
        && domain.last().is_some_and(word)
        && domain.iter().all(|b| word(b) || matches!(b, b'.' | b'-'))
}

fn upn_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn upn_local(local: &str) -> bool {
    let mut chars = local.chars();
    chars.next().is_some_and(upn_word)
        && local.chars().count() <= MAX_UPN_LOCAL_CHARS
        && chars.all(|c| upn_word(c) || matches!(c, '.' | '%' | '+' | '\'' | '-'))
}

fn upn_domain(domain: &str) -> bool {
    let count = domain.chars().count();
    (1..=MAX_UPN_DOMAIN_CHARS).contains(&count)
        && domain.chars().next().is_some_and(upn_word)
        && domain.chars().next_back().is_some_and(upn_word)
        && domain
            .chars()
            .all(|c| upn_word(c) || matches!(c, '.' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ASCII path of `free_text` decides as the general one: every text of up to two ASCII
    /// characters, and texts around the length bound.
    #[test]
    fn free_text_decides_ascii_as_character_by_character() {
        let mut texts: Vec<String> = (0u8..128).map(|b| char::from(b).to_string()).collect();
        for a in 0u8..128 {
            for b in 0u8..128 {
                texts.push([char::from(a), char::from(b)].iter().collect());
            }
        }
        for len in [0, 1, 127, 128, 129, 256, 257] {
            texts.push("x".repeat(len));
        }
        for text in &texts {
            for max_chars in [1, 2, 128, 256] {
                assert_eq!(
                    free_text(text, max_chars),
                    free_text_by_chars(text, max_chars),
                    "{text:?} {max_chars}"
                );
            }
        }
    }

    /// The ASCII path of `upn` decides as the general one: every text of up to three
    /// characters from an alphabet of every kind of ASCII character the rules name, and texts
    /// around the length bounds.
    #[test]
    fn upns_decide_ascii_as_character_by_character() {
        let alphabet = [
            "a", "Z", "0", "_", "@", ".", "%", "+", "'", "-", " ", "!", "\u{7f}",
        ];
        let mut texts = vec![String::new()];
        for a in alphabet {
            texts.push(a.to_string());
            for b in alphabet {
                texts.push(format!("{a}{b}"));
                for c in alphabet {
                    texts.push(format!("{a}{b}{c}"));
                    texts.push(format!("{a}{b}@{c}"));
                    texts.push(format!("x{a}@{b}x{c}"));
                }
            }
        }
        for local in [0, 1, MAX_UPN_LOCAL_CHARS, MAX_UPN_LOCAL_CHARS + 1] {
            for domain in [0, 1, MAX_UPN_DOMAIN_CHARS, MAX_UPN_DOMAIN_CHARS + 1] {
                texts.push(format!("{}@{}", "l".repeat(local), "d".repeat(domain)));
            }
        }
        let mut accepted = 0;
        for text in &texts {
            assert!(text.is_ascii());
            let ascii = upn_ascii(text.as_bytes());
            assert_eq!(ascii, upn_by_chars(text), "{text:?}");
            accepted += usize::from(ascii);
        }
        assert!(accepted > 100, "{accepted}");
    }

    #[test]
    fn tenant_ids_refuse_dots_and_formulas() {
        for good in ["contoso", "t1", "Acme-EU", "a.b_c-d", &"x".repeat(64)] {
            assert!(tenant_id("tenant", good).is_ok(), "{good}");
        }
        let long = "x".repeat(65);
        for bad in [
            "", ".", "..", "-x", "=x", "@x", "+x", "a b", "a/b", "é", "a\0", &long,
        ] {
            assert!(tenant_id("tenant", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn call_ids_take_sip_call_ids_and_refuse_controls() {
        for good in [
            "c1",
            "a84b4c76e66710@pc33.atlanta.example",
            "3c2a5e7b-1f2d-4c3b-9e3a-5b7c1d2e3f40",
            "_x",
            "abc/def+ghi==",
        ] {
            assert!(call_id("call_id", good).is_ok(), "{good}");
        }
        let long = "c".repeat(129);
        for bad in [
            "",
            ".",
            "..",
            "=HYPERLINK(\"x\")",
            "+33",
            "-1",
            "@a",
            "a\0b",
            "a\r\nb",
            "a\u{202e}b",
            "a b",
            &long,
        ] {
            assert!(call_id("call_id", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn conference_ids_are_visible_text() {
        assert!(conference_id("conference_id", "conf \"A\", 1").is_ok());
        for bad in [
            "",
            " x",
            "=1",
            "-1",
            "@a",
            "+1",
            "a\u{0}b",
            "a\u{202e}b",
            &"c".repeat(129),
        ] {
            assert!(conference_id("conference_id", bad).is_err(), "{bad:?}");
        }
        assert!(optional_conference_id("conference_id", "").is_ok());
    }

    #[test]
    fn references_allow_text_but_no_hidden_characters() {
        for good in ["x", "PO-2026-001", "Bank transfer 12/03", "請求書 3月"] {
            assert!(reference("reference", good).is_ok(), "{good}");
        }
        let long = "r".repeat(129);
        for bad in [
            "",
            " x",
            "=1+1",
            "-x",
            "a\u{7}b",
            "a\u{200f}b",
            "a\u{2066}b",
            "a\nb",
            &long,
        ] {
            assert!(reference("reference", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn upns_are_local_at_domain() {
        for good in [
            "ana.silva@contoso.example",
            "o'brien@x.y",
            "_svc+1@a-b.example",
        ] {
            assert!(upn("upn", good).is_ok(), "{good}");
        }
        for bad in [
            "", "@x", "x@", "=x@y", "a b@c", "a@b.", "a@-b", "a@b@c", "a\u{0}@b",
        ] {
            assert!(upn("upn", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_error_names_field_value_and_grammar() {
        let e = call_id("record.call_id", "=cmd").unwrap_err().to_string();
        assert!(
            e.starts_with("record.call_id \"=cmd\" is not a call id: 1 to 128"),
            "{e}"
        );
    }

    #[test]
    fn formula_signs_are_recognized() {
        for f in ["=1", "+1", "-1", "@x", "\tx"] {
            assert!(looks_like_formula(f), "{f}");
        }
        assert!(!looks_like_formula("Alice"));
        assert!(!looks_like_formula(""));
    }
}
