//! Checks of the importers of other systems' files, one per fuzz target: CGRateS tariff plans,
//! carrier rate decks and switch call records. Whatever the bytes, the importer answers (never
//! panics); a refusal names lines of the input and fields of the format; what is accepted is
//! within the documented bounds, does not depend on the run, and reads back through Minutely's
//! own file formats unchanged.
//!
//! This file is shared: the fuzz targets call it, and `crates/formats/tests/it/fuzz_corpus.rs`
//! includes it to replay the committed corpus on stable.

use minutely_core::catalogue::{RateCard, RateEntry, RateKey, RateKind};
use minutely_core::ident;
use minutely_core::money::{Amount as Decimal, Currency, MAX_CONNECTION_FEE, MAX_RATE_PER_MINUTE};
use minutely_core::numbers::{E164_MAX_DIGITS, NumberPlan, PlanAnswer};
use minutely_core::rating::{CallRecord, Direction};
use minutely_formats::calls::{self, CallFile};
use minutely_formats::cdr::{self, Format};
use minutely_formats::cgrates::{self, Files, ImportError, Selection};
use minutely_formats::deck::{self, AcceptOutliers, DeckOptions, Mapping};
use minutely_formats::{FileErrors, MAX_LISTED_ERRORS, acc, ratecard};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::OnceLock;

/// Currencies with 2, 0 and 3 minor units: the input's length picks one, so each is reached.
const CURRENCIES: [&str; 3] = ["USD", "JPY", "KWD"];

/// The longest block a card may hold, in seconds (C6).
const MAX_BLOCK_S: u32 = 3600;

fn currency_of(data: &[u8]) -> Currency {
    Currency::parse(CURRENCIES[data.len() % CURRENCIES.len()]).expect("known")
}

/// The highest line a parser may name for `data`: one past its last line break, plus one for
/// an error found after the end of the last row.
fn max_line(data: &[u8]) -> usize {
    data.iter().filter(|&&b| b == b'\n' || b == b'\r').count() + 2
}

/// Every entry of an imported card is a dial-out price within core's bounds, at an E.164 prefix
/// (1 to 15 digits, the first not 0) that the numbering plan places in the entry's country or
/// in no country (then the importer chose the country from the calling code).
fn check_entry(e: &RateEntry) {
    assert_eq!(e.kind, RateKind::DialOut, "{e:?}");
    let RateKey::Prefix(digits) = &e.key else {
        panic!("a dial-out entry keyed by country: {e:?}");
    };
    assert!(
        (1..=E164_MAX_DIGITS).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0'),
        "not an E.164 prefix: {e:?}"
    );
    assert!(
        (Decimal::ZERO..=MAX_RATE_PER_MINUTE).contains(&e.rate_per_minute),
        "rate out of bounds: {e:?}"
    );
    assert!(
        (Decimal::ZERO..=MAX_CONNECTION_FEE).contains(&e.connection_fee),
        "fee out of bounds: {e:?}"
    );
    assert!(
        (1..=MAX_BLOCK_S).contains(&e.first_block_s) && (1..=MAX_BLOCK_S).contains(&e.increment_s),
        "blocks out of 1..={MAX_BLOCK_S}: {e:?}"
    );
    assert!(!e.name.trim().is_empty(), "no name: {e:?}");
    assert!(e.origin.is_none(), "{e:?}");
}

/// An imported card is one Minutely's rate-card CSV holds exactly: written and read again, it
/// is the same card.
fn check_card(card: &RateCard, currency: Currency) {
    card.entries().for_each(check_entry);
    let text = ratecard::write(card);
    let again = ratecard::parse(text.as_bytes(), currency)
        .unwrap_or_else(|e| panic!("the imported card written out is refused: {e}\n{text}"));
    assert_eq!(
        again.entries().collect::<Vec<_>>(),
        card.entries().collect::<Vec<_>>(),
        "the imported card changed on its way through the rate-card file:\n{text}"
    );
}

// ---------------------------------------------------------------------------------------------
// CGRateS tariff plans

/// The byte between the six files of a `cgrates` input (ASCII's file separator), in the order
/// of `cgrates::FILE_NAMES`; a file past the last separator is absent.
pub const CGRATES_FILE_SEPARATOR: u8 = 0x1c;

/// The columns of each file of a tariff plan, in the order of `cgrates::FILE_NAMES`, written
/// out from CGRateS's layout.
const CGRATES_COLUMNS: [&[&str]; 6] = [
    &["Id", "Prefix"],
    &[
        "Id",
        "ConnectFee",
        "Rate",
        "RateUnit",
        "RateIncrement",
        "GroupIntervalStart",
    ],
    &[
        "Id",
        "DestinationId",
        "RatesTag",
        "RoundingMethod",
        "RoundingDecimals",
        "MaxCost",
        "MaxCostStrategy",
    ],
    &["Id", "DestinationRatesId", "TimingTag", "Weight"],
    &[
        "Tenant",
        "Category",
        "Subject",
        "ActivationTime",
        "RatingPlanId",
        "RatesFallbackSubject",
    ],
    &["Id", "Years", "Months", "MonthDays", "WeekDays", "Time"],
];

/// The selection an input's length picks: prefixes with or without `+`, and `*any` priced at
/// two prefixes or reported.
fn cgrates_selection(data: &[u8]) -> Selection {
    let bits = data.len() / CURRENCIES.len();
    Selection {
        tenant: None,
        category: "call".into(),
        subject: None,
        digits_are_e164: bits % 2 == 1,
        any_prefixes: match (bits / 2) % 2 {
            1 => vec!["+49".into(), "+33".into()],
            _ => Vec::new(),
        },
    }
}

/// The index in `FILE_NAMES` of a file name the importer gives.
fn cgrates_file(name: &str) -> usize {
    cgrates::FILE_NAMES
        .iter()
        .position(|n| *n == name)
        .unwrap_or_else(|| panic!("{name:?} is not a file of a tariff plan"))
}

/// CGRateS tariff plan: the six files split at `CGRATES_FILE_SEPARATOR`. A refusal names, for
/// each bad row, a file that was given, a line of it and one of its columns; an issue names a
/// line of a file that was given. An import is a card within core's bounds that the rate-card
/// CSV holds exactly, whose versions are the profile's activations in order and account for
/// every entry, and the same import twice gives the same card and issues.
pub fn cgrates(data: &[u8]) {
    let parts: Vec<&[u8]> = data
        .split(|&b| b == CGRATES_FILE_SEPARATOR)
        .take(6)
        .collect();
    let mut files = Files::default();
    for (name, part) in cgrates::FILE_NAMES.iter().zip(&parts) {
        assert!(files.set(name, part));
    }
    let lines_of = |file: usize| parts.get(file).map_or(0, |p| max_line(p) - 1);
    let (currency, selection) = (currency_of(data), cgrates_selection(data));
    let import = match cgrates::import(&files, currency, &selection) {
        Ok(import) => import,
        Err(ImportError::Bad(rows)) => return check_cgrates_refusal(rows, lines_of),
        Err(ImportError::Selection(why)) => return assert!(!why.trim().is_empty()),
    };
    for issue in &import.issues {
        let file = cgrates_file(issue.file);
        assert!((1..=lines_of(file)).contains(&issue.line), "{issue:?}");
        assert!(!issue.what.trim().is_empty(), "{issue:?}");
    }
    let profiles = cgrates_file(cgrates::RATING_PROFILES_CSV);
    let mut profile_lines = import.versions.iter().map(|v| v.line);
    let in_file = |l: usize| (1..=lines_of(profiles)).contains(&l);
    assert!(profile_lines.all(in_file) && import.other_profiles.iter().all(|l| in_file(*l)));
    assert_eq!(import.category, "call");
    assert!(!import.tenant.is_empty() && !import.subject.is_empty());
    assert!(
        import
            .versions
            .windows(2)
            .all(|w| w[0].effective_from < w[1].effective_from),
        "versions out of order: {:?}",
        import.versions
    );
    let entries: Vec<&RateEntry> = import.card.entries().collect();
    assert!(entries.len() <= cgrates::MAX_PRICED);
    assert_eq!(
        import.versions.iter().map(|v| v.entries).sum::<usize>(),
        entries.len(),
        "the versions do not account for the card's entries"
    );
    for e in &entries {
        let of_version = import
            .versions
            .iter()
            .find(|v| v.effective_from == e.effective_from);
        assert!(
            of_version.is_some_and(|v| v.entries > 0),
            "{e:?} of no version"
        );
    }
    check_card(&import.card, currency);
    let again = cgrates::import(&files, currency, &selection).expect("imported once");
    assert_eq!(again.card.entries().collect::<Vec<_>>(), entries);
    assert_eq!(
        (again.issues, again.versions),
        (import.issues, import.versions)
    );
}

/// A refused tariff plan names, for each bad row, a line of a file that was given and one of
/// that file's columns (or none, for the whole row).
fn check_cgrates_refusal(rows: Vec<cgrates::BadRow>, lines_of: impl Fn(usize) -> usize) {
    assert!(!rows.is_empty(), "a refusal lists no bad row");
    for row in &rows {
        let file = cgrates_file(row.file);
        assert!((1..=lines_of(file)).contains(&row.line), "{row:?}");
        assert!(
            row.column.is_empty() || CGRATES_COLUMNS[file].contains(&row.column.as_str()),
            "{:?} is not a column of {}: {row:?}",
            row.column,
            row.file
        );
        assert!(!row.reason.trim().is_empty(), "{row:?}");
    }
    let text = ImportError::Bad(rows).to_string();
    assert!(text.contains("refused"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// Carrier rate decks

/// The example's layout: named columns, `;`, decimal commas, dates `%d.%m.%Y`, `60/60`
/// increments in one column.
const DECK_NAMED: &str = r#"
delimiter = ";"
decimal_separator = ","
date_format = "%d.%m.%Y"
[columns]
prefix = "Code"
description = "Destination"
rate = "Rate"
connection_fee = "Setup"
increments = "Billing"
effective_from = "Effective"
"#;

/// No header: columns by position, one date, increments and fee for the whole deck,
/// non-geographic prefixes skipped.
const DECK_POSITIONS: &str = r#"
header = false
non_geographic = "skip"
[columns]
prefix = 1
rate = 2
description = 3
premium = 4
[fixed]
increments = "30/6"
effective_from = "2026-01-01"
connection_fee = "0.05"
"#;

/// Tabs, ISO 8859-1, a title line, two increment columns, RFC 3339 instants, a premium flag
/// (and every outlier accepted, see `DECK_ACCEPT_ALL`).
const DECK_TABS: &str = "
delimiter = \"\\t\"
skip_lines = 1
encoding = \"latin-1\"
date_format = \"rfc3339\"
timezone = \"Europe/Paris\"
[columns]
prefix = \"prefix\"
description = \"name\"
rate = \"rate\"
connection_fee = \"fee\"
first_block = \"first\"
increment = \"next\"
effective_from = \"from\"
premium = \"premium\"
";

/// The fixed mappings; the input's first byte picks one, or (past them) takes the mapping from
/// the input: the text before its first `DECK_MAPPING_SEPARATOR`.
const DECK_MAPPINGS: [&str; 3] = [DECK_NAMED, DECK_POSITIONS, DECK_TABS];
/// The mapping whose outliers are all accepted.
const DECK_ACCEPT_ALL: usize = 2;
/// Between a mapping and its deck, when the input gives both.
pub const DECK_MAPPING_SEPARATOR: u8 = 0x1c;

fn deck_mappings() -> &'static [Mapping] {
    static MAPPINGS: OnceLock<Vec<Mapping>> = OnceLock::new();
    MAPPINGS.get_or_init(|| {
        DECK_MAPPINGS
            .iter()
            .map(|text| Mapping::parse(text).expect("a fixed mapping"))
            .collect()
    })
}

/// The labels an error may name a column by under `mapping`: the mapped header names (a
/// deck's header matches them without regard to case), or the mapped positions.
fn deck_labels(mapping: &Mapping) -> Vec<String> {
    let mut refs = vec![&mapping.prefix, &mapping.rate];
    refs.extend(mapping.description.iter().chain(&mapping.connection_fee));
    refs.extend(mapping.premium.iter());
    match &mapping.increments {
        deck::Increments::Column(c) => refs.push(c),
        deck::Increments::Columns(a, b) => refs.extend([a, b]),
        deck::Increments::Fixed { .. } => {}
    }
    if let deck::Effective::Column(c) = &mapping.effective {
        refs.push(c);
    }
    refs.into_iter()
        .map(|r| match r {
            deck::ColumnRef::Position(p) => p.to_string(),
            deck::ColumnRef::Name(n) => n.trim().to_string(),
        })
        .collect()
}

/// Carrier rate deck: the first byte picks a fixed mapping, or the input gives its own
/// mapping. A refused deck names lines of the input and columns of the mapping, and counts its
/// refused rows; an accepted one is a card within core's bounds that the rate-card CSV holds
/// exactly, each prefix's country the numbering plan's, with no prefix twice in a version and
/// no rate over `OUTLIER_FACTOR` times from its family's median unless accepted (and listed).
pub fn rate_deck(data: &[u8]) {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    let fixed = deck_mappings();
    let index = usize::from(choice) % (fixed.len() + 1);
    let (mapping, input, labels) = match fixed.get(index) {
        Some(m) => (m.clone(), rest, Some(deck_labels(m))),
        None => {
            let at = rest.iter().position(|&b| b == DECK_MAPPING_SEPARATOR);
            let (text, input) = at.map_or((rest, &[][..]), |at| (&rest[..at], &rest[at + 1..]));
            match Mapping::parse(&String::from_utf8_lossy(text)) {
                Ok(m) => (m, input, None),
                Err(why) => return assert!(!why.trim().is_empty()),
            }
        }
    };
    let accept_all = index == DECK_ACCEPT_ALL;
    let currency = currency_of(data);
    let options = DeckOptions {
        currency,
        accept: AcceptOutliers {
            all: accept_all,
            prefixes: BTreeSet::new(),
        },
    };
    let read = deck::read(input, &mapping, &options, countries());
    let summary = &read.summary;
    match &read.card {
        Err(e) => {
            check_deck_refusal(e, labels.as_deref(), input);
            assert!(
                (1..=max_line(input)).contains(&summary.refused),
                "{summary:?}"
            );
        }
        Ok(card) => {
            check_card(card, currency);
            check_deck_card(card, &mapping, summary, accept_all);
        }
    }
}

fn countries() -> &'static minutely_core::catalogue::CountryTable {
    static TABLE: OnceLock<minutely_core::catalogue::CountryTable> = OnceLock::new();
    TABLE.get_or_init(minutely_formats::countries::shipped)
}

fn check_deck_refusal(error: &FileErrors, labels: Option<&[String]>, input: &[u8]) {
    assert!(!error.errors.is_empty(), "a refusal lists no bad row");
    assert!(error.errors.len() <= MAX_LISTED_ERRORS);
    for row in &error.errors {
        assert!((1..=max_line(input)).contains(&row.line), "{row:?}");
        if let Some(labels) = labels {
            assert!(
                row.column.is_empty() || labels.iter().any(|l| l.eq_ignore_ascii_case(&row.column)),
                "{:?} is not a column of the mapping ({labels:?}): {row:?}",
                row.column
            );
        }
        assert!(!row.reason.trim().is_empty(), "{row:?}");
    }
    assert!(error.to_string().contains("refused"));
}

fn check_deck_card(
    card: &RateCard,
    mapping: &Mapping,
    summary: &deck::DeckSummary,
    accept_all: bool,
) {
    let entries: Vec<&RateEntry> = card.entries().collect();
    assert_eq!(summary.priced, entries.len(), "{summary:?}");
    assert_eq!(summary.refused, 0, "{summary:?}");
    assert!(summary.rows >= summary.priced + summary.skipped && summary.rows <= deck::MAX_ROWS);
    assert_eq!(summary.versions.values().sum::<usize>(), entries.len());
    let mut seen = HashSet::new();
    for e in &entries {
        let RateKey::Prefix(digits) = &e.key else {
            unreachable!("checked")
        };
        assert_eq!(
            NumberPlan::global().classify_prefix(digits),
            PlanAnswer::Country(e.country),
            "{e:?}"
        );
        assert!(
            seen.insert((e.effective_from, digits.clone())),
            "twice: {e:?}"
        );
        assert!(e.name.len() <= deck::MAX_NAME_BYTES && !e.name.chars().any(char::is_control));
        assert!(mapping.premium.is_some() || !e.premium, "{e:?}");
        if let deck::Effective::Fixed(at) = mapping.effective {
            assert_eq!(e.effective_from, at, "{e:?}");
        }
    }
    check_outliers(&entries, summary, accept_all);
}

/// The entries more than `OUTLIER_FACTOR` times from the lower median of their family's
/// non-zero rates (when it has `MIN_FAMILY_RATES`) are exactly the outliers the summary lists
/// as accepted, and there are none unless every outlier is accepted.
fn check_outliers(entries: &[&RateEntry], summary: &deck::DeckSummary, accept_all: bool) {
    let mut families: HashMap<_, Vec<Decimal>> = HashMap::new();
    for e in entries.iter().filter(|e| !e.rate_per_minute.is_zero()) {
        families
            .entry((e.effective_from, e.country))
            .or_default()
            .push(e.rate_per_minute);
    }
    let factor = Decimal::from(deck::OUTLIER_FACTOR);
    let mut outliers = BTreeSet::new();
    for e in entries {
        let Some(rates) = families.get_mut(&(e.effective_from, e.country)) else {
            continue;
        };
        if rates.len() < deck::MIN_FAMILY_RATES || e.rate_per_minute.is_zero() {
            continue;
        }
        rates.sort_unstable();
        let median = rates[(rates.len() - 1) / 2];
        let rate = e.rate_per_minute;
        if rate > median * factor || rate * factor < median {
            outliers.insert((e.effective_from, e.key.clone()));
        }
    }
    let accepted: BTreeSet<_> = summary
        .accepted_outliers
        .iter()
        .map(|o| (o.effective_from, RateKey::Prefix(o.prefix.clone())))
        .collect();
    assert!(
        accept_all || outliers.is_empty(),
        "outliers accepted unasked: {outliers:?}"
    );
    assert_eq!(
        accepted, outliers,
        "the accepted outliers are not the deck's outliers"
    );
}

// ---------------------------------------------------------------------------------------------
// Switch call records

/// The fixed mappings of `switch_cdr`, with the format of each: the shipped examples, and
/// FreeSWITCH's `sql` template and Asterisk in UTC with a digest for the call id and tenants
/// by value.
const CDR_MAPPINGS: [(Format, &str); 5] = [
    (
        Format::Asterisk,
        include_str!("../../examples/cdr-mapping-asterisk.toml"),
    ),
    (
        Format::FreeSwitch,
        include_str!("../../examples/cdr-mapping-freeswitch.toml"),
    ),
    (
        Format::KamailioAcc,
        include_str!("../../examples/cdr-mapping-kamailio.toml"),
    ),
    (Format::FreeSwitch, CDR_FREESWITCH_SQL),
    (Format::Asterisk, CDR_ASTERISK_UTC),
];

const CDR_FREESWITCH_SQL: &str = r#"
timezone = "America/New_York"
[freeswitch]
template = "sql"
[fields]
tenant = "accountcode"
organizer = { value = "ops@example.com" }
conference = "context"
[numbers]
international_prefix = "011"
national_prefix = "1"
country_code = "1"
[[legs]]
direction = "dial_out"
when = [{ field = "context", prefix = "out" }]
destination = "destination_number"
[[legs]]
direction = "dial_in"
caller = "caller_id_number"
service_number = "destination_number"
"#;

const CDR_ASTERISK_UTC: &str = r#"
[asterisk]
usegmtime = true
loguserfield = true
[fields]
tenant = "accountcode"
organizer = "userfield:organizer"
[tenants]
"100" = "contoso"
"200" = "fabrikam"
[numbers]
assume_international = true
[[legs]]
direction = "dial_out"
when = [{ field = "dcontext", one_of = ["out", "conf-dialout"] }]
destination = "dst"
service_number = "src"
"#;

fn cdr_mappings() -> &'static [cdr::Mapping] {
    static MAPPINGS: OnceLock<Vec<cdr::Mapping>> = OnceLock::new();
    MAPPINGS.get_or_init(|| {
        CDR_MAPPINGS
            .iter()
            .map(|(format, text)| cdr::Mapping::parse(text, *format).expect("a fixed mapping"))
            .collect()
    })
}

/// The fields a Kamailio line can be refused at when the line does not hold them.
const ACC_REQUIRED: [&str; 4] = ["start_time", "duration", "method", "code"];

/// Switch call records: the first byte picks a mapping (and its format). A refusal names lines
/// of the input and fields of the format. Each record read, imported or skipped, starts on its
/// own line of the input; an imported record's tenant, call id, organizer and conference are
/// identifiers, its length is at most `acc::MAX_DURATION_S`, its leg has the number its
/// direction needs, its call id is on its line (or is the line's digest), and the records read
/// back through the call-record CSV unchanged, as `minutely ingest` would read them.
pub fn switch_cdr(data: &[u8]) {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    let mappings = cdr_mappings();
    let mapping = &mappings[usize::from(choice) % mappings.len()];
    let text = String::from_utf8_lossy(rest);
    let lines: Vec<&str> = text.split('\n').collect();
    let read = match cdr::read(&text, mapping) {
        Ok(read) => read,
        Err(e) => return check_cdr_refusal(&e, mapping, &lines),
    };
    let mut starts = HashSet::new();
    let places = read.records.iter().map(|r| r.line);
    for line in places.chain(read.skipped.iter().map(|s| s.line)) {
        assert!(
            (1..=lines.len()).contains(&line),
            "line {line} of {}",
            lines.len()
        );
        assert!(starts.insert(line), "two records start on line {line}");
    }
    assert!(starts.len() <= cdr::MAX_RECORDS);
    assert!(read.skipped.iter().all(|s| !s.detail.trim().is_empty()));
    for r in &read.records {
        check_cdr_record(r, mapping, &lines[r.line - 1..]);
    }
    let again = cdr::read(&text, mapping).expect("read once");
    assert_eq!(
        (&again.records, &again.skipped),
        (&read.records, &read.skipped)
    );
    let records: Vec<CallRecord> = read.records.iter().map(|r| r.record.clone()).collect();
    let mut out = calls::header_line().into_bytes();
    records
        .iter()
        .for_each(|r| calls::write_record(&mut out, r));
    let back = CallFile::read(&out[..], |_| {}).unwrap_or_else(|e| {
        panic!(
            "the records written out are refused: {e}\n{}",
            String::from_utf8_lossy(&out)
        )
    });
    let back: Vec<CallRecord> = back.records(0..back.len()).unwrap();
    assert_eq!(
        back, records,
        "records changed on their way through the call-record file"
    );
}

fn check_cdr_record(r: &cdr::Imported, mapping: &cdr::Mapping, from_line: &[&str]) {
    let c = &r.record;
    assert!(ident::tenant_id("t", &r.tenant).is_ok(), "{r:?}");
    assert!(mapping.tenants.is_empty() || mapping.tenants.values().any(|t| *t == r.tenant));
    assert!(ident::call_id("c", &c.call_id).is_ok(), "{r:?}");
    assert!(ident::organizer("o", &c.organizer).is_ok(), "{r:?}");
    assert!(
        ident::optional_conference_id("m", &c.conference_id).is_ok(),
        "{r:?}"
    );
    let length_s = c.end.duration_since(c.start).as_secs();
    assert!(
        (0..=acc::MAX_DURATION_S as i64).contains(&length_s),
        "{r:?}"
    );
    let needed = match c.direction {
        Direction::DialIn => &c.service_number,
        Direction::DialOut => &c.destination_number,
    };
    assert!(!needed.is_empty(), "{r:?}");
    for number in [&c.service_number, &c.caller_number, &c.destination_number] {
        assert!(number.len() <= cdr::MAX_NUMBER_BYTES, "{r:?}");
    }
    match &mapping.call_id {
        Some(cdr::mapping::Source::Field(_)) => {
            // Quotes aside: CSV doubles a quote inside a field, and reads `"ab"c` as `abc`.
            let unquoted = |text: &str| text.replace('"', "");
            assert!(
                unquoted(&from_line.join("\n")).contains(&unquoted(&c.call_id)),
                "the call id is not on line {}: {r:?}",
                r.line
            );
        }
        Some(_) => {}
        None => assert!(
            from_line
                .iter()
                .any(|raw| cdr::line_call_id(raw) == c.call_id)
                || c.call_id.len() == 36 && c.call_id.starts_with("cdr-"),
            "{r:?}"
        ),
    }
}

fn check_cdr_refusal(error: &FileErrors, mapping: &cdr::Mapping, lines: &[&str]) {
    assert!(!error.errors.is_empty(), "a refusal lists no bad line");
    assert!(error.errors.len() <= MAX_LISTED_ERRORS);
    for row in &error.errors {
        assert!(
            (1..=lines.len()).contains(&row.line),
            "line {} of {}: {row:?}",
            row.line,
            lines.len()
        );
        let column = row.column.as_str();
        let known = match mapping.format {
            Format::KamailioAcc => {
                ACC_REQUIRED.contains(&column) || lines[row.line - 1].contains(column)
            }
            _ => mapping.columns.iter().any(|c| c == column),
        };
        assert!(
            column.is_empty() || known,
            "{column:?} is not a field of the format: {row:?}"
        );
        assert!(!row.reason.trim().is_empty(), "{row:?}");
    }
    assert!(error.to_string().contains("refused"));
}
