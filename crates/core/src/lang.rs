//! The five languages Minutely speaks (those of the product's seed documents) and
//! `Accept-Language` negotiation (RFC 9110, section 12.5.4). Shared by the API's messages, the
//! console, statements and reports.

/// A language the API speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Lang {
    /// English, the fallback when nothing else is acceptable.
    #[default]
    En,
    /// Japanese.
    Ja,
    /// Simplified Chinese, as used in mainland China and Singapore.
    ZhCn,
    /// French.
    Fr,
    /// German.
    De,
}

impl Lang {
    /// Every language, in order of preference when a client accepts any (`*`).
    pub const ALL: [Lang; 5] = [Lang::En, Lang::Ja, Lang::ZhCn, Lang::Fr, Lang::De];

    /// The BCP 47 tag of the language, suitable for a `Content-Language` header.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
            Lang::ZhCn => "zh-CN",
            Lang::Fr => "fr",
            Lang::De => "de",
        }
    }

    /// The language of an exact tag of [`Lang::tag`] (case-insensitive), for a stored or chosen
    /// preference; `None` for anything else.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        Lang::ALL
            .into_iter()
            .find(|l| l.tag().eq_ignore_ascii_case(tag))
    }

    /// Picks the language of a response from an `Accept-Language` header value (RFC 9110,
    /// section 12.5.4).
    ///
    /// The header is a comma-separated list of language ranges (`fr-CH`, `de`, `*`), each with
    /// an optional weight (`;q=0.8`, default 1). Matching is case-insensitive; a range matches
    /// one of our languages by its primary subtag (`en-US`, `fr-CA` and `de-AT` all match), except
    /// that Chinese matches [`Lang::ZhCn`] only when it is not Traditional: `zh`, `zh-CN`,
    /// `zh-SG`, `zh-Hans` and `zh-Hans-CN` match, `zh-TW`, `zh-HK`, `zh-MO` and `zh-Hant` do not.
    /// `*` matches every language not named by another range. A weight of 0 means "not
    /// acceptable". The acceptable language with the highest weight wins; on a tie, the one named
    /// earlier in the header. Malformed ranges and weights are ignored, and when nothing we speak
    /// is acceptable (or there is no header) the answer is English.
    ///
    /// The work is bounded: only the first 1 KiB of the header and at most 32 ranges are read,
    /// and nothing is allocated. It never panics.
    pub fn negotiate(accept_language: Option<&str>) -> Lang {
        let Some(header) = accept_language else {
            return Lang::En;
        };
        let mut preferences = Preferences::default();
        for (position, element) in bounded_elements(header).enumerate() {
            if let Some((range, weight_milli)) = parse_element(element) {
                preferences.offer(range, weight_milli, position);
            }
        }
        preferences.choose()
    }

    /// The position of the language in [`Lang::ALL`], used to index message tables.
    pub fn index(self) -> usize {
        match self {
            Lang::En => 0,
            Lang::Ja => 1,
            Lang::ZhCn => 2,
            Lang::Fr => 3,
            Lang::De => 4,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Accept-Language negotiation
// ---------------------------------------------------------------------------------------------

/// How much of an `Accept-Language` value is read; the rest is ignored.
pub const MAX_HEADER_BYTES: usize = 1024;

/// How many list elements (language ranges, well-formed or not) are read.
const MAX_RANGES: usize = 32;

/// The weight of a range without `;q=`, in thousandths.
const FULL_WEIGHT_MILLI: u16 = 1000;

/// What one well-formed language range asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Range {
    /// `*`: any language not named elsewhere.
    Any,
    /// A range that matches one of our languages.
    Lang(Lang),
    /// A well-formed range for a language we do not speak (including Traditional Chinese).
    Other,
}

/// The non-empty list elements of a header, within the byte and count bounds.
fn bounded_elements(header: &str) -> impl Iterator<Item = &str> {
    truncate_to_whole_elements(header)
        .split(',')
        .map(trim_ows)
        .filter(|element| !element.is_empty())
        .take(MAX_RANGES)
}

/// The longest prefix of `header` within [`MAX_HEADER_BYTES`] that contains only whole list
/// elements, so that a range cut in half (`zh-TW` cut to `zh`) is never misread.
fn truncate_to_whole_elements(header: &str) -> &str {
    if header.len() <= MAX_HEADER_BYTES {
        return header;
    }
    let mut cut = MAX_HEADER_BYTES;
    while !header.is_char_boundary(cut) {
        cut -= 1;
    }
    let prefix = header.get(..cut).unwrap_or_default();
    if header.as_bytes().get(cut) == Some(&b',') {
        return prefix;
    }
    match prefix.rfind(',') {
        Some(last_comma) => prefix.get(..last_comma).unwrap_or_default(),
        None => "",
    }
}

/// Strips optional whitespace (RFC 9110 `OWS`: spaces and horizontal tabs) from both ends.
fn trim_ows(text: &str) -> &str {
    text.trim_matches([' ', '\t'])
}

/// Parses `language-range [ OWS ";" OWS "q=" qvalue ]`; `None` when malformed.
fn parse_element(element: &str) -> Option<(Range, u16)> {
    let mut parts = element.split(';');
    let range = parse_range(trim_ows(parts.next()?))?;
    let weight_milli = match parts.next() {
        None => FULL_WEIGHT_MILLI,
        Some(parameter) => parse_weight(trim_ows(parameter))?,
    };
    if parts.next().is_some() {
        return None;
    }
    Some((range, weight_milli))
}

/// Parses `"q=" qvalue` (the `q` in either case) into thousandths; `None` when malformed.
fn parse_weight(parameter: &str) -> Option<u16> {
    let qvalue = parameter
        .strip_prefix("q=")
        .or_else(|| parameter.strip_prefix("Q="))?;
    parse_qvalue(qvalue)
}

/// Parses `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )` into thousandths.
fn parse_qvalue(qvalue: &str) -> Option<u16> {
    let (whole, fraction) = match qvalue.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (qvalue, ""),
    };
    if fraction.len() > 3 || !fraction.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let mut thousandths: u16 = 0;
    let mut scale: u16 = 100;
    for digit in fraction.bytes() {
        thousandths += u16::from(digit - b'0') * scale;
        scale /= 10;
    }
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(FULL_WEIGHT_MILLI),
        _ => None,
    }
}

/// Parses an RFC 4647 language range (`*` or `1*8ALPHA *("-" 1*8alphanum)`); `None` when
/// malformed.
fn parse_range(range: &str) -> Option<Range> {
    if range == "*" {
        return Some(Range::Any);
    }
    let mut subtags = range.split('-');
    let primary = subtags.next()?;
    if !is_subtag(primary, u8::is_ascii_alphabetic)
        || !subtags.all(|subtag| is_subtag(subtag, u8::is_ascii_alphanumeric))
    {
        return None;
    }
    let simple = [
        ("en", Lang::En),
        ("ja", Lang::Ja),
        ("fr", Lang::Fr),
        ("de", Lang::De),
    ];
    let lang = if primary.eq_ignore_ascii_case("zh") {
        chinese(range.split('-').skip(1))
    } else {
        simple
            .iter()
            .find(|(tag, _)| primary.eq_ignore_ascii_case(tag))
            .map(|&(_, lang)| lang)
    };
    Some(lang.map_or(Range::Other, Range::Lang))
}

/// Whether `subtag` is 1 to 8 characters, each accepted by `allowed`.
fn is_subtag(subtag: &str, allowed: fn(&u8) -> bool) -> bool {
    (1..=8).contains(&subtag.len()) && subtag.bytes().all(|byte| allowed(&byte))
}

/// Maps the subtags after `zh` to [`Lang::ZhCn`] when they do not denote Traditional Chinese
/// or another Chinese language than Mandarin.
///
/// An explicit script decides (`Hans` yes, `Hant` or any other no); without one, the regions
/// that write Traditional Chinese (TW, HK, MO) do not match and every other region does.
fn chinese<'a>(mut rest: impl Iterator<Item = &'a str>) -> Option<Lang> {
    let mut subtag = rest.next();
    // An extended language subtag (`zh-cmn`, `zh-yue`) or the legacy Windows tags `zh-CHS` and
    // `zh-CHT`.
    if let Some(extlang) = subtag.filter(|s| s.len() == 3 && is_alpha(s)) {
        if extlang.eq_ignore_ascii_case("chs") {
            return Some(Lang::ZhCn);
        }
        if !extlang.eq_ignore_ascii_case("cmn") {
            return None;
        }
        subtag = rest.next();
    }
    let Some(subtag) = subtag else {
        return Some(Lang::ZhCn);
    };
    if subtag.len() == 4 && is_alpha(subtag) {
        return subtag.eq_ignore_ascii_case("hans").then_some(Lang::ZhCn);
    }
    let traditional_region = ["tw", "hk", "mo"]
        .iter()
        .any(|region| subtag.eq_ignore_ascii_case(region));
    (!traditional_region).then_some(Lang::ZhCn)
}

/// Whether every byte of `text` is an ASCII letter.
fn is_alpha(text: &str) -> bool {
    text.bytes().all(|byte| byte.is_ascii_alphabetic())
}

/// The best weight (in thousandths) and its position in the header, per language and for `*`.
#[derive(Debug, Default)]
struct Preferences {
    /// For each language of [`Lang::ALL`], the best weight of the ranges that name it.
    named: [Option<(u16, usize)>; 5],
    /// The best weight of the `*` ranges.
    any: Option<(u16, usize)>,
}

impl Preferences {
    /// Records one range. A later range replaces an earlier one for the same language only
    /// with a strictly higher weight, so ties keep the earlier position.
    fn offer(&mut self, range: Range, weight_milli: u16, position: usize) {
        let slot = match range {
            Range::Any => &mut self.any,
            Range::Lang(lang) => &mut self.named[lang.index()],
            Range::Other => return,
        };
        if slot.is_none_or(|(best, _)| weight_milli > best) {
            *slot = Some((weight_milli, position));
        }
    }

    /// The acceptable language with the highest weight, then the earliest position, then the
    /// order of [`Lang::ALL`]; English when none is acceptable.
    fn choose(&self) -> Lang {
        let mut chosen: Option<(Lang, u16, usize)> = None;
        for lang in Lang::ALL {
            let Some((weight, position)) = self.named[lang.index()].or(self.any) else {
                continue;
            };
            if weight == 0 {
                continue;
            }
            let better = chosen.is_none_or(|(_, best_weight, best_position)| {
                weight > best_weight || (weight == best_weight && position < best_position)
            });
            if better {
                chosen = Some((lang, weight, position));
            }
        }
        chosen.map_or(Lang::En, |(lang, _, _)| lang)
    }
}
