//! Countries and telephone numbers: E.164 parsing (C8), the numbering-plan country of a number
//! (from the libphonenumber data, compiled once into plain regexes), and the digit trie used for
//! longest-prefix rate lookup on the hot path.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

/// An ISO 3166-1 alpha-2 country code, upper case.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Country([u8; 2]);

/// Text that is not two ASCII letters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an ISO 3166-1 alpha-2 country code (two letters, such as FR)")]
pub struct BadCountry(pub String);

impl Country {
    /// Parses two ASCII letters, case-insensitively.
    pub fn parse(text: &str) -> Result<Country, BadCountry> {
        let bytes = text.trim().as_bytes();
        if bytes.len() != 2 || !bytes.iter().all(u8::is_ascii_alphabetic) {
            return Err(BadCountry(text.to_string()));
        }
        Ok(Country([
            bytes[0].to_ascii_uppercase(),
            bytes[1].to_ascii_uppercase(),
        ]))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("country codes are ASCII")
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Country({})", self.as_str())
    }
}

/// The most digits an E.164 number may have (country code included).
pub const E164_MAX_DIGITS: usize = 15;

/// A syntactically valid E.164 number: `+`, then 2 to 15 digits, the first not 0. Stored as
/// the integer of its digits (unique, since the first digit is never 0) and the digit count.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct E164 {
    /// The digits read as one integer.
    value: u64,
    /// How many digits.
    len: u8,
}

impl E164 {
    /// C8: strips spaces, dashes and dots, then requires `+` and 2..=15 digits. This checks the
    /// form only; `NumberPlan::country_of` checks the number against the numbering plan.
    pub fn parse(text: &str) -> Option<E164> {
        let mut plus = false;
        let mut value: u64 = 0;
        let mut len = 0usize;
        for &b in text.trim().as_bytes() {
            if matches!(b, b' ' | b'-' | b'.') {
                continue;
            }
            if !plus {
                if b != b'+' {
                    return None;
                }
                plus = true;
                continue;
            }
            if !b.is_ascii_digit() || (len == 0 && b == b'0') {
                return None;
            }
            len += 1;
            if len > E164_MAX_DIGITS {
                return None;
            }
            value = value * 10 + u64::from(b - b'0');
        }
        (len >= 2).then_some(E164 {
            value,
            len: len as u8,
        })
    }

    /// The digits, most significant first.
    pub fn digits(&self) -> impl Iterator<Item = u8> + use<> {
        let mut digits = [0u8; E164_MAX_DIGITS];
        let len = usize::from(self.len);
        let mut value = self.value;
        for slot in digits[..len].iter_mut().rev() {
            *slot = (value % 10) as u8;
            value /= 10;
        }
        digits.into_iter().take(len)
    }

    /// The number of digits.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Never true: an E.164 number has at least two digits.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The digits as text, without `+`.
    pub fn digit_string(&self) -> String {
        self.value.to_string()
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+{}", self.value)
    }
}

impl fmt::Debug for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "E164(+{})", self.value)
    }
}

/// What the numbering plan says of a number that has the E.164 form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanAnswer {
    /// A valid number of this country.
    Country(Country),
    /// A valid non-geographic number (such as +800 international freephone).
    NonGeographic,
    /// Not a valid number of any region (`invalid_number`).
    Invalid,
}

/// One region of the numbering plan, with its patterns compiled as whole-string matches.
struct Region {
    /// `None` for non-geographic entities ("001").
    country: Option<Country>,
    /// Leading digits that pick this region among those sharing a country code.
    leading_digits: Option<regex::Regex>,
    /// General pattern and lengths of a national significant number.
    general: Pattern,
    /// The patterns of each number type (fixed line, mobile, toll free, ...).
    types: Vec<Pattern>,
}

/// A national-number pattern with its possible lengths. The regex is compiled the first time a
/// number of one of those lengths is checked against it: most patterns of a region are never
/// needed by a given input, and compiling is what a run of the plan costs most.
struct Pattern {
    /// The metadata's pattern, white space removed.
    source: String,
    regex: OnceLock<regex::Regex>,
    lengths: Vec<u16>,
}

impl Pattern {
    fn matches(&self, national: &str) -> bool {
        (self.lengths.is_empty() || self.lengths.contains(&(national.len() as u16)))
            && self
                .regex
                .get_or_init(|| whole(&self.source))
                .is_match(national)
    }
}

/// The numbering plan: for every country calling code, its regions in the libphonenumber data.
/// A code's regions are built the first time a number of that code is seen, and each pattern is
/// compiled the first time a number needs it (compiling them all takes about a second); lookups
/// need no lock once compiled.
pub struct NumberPlan {
    by_code: HashMap<u16, OnceLock<Vec<Region>>>,
    source: PlanSource,
}

/// Where a plan reads the metadata from.
#[derive(Clone, Copy)]
enum PlanSource {
    /// The tables extracted at build time (`tables`): nothing to load at run time.
    Tables,
    /// The `phonenumber` crate's metadata database, loaded on first use (which parses every
    /// pattern of the metadata): the reference the tables are checked against.
    Database,
}

/// The numbering plan as the build script extracts it from the libphonenumber metadata
/// (crates/core/build.rs): patterns without white space, regions in libphonenumber's order.
mod tables {
    pub(super) struct PatternData {
        pub source: &'static str,
        pub lengths: &'static [u16],
    }

    pub(super) struct RegionData {
        /// An ISO country code, or "001" for a non-geographic entity.
        pub id: &'static str,
        pub leading_digits: Option<&'static str>,
        pub general: PatternData,
        /// In the order the plan checks them (premium rate, toll free, ..., fixed line, mobile).
        pub types: &'static [PatternData],
        pub fixed_example: Option<&'static str>,
        pub mobile_example: Option<&'static str>,
    }

    pub(super) struct CodeData {
        pub code: u16,
        /// The main region first.
        pub regions: &'static [RegionData],
    }

    include!(concat!(env!("OUT_DIR"), "/plan_tables.rs"));

    /// The regions of a calling code.
    pub(super) fn regions(code: u16) -> &'static [RegionData] {
        PLAN_TABLES
            .iter()
            .find(|c| c.code == code)
            .map_or(&[], |c| c.regions)
    }

    /// Every calling code with its regions.
    pub(super) fn codes() -> &'static [CodeData] {
        PLAN_TABLES
    }
}

/// The metadata writes patterns over several indented lines; like libphonenumber's own build,
/// drop that white space before compiling.
fn squeeze(pattern: &str) -> String {
    pattern.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Numbers are ASCII digits: without Unicode classes (`\d` is then [0-9]) the patterns compile
/// and match several times faster, with the same answers on digit strings.
fn ascii_regex(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(pattern).unicode(false).build()
}

fn whole(squeezed: &str) -> regex::Regex {
    ascii_regex(&format!("^(?:{squeezed})$")).expect("numbering-plan patterns compile")
}

fn pattern(desc: &phonenumber::metadata::Descriptor) -> Pattern {
    Pattern {
        source: squeeze(desc.national_number().as_str()),
        regex: OnceLock::new(),
        lengths: desc.possible_length().to_vec(),
    }
}

fn table_pattern(data: &tables::PatternData) -> Pattern {
    Pattern {
        source: data.source.to_string(),
        regex: OnceLock::new(),
        lengths: data.lengths.to_vec(),
    }
}

fn leading_regex(squeezed: &str) -> regex::Regex {
    ascii_regex(&format!("^(?:{squeezed})")).expect("leading-digit patterns compile")
}

fn table_region(data: &tables::RegionData) -> Region {
    Region {
        country: Country::parse(data.id).ok(),
        leading_digits: data.leading_digits.map(leading_regex),
        general: table_pattern(&data.general),
        types: data.types.iter().map(table_pattern).collect(),
    }
}

impl NumberPlan {
    /// The process-wide plan, built on first use from the tables.
    pub fn global() -> &'static NumberPlan {
        static PLAN: OnceLock<NumberPlan> = OnceLock::new();
        PLAN.get_or_init(|| NumberPlan::compile(PlanSource::Tables))
    }

    fn compile(source: PlanSource) -> NumberPlan {
        let by_code = match source {
            PlanSource::Tables => tables::codes()
                .iter()
                .map(|c| (c.code, OnceLock::new()))
                .collect(),
            // Country calling codes have one to three digits; non-geographic entities share
            // the id "001", so the codes are enumerated rather than read off the ids.
            PlanSource::Database => (1u16..=999)
                .filter(|code| phonenumber::metadata::DATABASE.region(code).is_some())
                .map(|code| (code, OnceLock::new()))
                .collect(),
        };
        NumberPlan { by_code, source }
    }

    /// A plan of its own read off the `phonenumber` crate's metadata database, with every
    /// pattern of every calling code compiled at once: the plan as it was before the build-time
    /// tables and the compilation on first use, and the reference that the global plan (and its
    /// memo, `PlanCache`) must answer like. Takes a second or two.
    pub fn compiled_eagerly() -> NumberPlan {
        let plan = NumberPlan::compile(PlanSource::Database);
        for (code, slot) in &plan.by_code {
            for region in plan.regions(*code, slot) {
                for pattern in std::iter::once(&region.general).chain(&region.types) {
                    pattern.regex.get_or_init(|| whole(&pattern.source));
                }
            }
        }
        plan
    }

    /// The regions of a calling code, built on first use.
    fn regions<'p>(&self, code: u16, slot: &'p OnceLock<Vec<Region>>) -> &'p [Region] {
        slot.get_or_init(|| match self.source {
            PlanSource::Tables => tables::regions(code).iter().map(table_region).collect(),
            PlanSource::Database => {
                use phonenumber::metadata::DATABASE;
                // The database lists the regions of a code with the main country first, which
                // is the order in which libphonenumber tries them.
                let ids = DATABASE.region(&code).unwrap_or_default();
                let mut metas = DATABASE.by_code(&code).unwrap_or_default();
                metas.sort_by_key(|meta| ids.iter().position(|id| *id == meta.id()));
                metas.into_iter().map(compile_region).collect()
            }
        })
    }

    /// C8: the numbering-plan answer for a number of the E.164 form.
    pub fn classify(&self, number: E164) -> PlanAnswer {
        let digits = number.digit_string();
        for cc_len in 1..=3.min(digits.len() - 1) {
            let code: u16 = digits[..cc_len].parse().expect("digits");
            if let Some(slot) = self.by_code.get(&code) {
                return Self::classify_national(self.regions(code, slot), &digits[cc_len..]);
            }
        }
        PlanAnswer::Invalid
    }

    /// The country a dial-out prefix (E.164 digits without `+`, at least its country calling
    /// code) belongs to in the numbering plan. A calling code of one region answers at once.
    /// Where regions share a code, the prefix is completed into whole numbers with the rest of
    /// each region's example numbers, in the plan's order (main region first), and the first
    /// completion the plan finds valid answers with its country (`+1` and `+1212` are US,
    /// `+1416` is CA, `+1876` is JM; `+7` is RU, `+77` is KZ); when none is valid, the code's
    /// main region. `Invalid` when no calling code begins the digits.
    pub fn classify_prefix(&self, digits: &str) -> PlanAnswer {
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return PlanAnswer::Invalid;
        }
        for cc_len in 1..=3.min(digits.len()) {
            let code: u16 = digits[..cc_len].parse().expect("digits");
            let Some(slot) = self.by_code.get(&code) else {
                continue;
            };
            let regions = self.regions(code, slot);
            if regions.len() > 1
                && let Some(country) = self.completed_country(regions, &digits[cc_len..])
            {
                return PlanAnswer::Country(country);
            }
            return match regions.first().map(|r| r.country) {
                Some(Some(country)) => PlanAnswer::Country(country),
                Some(None) => PlanAnswer::NonGeographic,
                None => PlanAnswer::Invalid,
            };
        }
        PlanAnswer::Invalid
    }

    /// The country of the first valid number made of `national` followed by the rest of an
    /// example number of the regions (in their order), if any is valid.
    fn completed_country(&self, regions: &[Region], national: &str) -> Option<Country> {
        let facts_of = |country| match self.source {
            PlanSource::Tables => region_facts(country),
            PlanSource::Database => database_region_facts(country),
        };
        let mut completed = String::with_capacity(E164_MAX_DIGITS);
        for facts in regions.iter().filter_map(|r| r.country.and_then(facts_of)) {
            for example in [facts.fixed_example, facts.mobile_example]
                .into_iter()
                .flatten()
            {
                completed.clear();
                completed.push_str(national);
                completed.push_str(example.get(national.len()..).unwrap_or(""));
                if let PlanAnswer::Country(country) = Self::classify_national(regions, &completed) {
                    return Some(country);
                }
            }
        }
        None
    }

    fn classify_national(regions: &[Region], national: &str) -> PlanAnswer {
        let valid_in = |region: &Region| {
            region.general.matches(national) && region.types.iter().any(|t| t.matches(national))
        };
        let chosen = if regions.len() == 1 {
            regions.first()
        } else {
            regions.iter().find(|region| match &region.leading_digits {
                Some(leading) => leading.is_match(national),
                None => valid_in(region),
            })
        };
        match chosen {
            Some(region) if valid_in(region) => match region.country {
                Some(country) => PlanAnswer::Country(country),
                None => PlanAnswer::NonGeographic,
            },
            _ => PlanAnswer::Invalid,
        }
    }
}

fn compile_region(meta: &phonenumber::metadata::Metadata) -> Region {
    let d = meta.descriptors();
    let types = [
        d.premium_rate(),
        d.toll_free(),
        d.shared_cost(),
        d.voip(),
        d.personal_number(),
        d.pager(),
        d.uan(),
        d.voicemail(),
        d.fixed_line(),
        d.mobile(),
    ];
    Region {
        country: Country::parse(meta.id()).ok(),
        leading_digits: meta
            .leading_digits()
            .map(|r| leading_regex(&squeeze(r.as_str()))),
        general: pattern(d.general()),
        types: types.into_iter().flatten().map(pattern).collect(),
    }
}

/// A multiplicative hash for the integer keys of `PlanCache`: the keys are phone numbers we were
/// given, not chosen by an adversary against this process's memory, and SipHash costs more than
/// the lookup it guards.
#[derive(Default)]
pub struct NumberHasher(u64);

impl std::hash::Hasher for NumberHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01B3);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = (value ^ (value >> 29))
            .wrapping_mul(0xBF58_476D_1CE4_E5B9)
            .rotate_left(31);
    }
}

/// A memo of numbering-plan answers, for loops that see the same numbers again and again
/// (bulk rating). Bounded: when full it is cleared, so memory stays flat on any input.
pub struct PlanCache {
    plan: &'static NumberPlan,
    answers: HashMap<u64, PlanAnswer, std::hash::BuildHasherDefault<NumberHasher>>,
    capacity: usize,
}

impl PlanCache {
    /// A cache over the global plan holding at most `capacity` answers.
    pub fn new(capacity: usize) -> PlanCache {
        PlanCache {
            plan: NumberPlan::global(),
            answers: HashMap::with_capacity_and_hasher(capacity.min(1 << 16), Default::default()),
            capacity: capacity.max(1),
        }
    }

    /// The plan's answer for `number`, from the memo when it was seen before.
    pub fn classify(&mut self, number: E164) -> PlanAnswer {
        if let Some(answer) = self.answers.get(&number.value) {
            return *answer;
        }
        let answer = self.plan.classify(number);
        if self.answers.len() >= self.capacity {
            self.answers.clear();
        }
        self.answers.insert(number.value, answer);
        answer
    }
}

/// A trie over decimal digits for longest-prefix match: the dial-out rate lookup of the hot path.
#[derive(Debug, Clone)]
pub struct DigitTrie<T> {
    /// Node 0 is the root; each node has ten child slots (0 = none) and an optional value.
    nodes: Vec<([u32; 10], Option<T>)>,
}

impl<T> Default for DigitTrie<T> {
    fn default() -> Self {
        DigitTrie {
            nodes: vec![([0; 10], None)],
        }
    }
}

impl<T> DigitTrie<T> {
    /// Inserts `value` at the digit path `prefix`; returns the previous value there.
    pub fn insert(&mut self, prefix: impl IntoIterator<Item = u8>, value: T) -> Option<T> {
        let mut node = 0usize;
        for digit in prefix {
            let slot = usize::from(digit);
            let child = self.nodes[node].0[slot];
            node = if child == 0 {
                self.nodes.push(([0; 10], None));
                let index = self.nodes.len() - 1;
                self.nodes[node].0[slot] = index as u32;
                index
            } else {
                child as usize
            };
        }
        self.nodes[node].1.replace(value)
    }

    /// The value at the longest prefix of `digits` that has one.
    pub fn longest_match(&self, digits: impl IntoIterator<Item = u8>) -> Option<&T> {
        let mut node = 0usize;
        let mut best = self.nodes[0].1.as_ref();
        for digit in digits {
            let child = self.nodes[node].0[usize::from(digit)];
            if child == 0 {
                break;
            }
            node = child as usize;
            if let Some(value) = self.nodes[node].1.as_ref() {
                best = Some(value);
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(text: &str) -> PlanAnswer {
        NumberPlan::global().classify(E164::parse(text).expect("E.164 form"))
    }

    fn country(code: &str) -> PlanAnswer {
        PlanAnswer::Country(Country::parse(code).unwrap())
    }

    #[test]
    fn c8_separators_are_stripped_and_form_is_checked() {
        assert_eq!(
            E164::parse("+33 1-23.45 67 89").unwrap().to_string(),
            "+33123456789"
        );
        for bad in [
            "33123456789",
            "+0331234",
            "+",
            "+1",
            "+33 12a456",
            "+1234567890123456",
            "",
        ] {
            assert!(E164::parse(bad).is_none(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn c8_country_comes_from_the_numbering_plan() {
        assert_eq!(classify("+33 1 42 68 53 00"), country("FR"));
        assert_eq!(classify("+33 6 12 34 56 78"), country("FR"));
        assert_eq!(classify("+1 212 555 0100"), country("US"));
        assert_eq!(classify("+1 416 555 0100"), country("CA"));
        assert_eq!(classify("+1 787 555 0100"), country("PR"));
        assert_eq!(classify("+1 876 555 0100"), country("JM"));
        assert_eq!(classify("+81 3 1234 5678"), country("JP"));
        assert_eq!(classify("+44 20 7946 0018"), country("GB"));
        assert_eq!(classify("+39 06 1234 5678"), country("IT"));
        assert_eq!(classify("+800 1234 5678"), PlanAnswer::NonGeographic);
    }

    #[test]
    fn c8_numbers_outside_the_plan_are_invalid() {
        assert_eq!(classify("+33 1"), PlanAnswer::Invalid);
        assert_eq!(classify("+1 212 555"), PlanAnswer::Invalid);
        assert_eq!(classify("+999 1234 5678"), PlanAnswer::Invalid);
        assert_eq!(classify("+1 011 555 0100"), PlanAnswer::Invalid);
    }

    #[test]
    fn c8_a_prefix_belongs_to_the_region_its_leading_digits_pick() {
        let plan = NumberPlan::global();
        let cases = [
            ("33", country("FR")),
            ("336", country("FR")),
            ("1", country("US")),
            ("1212", country("US")),
            ("1416", country("CA")),
            ("1876", country("JM")),
            ("7", country("RU")),
            ("77", country("KZ")),
            ("44", country("GB")),
            ("441481", country("GG")),
            ("800", PlanAnswer::NonGeographic),
            ("3", PlanAnswer::Invalid),
            ("999", PlanAnswer::Invalid),
            ("", PlanAnswer::Invalid),
            ("3a", PlanAnswer::Invalid),
        ];
        for (digits, expected) in cases {
            assert_eq!(plan.classify_prefix(digits), expected, "{digits}");
        }
    }

    #[test]
    fn cache_answers_like_the_plan() {
        let mut cache = PlanCache::new(2);
        for text in [
            "+33142685300",
            "+12125550100",
            "+33142685300",
            "+4412",
            "+81312345678",
        ] {
            let number = E164::parse(text).unwrap();
            assert_eq!(
                cache.classify(number),
                NumberPlan::global().classify(number)
            );
        }
        assert!(cache.answers.len() <= 2);
    }

    /// Random digit strings after every calling code (and after digits that are none), of every
    /// length E.164 allows: the lazily compiled plan and its memo answer like the plan compiled at
    /// once (which also shows that every pattern of the metadata compiles).
    #[test]
    fn c8_lazy_plan_and_memo_answer_like_the_eager_plan() {
        let eager = NumberPlan::compiled_eagerly();
        let lazy = NumberPlan::global();
        let mut memo = PlanCache::new(64);
        let mut state = 0x5EED_u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state >> 33
        };
        let (mut checked, mut valid) = (0, 0);
        for code in 1u64..=999 {
            for _ in 0..120 {
                let code_digits = code.to_string();
                let total = (code_digits.len() as u64 + 1 + next() % 14).min(15);
                let mut text = format!("+{code_digits}");
                while (text.len() as u64) <= total {
                    text.push(char::from(b'0' + (next() % 10) as u8));
                }
                let number = E164::parse(&text).expect("E.164 form");
                let prefix = &text[1..2 + (next() as usize) % (text.len() - 1)];
                assert_eq!(
                    lazy.classify_prefix(prefix),
                    eager.classify_prefix(prefix),
                    "prefix {prefix}"
                );
                let expected = eager.classify(number);
                assert_eq!(lazy.classify(number), expected, "{text}");
                assert_eq!(memo.classify(number), expected, "{text} (memo)");
                checked += 1;
                valid += usize::from(expected != PlanAnswer::Invalid);
            }
        }
        assert!(checked > 100_000 && valid > 1_000, "{checked} {valid}");
    }

    /// The build-time tables hold every region of the metadata with its calling code and
    /// example numbers.
    #[test]
    fn c8_tables_give_every_region_the_facts_of_the_metadata() {
        let database = &*phonenumber::metadata::DATABASE;
        let mut regions = 0;
        for code in 1u16..=999 {
            let ids = database.region(&code).unwrap_or_default();
            assert_eq!(tables::regions(code).len(), ids.len(), "+{code}");
            for id in ids {
                let Ok(country) = Country::parse(id) else {
                    continue;
                };
                assert_eq!(
                    region_facts(country),
                    database_region_facts(country),
                    "{id}"
                );
                regions += 1;
            }
        }
        assert!(regions > 200, "{regions}");
    }

    #[test]
    fn trie_finds_the_longest_prefix() {
        let mut trie = DigitTrie::default();
        trie.insert([3, 3], "France");
        trie.insert([3, 3, 6], "France mobile");
        let number = E164::parse("+33612345678").unwrap();
        assert_eq!(trie.longest_match(number.digits()), Some(&"France mobile"));
        let number = E164::parse("+33142685300").unwrap();
        assert_eq!(trie.longest_match(number.digits()), Some(&"France"));
        let number = E164::parse("+4420").unwrap();
        assert_eq!(trie.longest_match(number.digits()), None);
    }
}

/// What the numbering plan says of a region, for generating sample data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionFacts {
    pub calling_code: u16,
    /// An example national number of a fixed line.
    pub fixed_example: Option<String>,
    /// An example national number of a mobile.
    pub mobile_example: Option<String>,
}

/// The calling code and example numbers of a country, when the plan knows it.
pub fn region_facts(country: Country) -> Option<RegionFacts> {
    tables::codes().iter().find_map(|code| {
        let region = code.regions.iter().find(|r| r.id == country.as_str())?;
        Some(RegionFacts {
            calling_code: code.code,
            fixed_example: region.fixed_example.map(str::to_string),
            mobile_example: region.mobile_example.map(str::to_string),
        })
    })
}

/// `region_facts` read off the `phonenumber` crate's database.
fn database_region_facts(country: Country) -> Option<RegionFacts> {
    let meta = phonenumber::metadata::DATABASE.by_id(country.as_str())?;
    let d = meta.descriptors();
    Some(RegionFacts {
        calling_code: meta.country_code(),
        fixed_example: d.fixed_line().and_then(|x| x.example()).map(str::to_string),
        mobile_example: d.mobile().and_then(|x| x.example()).map(str::to_string),
    })
}
