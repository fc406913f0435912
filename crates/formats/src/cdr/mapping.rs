//! The mapping file of `minutely import cdr` (TOML): which field of a switch's record carries
//! the tenant, the organizer, the conference and the call id, which records are PSTN legs and
//! in which direction, which fields carry the numbers, and in which time zone the switch wrote
//! its local times. Checked whole when read: every problem is listed with its place in the file.

use super::Format;
use jiff::tz::TimeZone;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The longest mapping file, in bytes.
pub const MAX_MAPPING_BYTES: usize = 1024 * 1024;
/// The most leg rules, and the most conditions of one rule.
pub const MAX_RULES: usize = 256;

/// Where a value comes from: a field, a `key=value` pair inside a field (`userfield:organizer`
/// reads `organizer` out of `organizer=ana@x;conf=7`), or a fixed value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Field(String),
    Pair {
        field: String,
        key: String,
    },
    Value(String),
    /// Several sources joined with `-` (`["uniqueid", "sequence"]`: Asterisk writes several
    /// records of one channel with one uniqueid); empty when any of them is.
    Join(Vec<Source>),
}

/// The most sources one `Join` may have.
pub const MAX_JOINED: usize = 8;

/// How a condition compares a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Test {
    Equals(String),
    Prefix(String),
    OneOf(Vec<String>),
}

/// One condition of a leg rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The value compared (empty when the field is).
    pub source: Source,
    /// How it is compared.
    pub test: Test,
}

/// A rule saying which records are PSTN legs of one direction, and where their numbers are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegRule {
    /// `dial_in` or `dial_out` (toll or toll-free follows the service number's kind in the
    /// tenant's directory).
    pub direction: minutely_core::rating::Direction,
    /// Every condition must hold.
    pub when: Vec<Condition>,
    /// The caller's number (dial-in; decides the toll-free origin, C35).
    pub caller: Option<Source>,
    /// The number dialed out (required for dial-out).
    pub destination: Option<Source>,
    /// The tenant's number called (required for dial-in), or the caller ID shown on a
    /// dial-out.
    pub service_number: Option<Source>,
}

/// How numbers written without `+` become E.164.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Numbers {
    /// The switch's international prefix (`00`, `011`): replaced by `+`.
    pub international_prefix: Option<String>,
    /// The national trunk prefix (`0`), replaced by `+` and `country_code`.
    pub national_prefix: Option<String>,
    /// The switch's own country code, for national numbers.
    pub country_code: Option<String>,
    /// Digits that match neither prefix are already international: `+` is put in front.
    pub assume_international: bool,
}

/// The cdr.conf `[csv]` options of an Asterisk switch: they decide the columns and the times.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AsteriskOptions {
    /// Times are UTC, not local.
    pub usegmtime: bool,
    /// A `uniqueid` column follows `amaflags`.
    pub loguniqueid: bool,
    /// A `userfield` column follows.
    pub loguserfield: bool,
    /// `peeraccount`, `linkedid` and `sequence` follow.
    pub newcdrcolumns: bool,
}

/// A checked mapping.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// The switch the mapping reads.
    pub format: Format,
    /// The columns of a CSV format, in order (empty for Kamailio, whose pairs are named).
    pub columns: Vec<String>,
    /// For FreeSWITCH, whether the line is the `sql` template's `INSERT` statement.
    pub sql: bool,
    /// The zone of the switch's local times (`None`: its times are UTC).
    pub timezone: Option<TimeZone>,
    /// Asterisk's `[csv]` options (all off for other switches).
    pub asterisk: AsteriskOptions,
    /// The field carrying the tenant (its value, or a key of `tenants`).
    pub tenant: Source,
    /// Values of the tenant field and the tenant each stands for; empty: the value is the id.
    pub tenants: BTreeMap<String, String>,
    /// The field carrying the organizer's UPN (C5: charges attach to the organizer).
    pub organizer: Source,
    /// The conference id (empty without one).
    pub conference: Option<Source>,
    /// `None`: a digest of the record's line (`cdr-` and 32 hex digits).
    pub call_id: Option<Source>,
    /// How numbers become E.164.
    pub numbers: Numbers,
    /// The PSTN leg rules, in order: the first that matches decides.
    pub legs: Vec<LegRule>,
}

/// A mapping refused, with every problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("mapping refused: {}", problems.join("; "))]
pub struct MappingError {
    /// Each problem, with its place in the file.
    pub problems: Vec<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SourceFile {
    Name(String),
    Value { value: String },
    Join(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConditionFile {
    field: String,
    equals: Option<String>,
    prefix: Option<String>,
    one_of: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LegFile {
    direction: String,
    #[serde(default)]
    when: Vec<ConditionFile>,
    caller: Option<SourceFile>,
    destination: Option<SourceFile>,
    service_number: Option<SourceFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldsFile {
    tenant: SourceFile,
    organizer: SourceFile,
    conference: Option<SourceFile>,
    call_id: Option<SourceFile>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct NumbersFile {
    international_prefix: Option<String>,
    national_prefix: Option<String>,
    country_code: Option<String>,
    #[serde(default)]
    assume_international: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AsteriskFile {
    #[serde(default)]
    usegmtime: bool,
    #[serde(default)]
    loguniqueid: bool,
    #[serde(default)]
    loguserfield: bool,
    #[serde(default)]
    newcdrcolumns: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FreeswitchFile {
    template: String,
    fields: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    format: Option<String>,
    timezone: Option<String>,
    fields: FieldsFile,
    #[serde(default)]
    tenants: BTreeMap<String, String>,
    #[serde(default)]
    numbers: NumbersFile,
    asterisk: Option<AsteriskFile>,
    freeswitch: Option<FreeswitchFile>,
    #[serde(default)]
    legs: Vec<LegFile>,
}

/// The variables of FreeSWITCH's stock `example` template (cdr_csv.conf.xml), in order.
pub const FREESWITCH_EXAMPLE: [&str; 15] = [
    "caller_id_name",
    "caller_id_number",
    "destination_number",
    "context",
    "start_stamp",
    "answer_stamp",
    "end_stamp",
    "duration",
    "billsec",
    "hangup_cause",
    "uuid",
    "bleg_uuid",
    "accountcode",
    "read_codec",
    "write_codec",
];

/// The stock `sql` template: the `example` fields without the codecs, as an `INSERT`.
pub const FREESWITCH_SQL: &[&str] = FREESWITCH_EXAMPLE.split_at(13).0;

/// The stock `asterisk` template: Asterisk's Master.csv layout with FreeSWITCH's variables.
pub const FREESWITCH_ASTERISK: [&str; 18] = [
    "accountcode",
    "caller_id_number",
    "destination_number",
    "context",
    "caller_id",
    "channel_name",
    "bridge_channel",
    "last_app",
    "last_arg",
    "start_stamp",
    "answer_stamp",
    "end_stamp",
    "duration",
    "billsec",
    "hangup_cause",
    "amaflags",
    "uuid",
    "userfield",
];

/// Asterisk's Master.csv columns that are always written, in order (cdr_csv).
pub const ASTERISK_BASE: [&str; 16] = [
    "accountcode",
    "src",
    "dst",
    "dcontext",
    "clid",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "disposition",
    "amaflags",
];

/// The columns of an Asterisk Master.csv written with `options`.
pub fn asterisk_columns(options: AsteriskOptions) -> Vec<String> {
    let mut columns: Vec<String> = ASTERISK_BASE.iter().map(|c| c.to_string()).collect();
    if options.loguniqueid {
        columns.push("uniqueid".into());
    }
    if options.loguserfield {
        columns.push("userfield".into());
    }
    if options.newcdrcolumns {
        columns.extend(["peeraccount", "linkedid", "sequence"].map(String::from));
    }
    columns
}

impl Mapping {
    /// Reads and checks a mapping for records of `format`.
    pub fn parse(text: &str, format: Format) -> Result<Mapping, MappingError> {
        let refuse = |p: String| MappingError { problems: vec![p] };
        if text.len() > MAX_MAPPING_BYTES {
            return Err(refuse(format!(
                "the file is longer than {MAX_MAPPING_BYTES} bytes"
            )));
        }
        let file: MappingFile = toml::from_str(text).map_err(|e| refuse(e.to_string()))?;
        let mut problems = Vec::new();
        if let Some(named) = &file.format
            && Format::parse(named) != Some(format)
        {
            problems.push(format!(
                "format: the mapping is for {named:?}, the records are {}",
                format.name()
            ));
        }
        let (columns, sql, asterisk) = columns_of(&file, format, &mut problems);
        let timezone = timezone_of(&file, format, asterisk, &mut problems);
        let mut mapping = Mapping {
            format,
            columns,
            sql,
            timezone,
            asterisk,
            tenant: source(file.fields.tenant),
            tenants: file.tenants,
            organizer: source(file.fields.organizer),
            conference: file.fields.conference.map(source),
            call_id: file.fields.call_id.map(source),
            numbers: Numbers {
                international_prefix: file.numbers.international_prefix,
                national_prefix: file.numbers.national_prefix,
                country_code: file.numbers.country_code,
                assume_international: file.numbers.assume_international,
            },
            legs: Vec::new(),
        };
        mapping.call_id = mapping.call_id.take().or_else(|| default_call_id(&mapping));
        mapping.legs = legs_of(file.legs, &mut problems);
        mapping.check(&mut problems);
        if problems.is_empty() {
            Ok(mapping)
        } else {
            Err(MappingError { problems })
        }
    }

    /// Checks that every field named exists (CSV formats) and the rest of the file's rules.
    fn check(&self, problems: &mut Vec<String>) {
        let mut named: Vec<(String, &Source)> = vec![
            ("fields.tenant".into(), &self.tenant),
            ("fields.organizer".into(), &self.organizer),
        ];
        named.extend(
            self.conference
                .iter()
                .map(|s| ("fields.conference".into(), s)),
        );
        named.extend(self.call_id.iter().map(|s| ("fields.call_id".into(), s)));
        for (i, leg) in self.legs.iter().enumerate() {
            for (j, c) in leg.when.iter().enumerate() {
                named.push((format!("legs[{i}].when[{j}]"), &c.source));
            }
            for (name, s) in [
                ("caller", &leg.caller),
                ("destination", &leg.destination),
                ("service_number", &leg.service_number),
            ] {
                named.extend(s.iter().map(|s| (format!("legs[{i}].{name}"), s)));
            }
        }
        for (place, source) in named {
            let parts = match source {
                Source::Join(parts) if parts.is_empty() || parts.len() > MAX_JOINED => {
                    problems.push(format!("{place}: join 1 to {MAX_JOINED} fields"));
                    continue;
                }
                Source::Join(parts) => parts.iter().collect(),
                other => vec![other],
            };
            for part in parts {
                let field = match part {
                    Source::Field(f) | Source::Pair { field: f, .. } => f,
                    Source::Value(_) | Source::Join(_) => continue,
                };
                if !self.columns.is_empty() && !self.columns.contains(field) {
                    problems.push(format!(
                        "{place}: {} records have no field {field:?} (they have {})",
                        self.format.name(),
                        self.columns.join(", ")
                    ));
                }
            }
        }
        if self.legs.is_empty() {
            problems.push("legs: no rule says which records are PSTN legs".into());
        }
        let n = &self.numbers;
        if n.national_prefix.is_some() != n.country_code.is_some() {
            problems.push("numbers: national_prefix and country_code go together".into());
        }
        if let Some(cc) = &n.country_code
            && !(1..=3).contains(&cc.len())
        {
            problems.push(format!("numbers.country_code: {cc:?} is not 1 to 3 digits"));
        }
        for (value, tenant) in &self.tenants {
            if minutely_core::ident::tenant_id("tenants", tenant).is_err() {
                problems.push(format!("tenants.{value}: {tenant:?} is not a tenant id"));
            }
        }
    }
}

fn source(file: SourceFile) -> Source {
    match file {
        SourceFile::Value { value } => Source::Value(value),
        SourceFile::Join(names) => Source::Join(
            names
                .into_iter()
                .map(SourceFile::Name)
                .map(source)
                .collect(),
        ),
        SourceFile::Name(name) => match name.split_once(':') {
            Some((field, key)) => Source::Pair {
                field: field.to_string(),
                key: key.to_string(),
            },
            None => Source::Field(name),
        },
    }
}

/// The call id by default: FreeSWITCH's `uuid`, Asterisk's `uniqueid` when logged, the SIP
/// Call-ID Kamailio's CDR carries; else a digest of the line.
fn default_call_id(mapping: &Mapping) -> Option<Source> {
    let name = match mapping.format {
        Format::FreeSwitch => "uuid",
        Format::Asterisk => "uniqueid",
        Format::KamailioAcc => "call_id",
    };
    let known = mapping.columns.is_empty() || mapping.columns.iter().any(|c| c == name);
    known.then(|| Source::Field(name.to_string()))
}

fn columns_of(
    file: &MappingFile,
    format: Format,
    problems: &mut Vec<String>,
) -> (Vec<String>, bool, AsteriskOptions) {
    let strings = |list: &[&str]| list.iter().map(|c| c.to_string()).collect::<Vec<_>>();
    match format {
        Format::Asterisk => {
            let a = file.asterisk.as_ref();
            let options = AsteriskOptions {
                usegmtime: a.is_some_and(|a| a.usegmtime),
                loguniqueid: a.is_some_and(|a| a.loguniqueid),
                loguserfield: a.is_some_and(|a| a.loguserfield),
                newcdrcolumns: a.is_some_and(|a| a.newcdrcolumns),
            };
            (asterisk_columns(options), false, options)
        }
        Format::FreeSwitch => {
            let Some(fs) = &file.freeswitch else {
                problems.push("freeswitch.template: say which template wrote the records (example, sql, asterisk or custom)".into());
                return (Vec::new(), false, AsteriskOptions::default());
            };
            let columns = match (fs.template.as_str(), &fs.fields) {
                ("example", None) => strings(&FREESWITCH_EXAMPLE),
                ("sql", None) => strings(FREESWITCH_SQL),
                ("asterisk", None) => strings(&FREESWITCH_ASTERISK),
                ("custom", Some(fields)) if !fields.is_empty() && fields.len() <= 256 => {
                    fields.clone()
                }
                (t, _) => {
                    problems.push(format!("freeswitch: template {t:?} must be example, sql or asterisk, or custom with its fields (1 to 256 names)"));
                    Vec::new()
                }
            };
            let has = |n: &str| columns.iter().any(|c| c == n);
            let timed = has("billsec") && has("answer_stamp");
            if !columns.is_empty() && !timed {
                problems
                    .push("freeswitch.fields: a template needs answer_stamp and billsec".into());
            }
            (columns, fs.template == "sql", AsteriskOptions::default())
        }
        Format::KamailioAcc => (Vec::new(), false, AsteriskOptions::default()),
    }
}

fn timezone_of(
    file: &MappingFile,
    format: Format,
    asterisk: AsteriskOptions,
    problems: &mut Vec<String>,
) -> Option<TimeZone> {
    let local = match format {
        Format::Asterisk => !asterisk.usegmtime,
        Format::FreeSwitch => true,
        Format::KamailioAcc => false,
    };
    match (&file.timezone, local) {
        (Some(name), true) => match TimeZone::get(name) {
            Ok(tz) => Some(tz),
            Err(_) => {
                problems.push(format!("timezone: {name:?} is not an IANA time zone"));
                None
            }
        },
        (None, true) => {
            problems.push(format!(
                "timezone: {} writes local times; name the switch's zone (such as \"Europe/Paris\", or \"UTC\")",
                format.name()
            ));
            None
        }
        (Some(_), false) => {
            problems.push(format!(
                "timezone: {} times here are UTC (Unix seconds, or usegmtime); remove timezone",
                format.name()
            ));
            None
        }
        (None, false) => None,
    }
}

fn legs_of(files: Vec<LegFile>, problems: &mut Vec<String>) -> Vec<LegRule> {
    use minutely_core::rating::Direction;
    if files.len() > MAX_RULES {
        problems.push(format!("legs: at most {MAX_RULES} rules"));
        return Vec::new();
    }
    let mut legs = Vec::new();
    for (i, leg) in files.into_iter().enumerate() {
        let direction = match leg.direction.as_str() {
            "dial_in" => Direction::DialIn,
            "dial_out" => Direction::DialOut,
            other => {
                problems.push(format!(
                    "legs[{i}].direction: {other:?} is not dial_in or dial_out"
                ));
                continue;
            }
        };
        let needed = match direction {
            Direction::DialIn => ("service_number", leg.service_number.is_some()),
            Direction::DialOut => ("destination", leg.destination.is_some()),
        };
        if !needed.1 {
            problems.push(format!(
                "legs[{i}]: a {} rule needs {}",
                direction.as_str(),
                needed.0
            ));
        }
        if leg.when.len() > MAX_RULES {
            problems.push(format!("legs[{i}].when: at most {MAX_RULES} conditions"));
        }
        let when = leg
            .when
            .into_iter()
            .enumerate()
            .filter_map(|(j, c)| condition(c, &format!("legs[{i}].when[{j}]"), problems))
            .collect();
        legs.push(LegRule {
            direction,
            when,
            caller: leg.caller.map(source),
            destination: leg.destination.map(source),
            service_number: leg.service_number.map(source),
        });
    }
    legs
}

fn condition(file: ConditionFile, place: &str, problems: &mut Vec<String>) -> Option<Condition> {
    let test = match (file.equals, file.prefix, file.one_of) {
        (Some(v), None, None) => Test::Equals(v),
        (None, Some(p), None) => Test::Prefix(p),
        (None, None, Some(list)) => Test::OneOf(list),
        _ => {
            problems.push(format!(
                "{place}: give exactly one of equals, prefix, one_of"
            ));
            return None;
        }
    };
    Some(Condition {
        source: source(SourceFile::Name(file.field)),
        test,
    })
}
