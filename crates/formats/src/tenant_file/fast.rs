//! A reader for the subset of TOML that tenant files are written in, giving exactly the value
//! the `toml` crate's serde path gives, several times faster on a file of many users.
//!
//! It answers only when it is sure: bare keys, one key per line, basic strings (with their
//! escapes) and literal strings on one line, decimal integers, booleans, arrays (over several
//! lines, with comments) of scalars or inline tables, one-line inline tables of scalars, and
//! the headers `[licenses]`, `[wallet]`, `[wallet.auto_recharge]`, `[[wallet.fundings]]`,
//! `[[numbers]]` and `[[users]]`. Anything else (a float, a date, a dotted or quoted key, a
//! multi-line string, a duplicate key, an unknown field, a missing one, a value of the wrong
//! type, an integer out of range, a stray character) makes it decline, and the caller reads the
//! file with the `toml` crate: every refusal and its text come from that one path.
//!
//! A user's keys are read straight into the user's fields, and a user's licenses written as
//! `Sku::code` writes them (each once) into their codes, without a string each: the texts they
//! stand for are the very texts the `toml` crate gives (`Licenses` compares them so).

use super::{
    Codes, CountFrom, FundingFile, LicenseCount, Licenses, Money, NumberFile, RechargeFile,
    TenantFileRaw, UserFile, WalletFile,
};
use minutely_core::directory::Sku;
use std::collections::BTreeMap;

/// A value as written; floats and dates are never produced (the reader declines them).
#[derive(Debug)]
enum Val<'t> {
    Str(String),
    Int(i64),
    Bool(bool),
    Array(Vec<Val<'t>>),
    Table(Fields<'t>),
}

/// The table the following keys belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Root,
    Licenses,
    Wallet,
    Recharge,
    Funding,
    Number,
    User,
}

/// The file's text and the reader's place in it (a byte offset).
struct Cursor<'t> {
    text: &'t str,
    at: usize,
}

impl<'t> Cursor<'t> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.text.as_bytes().get(self.at + ahead).copied()
    }

    /// Skips spaces and tabs (TOML's white space).
    fn blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.at += 1;
        }
    }

    /// A comment's text: tab, printable ASCII or any non-ASCII byte (the input is UTF-8).
    fn comment(&mut self) -> Option<()> {
        if self.peek() != Some(b'#') {
            return Some(());
        }
        self.at += 1;
        loop {
            self.skip_text();
            match self.peek() {
                Some(b'"' | b'\\') => self.at += 1,
                None | Some(b'\n' | b'\r') => return Some(()),
                _ => return None,
            }
        }
    }

    /// Skips the bytes a string or comment may hold as they are: tab, printable ASCII but `"`
    /// and `\\`, and any non-ASCII byte (the input is UTF-8).
    fn skip_text(&mut self) {
        let rest = &self.text.as_bytes()[self.at..];
        self.at += rest
            .iter()
            .position(
                |b| !matches!(b, b'\t' | 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E | 0x80..=0xFF),
            )
            .unwrap_or(rest.len());
    }

    /// A line break (LF or CRLF) or the end of the text.
    fn end_of_line(&mut self) -> Option<()> {
        match self.peek() {
            None => Some(()),
            Some(b'\n') => {
                self.at += 1;
                Some(())
            }
            Some(b'\r') if self.peek_at(1) == Some(b'\n') => {
                self.at += 2;
                Some(())
            }
            _ => None,
        }
    }

    /// White space, then an optional comment, then the end of the line.
    fn rest_of_line(&mut self) -> Option<()> {
        self.blanks();
        self.comment()?;
        self.end_of_line()
    }

    /// White space, comments and line breaks, as allowed between an array's values.
    fn array_space(&mut self) -> Option<()> {
        loop {
            self.blanks();
            match self.peek() {
                Some(b'#') => self.comment()?,
                Some(b'\n' | b'\r') => self.end_of_line()?,
                _ => return Some(()),
            }
        }
    }

    /// A bare key: ASCII letters, digits, `_` and `-`.
    fn bare_key(&mut self) -> Option<&'t str> {
        let start = self.at;
        let rest = &self.text.as_bytes()[start..];
        self.at += rest
            .iter()
            .position(|b| !matches!(b, b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'))
            .unwrap_or(rest.len());
        let text = self.text;
        (self.at > start).then(|| &text[start..self.at])
    }

    /// `key = value`, the key bare and not dotted.
    fn key_value(&mut self, depth: u8) -> Option<(&'t str, Val<'t>)> {
        let key = self.key()?;
        let value = self.value(depth)?;
        Some((key, value))
    }

    /// `key =` and the blanks after it: a bare key, not dotted.
    fn key(&mut self) -> Option<&'t str> {
        let key = self.bare_key()?;
        self.blanks();
        if self.peek() != Some(b'=') {
            return None;
        }
        self.at += 1;
        self.blanks();
        Some(key)
    }

    /// A user's `licenses` array, when each of its values is a license code written as
    /// `Sku::code` writes it, in a basic string without escapes, once: the codes, read without
    /// a value of their own. Anything else is read as any value is.
    fn licenses(&mut self) -> Option<Licenses> {
        let start = self.at;
        if let Some(codes) = self.codes() {
            return Some(Licenses::Codes(codes));
        }
        self.at = start;
        let Val::Array(items) = self.value(0)? else {
            return None;
        };
        let texts = items.into_iter().map(string).collect::<Option<_>>()?;
        Some(Licenses::Written(texts))
    }

    fn codes(&mut self) -> Option<Codes> {
        if self.peek() != Some(b'[') {
            return None;
        }
        self.at += 1;
        let mut codes = Codes::default();
        loop {
            self.array_space()?;
            if self.peek() == Some(b']') {
                self.at += 1;
                return Some(codes);
            }
            codes.push(self.code()?)?;
            self.array_space()?;
            match self.peek()? {
                b',' => self.at += 1,
                b']' => {
                    self.at += 1;
                    return Some(codes);
                }
                _ => return None,
            }
        }
    }

    /// `"CODE"`: a license code as `Sku::code` writes it.
    fn code(&mut self) -> Option<Sku> {
        if self.peek() != Some(b'"') {
            return None;
        }
        let rest = self.text.get(self.at + 1..)?;
        let end = rest.find('"')?;
        let sku = Sku::ALL.into_iter().find(|s| s.code() == &rest[..end])?;
        self.at += end + 2;
        Some(sku)
    }

    /// A value: arrays hold scalars and inline tables, inline tables hold scalars (`depth`
    /// counts the containers around it).
    fn value(&mut self, depth: u8) -> Option<Val<'t>> {
        match self.peek()? {
            b'"' => self.basic_string().map(Val::Str),
            b'\'' => self.literal_string().map(Val::Str),
            b'[' if depth == 0 => self.array(),
            b'{' if depth <= 1 => self.inline_table(),
            b't' | b'f' => self.boolean().map(Val::Bool),
            b'0'..=b'9' | b'+' | b'-' => self.integer().map(Val::Int),
            _ => None,
        }
    }

    /// Whether the byte after a scalar ends it.
    fn delimited(&self) -> bool {
        matches!(
            self.peek(),
            None | Some(b' ' | b'\t' | b'\n' | b'\r' | b'#' | b',' | b']' | b'}')
        )
    }

    fn boolean(&mut self) -> Option<bool> {
        let rest = &self.text.as_bytes()[self.at..];
        let (value, len) = if rest.starts_with(b"true") {
            (true, 4)
        } else if rest.starts_with(b"false") {
            (false, 5)
        } else {
            return None;
        };
        self.at += len;
        self.delimited().then_some(value)
    }

    /// A decimal integer: an optional sign, no leading zero, `_` only between digits.
    fn integer(&mut self) -> Option<i64> {
        let negative = match self.peek()? {
            b'-' => {
                self.at += 1;
                true
            }
            b'+' => {
                self.at += 1;
                false
            }
            _ => false,
        };
        let first = self.peek().filter(u8::is_ascii_digit)?;
        self.at += 1;
        let mut value = i64::from(first - b'0');
        let negate = |v: i64| if negative { -v } else { v };
        if first == b'0' {
            return self.delimited().then_some(0);
        }
        value = negate(value);
        while let (Some(d @ b'0'..=b'9'), _) | (Some(b'_'), Some(d @ b'0'..=b'9')) =
            (self.peek(), self.peek_at(1))
        {
            self.at += if self.peek() == Some(b'_') { 2 } else { 1 };
            let digit = negate(i64::from(d - b'0'));
            value = value.checked_mul(10)?.checked_add(digit)?;
        }
        self.delimited().then_some(value)
    }

    /// A literal string on one line (`'''` declines).
    fn literal_string(&mut self) -> Option<String> {
        self.at += 1;
        let start = self.at;
        loop {
            match self.peek()? {
                b'\'' if self.at == start && self.peek_at(1) == Some(b'\'') => return None,
                b'\'' => break,
                b'\t' | 0x20..=0x26 | 0x28..=0x7E | 0x80..=0xFF => self.at += 1,
                _ => return None,
            }
        }
        let text = self.text[start..self.at].to_string();
        self.at += 1;
        Some(text)
    }

    /// A basic string on one line (`"""` declines), its escapes decoded.
    fn basic_string(&mut self) -> Option<String> {
        self.at += 1;
        if self.peek() == Some(b'"') && self.peek_at(1) == Some(b'"') {
            return None;
        }
        let mut run = self.at;
        self.skip_text();
        // Without escapes: the text as it is, in one allocation of its size.
        if self.peek() == Some(b'"') {
            let out = self.text[run..self.at].to_owned();
            self.at += 1;
            return Some(out);
        }
        let mut out = String::new();
        loop {
            match self.peek()? {
                b'"' => break,
                b'\\' => {
                    out.push_str(&self.text[run..self.at]);
                    self.at += 1;
                    out.push(self.escape()?);
                    run = self.at;
                }
                _ => return None,
            }
            self.skip_text();
        }
        out.push_str(&self.text[run..self.at]);
        self.at += 1;
        Some(out)
    }

    /// The character an escape (after its backslash) stands for.
    fn escape(&mut self) -> Option<char> {
        let id = self.peek()?;
        self.at += 1;
        let digits = match id {
            b'b' => return Some('\u{8}'),
            b'e' => return Some('\u{1b}'),
            b'f' => return Some('\u{c}'),
            b'n' => return Some('\n'),
            b'r' => return Some('\r'),
            b't' => return Some('\t'),
            b'\\' => return Some('\\'),
            b'"' => return Some('"'),
            b'x' => 2,
            b'u' => 4,
            b'U' => 8,
            _ => return None,
        };
        let hex = self.text.get(self.at..self.at + digits)?;
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.at += digits;
        char::from_u32(u32::from_str_radix(hex, 16).ok()?)
    }

    /// `[ value, value, ]`, over lines if need be.
    fn array(&mut self) -> Option<Val<'t>> {
        self.at += 1;
        let mut items = Vec::new();
        loop {
            self.array_space()?;
            if self.peek() == Some(b']') {
                self.at += 1;
                return Some(Val::Array(items));
            }
            items.push(self.value(1)?);
            self.array_space()?;
            match self.peek()? {
                b',' => self.at += 1,
                b']' => {
                    self.at += 1;
                    return Some(Val::Array(items));
                }
                _ => return None,
            }
        }
    }

    /// `{ key = value, key = value }` on one line, without a trailing comma.
    fn inline_table(&mut self) -> Option<Val<'t>> {
        self.at += 1;
        let mut pairs = Vec::new();
        self.blanks();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Some(Val::Table(pairs));
        }
        loop {
            self.blanks();
            pairs.push(self.key_value(2)?);
            self.blanks();
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(Val::Table(pairs));
                }
                _ => return None,
            }
        }
    }

    /// A header after its `[`: the section it opens (`array` for `[[`) and its one or two keys
    /// (a header of more keys names no section this reader knows: it declines).
    fn header(&mut self) -> Option<(bool, Header<'t>)> {
        self.at += 1;
        let array = self.peek() == Some(b'[');
        if array {
            self.at += 1;
        }
        self.blanks();
        let mut path = Header::One([self.bare_key()?]);
        while self.peek() == Some(b'.') {
            self.at += 1;
            let key = self.bare_key()?;
            path = match path {
                Header::One([first]) => Header::Two([first, key]),
                Header::Two(_) => return None,
            };
        }
        self.blanks();
        let close: &[u8] = if array { b"]]" } else { b"]" };
        if !self.text.as_bytes()[self.at..].starts_with(close) {
            return None;
        }
        self.at += close.len();
        Some((array, path))
    }
}

/// The keys of a header: one or two.
enum Header<'t> {
    One([&'t str; 1]),
    Two([&'t str; 2]),
}

impl<'t> Header<'t> {
    fn keys(&self) -> &[&'t str] {
        match self {
            Header::One(keys) => keys,
            Header::Two(keys) => keys,
        }
    }
}

/// The file's fields as they are read, each set at most once.
#[derive(Default)]
struct Doc<'t> {
    id: Option<String>,
    name: Option<String>,
    country: Option<String>,
    currency: Option<String>,
    timezone: Option<String>,
    agreement: Option<String>,
    default_dial_out_policy: Option<String>,
    licenses: Option<BTreeMap<String, LicenseCount>>,
    wallet: Option<WalletDoc<'t>>,
    numbers: Vec<Fields<'t>>,
    users: Vec<UserDoc>,
}

/// A user's fields as they are read, each set at most once.
#[derive(Default)]
struct UserDoc {
    upn: Option<String>,
    display_name: Option<String>,
    object_id: Option<String>,
    usage_location: Option<String>,
    licenses: Option<Licenses>,
    dial_out_policy: Option<String>,
    toll_free_dial_in: Option<bool>,
}

#[derive(Default)]
struct WalletDoc<'t> {
    low_balance_thresholds: Option<Vec<Money>>,
    auto_recharge: Option<Fields<'t>>,
    fundings: Vec<Fields<'t>>,
}

/// The keys of one table of the file, in order (a duplicate declines when they are taken).
type Fields<'t> = Vec<(&'t str, Val<'t>)>;

/// Reads `text` into the value `toml::from_str` gives, or `None` when it is not sure to.
pub(super) fn read(text: &str) -> Option<TenantFileRaw> {
    let mut cursor = Cursor { text, at: 0 };
    let mut doc = Doc::default();
    let mut section = Section::Root;
    loop {
        cursor.blanks();
        match cursor.peek() {
            None => break,
            Some(b'\n' | b'\r' | b'#') => {}
            Some(b'[') => {
                let (array, path) = cursor.header()?;
                section = open(&mut doc, array, path.keys())?;
            }
            Some(_) if section == Section::User => {
                let user = doc.users.last_mut()?;
                user_field(&mut cursor, user)?;
            }
            Some(_) => {
                let (key, value) = cursor.key_value(0)?;
                put(&mut doc, section, key, value)?;
            }
        }
        cursor.rest_of_line()?;
    }
    finish(doc)
}

/// Opens the section a header names; a table defined twice, or one this reader does not
/// know, declines.
fn open(doc: &mut Doc<'_>, array: bool, path: &[&str]) -> Option<Section> {
    match (array, path) {
        (false, ["licenses"]) if doc.licenses.is_none() => {
            doc.licenses = Some(BTreeMap::new());
            Some(Section::Licenses)
        }
        (false, ["wallet"]) if doc.wallet.is_none() => {
            doc.wallet = Some(WalletDoc::default());
            Some(Section::Wallet)
        }
        (false, ["wallet", "auto_recharge"]) => {
            let wallet = doc.wallet.as_mut()?;
            if wallet.auto_recharge.is_some() {
                return None;
            }
            wallet.auto_recharge = Some(Vec::new());
            Some(Section::Recharge)
        }
        (true, ["wallet", "fundings"]) => {
            doc.wallet.as_mut()?.fundings.push(Vec::new());
            Some(Section::Funding)
        }
        (true, ["numbers"]) => {
            doc.numbers.push(Vec::new());
            Some(Section::Number)
        }
        (true, ["users"]) => {
            doc.users.push(UserDoc::default());
            Some(Section::User)
        }
        _ => None,
    }
}

/// Puts `key = value` into the open section.
fn put<'t>(doc: &mut Doc<'t>, section: Section, key: &'t str, value: Val<'t>) -> Option<()> {
    match section {
        Section::Root => put_root(doc, key, value),
        Section::Licenses => {
            let count = license_count(value)?;
            let licenses = doc.licenses.as_mut()?;
            licenses
                .insert(key.to_string(), count)
                .is_none()
                .then_some(())
        }
        Section::Wallet => {
            let wallet = doc.wallet.as_mut()?;
            if key != "low_balance_thresholds" || wallet.low_balance_thresholds.is_some() {
                return None;
            }
            let Val::Array(items) = value else {
                return None;
            };
            let amounts = items.into_iter().map(money).collect::<Option<Vec<_>>>()?;
            wallet.low_balance_thresholds = Some(amounts);
            Some(())
        }
        Section::Recharge => {
            let fields = doc.wallet.as_mut()?.auto_recharge.as_mut()?;
            fields.push((key, value));
            Some(())
        }
        Section::Funding => {
            let fields = doc.wallet.as_mut()?.fundings.last_mut()?;
            fields.push((key, value));
            Some(())
        }
        Section::Number => {
            doc.numbers.last_mut()?.push((key, value));
            Some(())
        }
        // A user's keys are read by `user_field`.
        Section::User => None,
    }
}

fn put_root(doc: &mut Doc<'_>, key: &str, value: Val<'_>) -> Option<()> {
    let slot = match key {
        "id" => &mut doc.id,
        "name" => &mut doc.name,
        "country" => &mut doc.country,
        "currency" => &mut doc.currency,
        "timezone" => &mut doc.timezone,
        "agreement" => &mut doc.agreement,
        "default_dial_out_policy" => &mut doc.default_dial_out_policy,
        _ => return None,
    };
    if slot.is_some() {
        return None;
    }
    *slot = Some(string(value)?);
    Some(())
}

fn string(value: Val<'_>) -> Option<String> {
    match value {
        Val::Str(text) => Some(text),
        _ => None,
    }
}

fn boolean(value: Val<'_>) -> Option<bool> {
    match value {
        Val::Bool(b) => Some(b),
        _ => None,
    }
}

fn count(value: &Val<'_>) -> Option<u32> {
    match value {
        Val::Int(n) => u32::try_from(*n).ok(),
        _ => None,
    }
}

fn money(value: Val<'_>) -> Option<Money> {
    match value {
        Val::Int(n) => Some(Money::Whole(n)),
        Val::Str(text) => Some(Money::Text(text)),
        _ => None,
    }
}

/// A count since always, or a history of `{ count, from }`.
fn license_count(value: Val<'_>) -> Option<LicenseCount> {
    if let Some(n) = count(&value) {
        return Some(LicenseCount::Count(n));
    }
    let Val::Array(items) = value else {
        return None;
    };
    let history = items
        .into_iter()
        .map(|item| {
            let Val::Table(pairs) = item else {
                return None;
            };
            let (mut count_of, mut from) = (None, None);
            for (key, value) in pairs {
                match key {
                    "count" if count_of.is_none() => count_of = Some(count(&value)?),
                    "from" if from.is_none() => from = Some(string(value)?),
                    _ => return None,
                }
            }
            Some(CountFrom {
                count: count_of?,
                from: from?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(LicenseCount::History(history))
}

/// Sets a field once: a second value for the same key declines.
fn once<T>(slot: &mut Option<T>, value: Option<T>) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value?);
    Some(())
}

fn finish(doc: Doc<'_>) -> Option<TenantFileRaw> {
    let wallet = match doc.wallet {
        Some(w) => Some(WalletFile {
            low_balance_thresholds: w.low_balance_thresholds.unwrap_or_default(),
            auto_recharge: match w.auto_recharge {
                Some(fields) => Some(recharge(fields)?),
                None => None,
            },
            fundings: w.fundings.into_iter().map(funding).collect::<Option<_>>()?,
        }),
        None => None,
    };
    let mut users = Vec::with_capacity(doc.users.len());
    for fields in doc.users {
        users.push(user(fields)?);
    }
    Some(TenantFileRaw {
        id: doc.id?,
        name: doc.name?,
        country: doc.country?,
        currency: doc.currency?,
        timezone: doc.timezone.unwrap_or_else(super::utc),
        agreement: doc.agreement?,
        default_dial_out_policy: doc.default_dial_out_policy,
        licenses: doc.licenses.unwrap_or_default(),
        wallet,
        numbers: doc.numbers.into_iter().map(number).collect::<Option<_>>()?,
        users,
    })
}

fn recharge(fields: Fields<'_>) -> Option<RechargeFile> {
    let (mut enabled, mut trigger, mut amount, mut accepted) = (None, None, None, None);
    for (key, value) in fields {
        match key {
            "enabled" => once(&mut enabled, boolean(value))?,
            "trigger" => once(&mut trigger, money(value))?,
            "amount" => once(&mut amount, money(value))?,
            "payment_accepted" => once(&mut accepted, boolean(value))?,
            _ => return None,
        }
    }
    Some(RechargeFile {
        enabled: enabled.unwrap_or(true),
        trigger: trigger?,
        amount: amount?,
        payment_accepted: accepted.unwrap_or(true),
    })
}

fn funding(fields: Fields<'_>) -> Option<FundingFile> {
    let (mut reference, mut amount, mut at) = (None, None, None);
    for (key, value) in fields {
        match key {
            "reference" => once(&mut reference, string(value))?,
            "amount" => once(&mut amount, money(value))?,
            "at" => once(&mut at, string(value))?,
            _ => return None,
        }
    }
    Some(FundingFile {
        reference: reference?,
        amount: amount?,
        at: at?,
    })
}

fn number(fields: Fields<'_>) -> Option<NumberFile> {
    let (mut number, mut kind, mut shared, mut default) = (None, None, None, None);
    for (key, value) in fields {
        match key {
            "number" => once(&mut number, string(value))?,
            "kind" => once(&mut kind, string(value))?,
            "shared" => once(&mut shared, boolean(value))?,
            "bridge_default" => once(&mut default, boolean(value))?,
            _ => return None,
        }
    }
    Some(NumberFile {
        number: number?,
        kind: kind?,
        shared: shared.unwrap_or(false),
        bridge_default: default.unwrap_or(false),
    })
}

/// One `key = value` of a user, read into its field (a user's licenses without a value of
/// their own when they are license codes).
fn user_field(cursor: &mut Cursor<'_>, user: &mut UserDoc) -> Option<()> {
    let key = cursor.key()?;
    if key == "licenses" {
        return once(&mut user.licenses, cursor.licenses());
    }
    let value = cursor.value(0)?;
    match key {
        "upn" => once(&mut user.upn, string(value)),
        "display_name" => once(&mut user.display_name, string(value)),
        "object_id" => once(&mut user.object_id, string(value)),
        "usage_location" => once(&mut user.usage_location, string(value)),
        "dial_out_policy" => once(&mut user.dial_out_policy, string(value)),
        "toll_free_dial_in" => once(&mut user.toll_free_dial_in, boolean(value)),
        _ => None,
    }
}

fn user(doc: UserDoc) -> Option<UserFile> {
    Some(UserFile {
        upn: doc.upn?,
        display_name: doc.display_name?,
        object_id: doc.object_id,
        usage_location: doc.usage_location,
        licenses: doc.licenses.unwrap_or_default(),
        dial_out_policy: doc.dial_out_policy,
        toll_free_dial_in: doc.toll_free_dial_in.unwrap_or(true),
    })
}
