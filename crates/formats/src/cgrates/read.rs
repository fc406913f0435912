//! Reading the CSV files of a CGRateS tariff plan into rows: every field checked, every bad field
//! named by file, line and column. What the rows mean for a rate card is `convert`'s business.

use super::{BadRow, MAX_FIELD_CHARS, MAX_ROWS};
use jiff::Timestamp;
use minutely_core::money::parse_amount;
use rust_decimal::Decimal;

/// The largest duration read (a rate unit, an increment, a group start): ten days, in
/// nanoseconds. CGRateS durations are nanoseconds; nothing a rate card needs comes near this.
pub const MAX_DURATION_NS: u64 = 864_000_000_000_000;

/// One prefix of a destination (`Destinations.csv`).
#[derive(Debug, Clone)]
pub struct Destination {
    pub line: usize,
    pub id: String,
    pub prefix: String,
}

/// One rate group (`Rates.csv`): the price of `unit_ns` of usage, charged in steps of
/// `increment_ns`, from `start_ns` into the call.
#[derive(Debug, Clone)]
pub struct RateGroup {
    pub line: usize,
    pub id: String,
    pub connect_fee: Decimal,
    pub rate: Decimal,
    pub unit_ns: u64,
    pub increment_ns: u64,
    pub start_ns: u64,
}

/// One row of `DestinationRates.csv`: a destination priced by a rate, with its rounding and cap.
#[derive(Debug, Clone)]
pub struct DestinationRate {
    pub line: usize,
    pub id: String,
    pub destination_id: String,
    pub rate_id: String,
    pub rounding_method: String,
    pub rounding_decimals: u32,
    pub max_cost: Decimal,
    pub max_cost_strategy: String,
}

/// One row of `RatingPlans.csv`: destination rates in force during a timing, with a weight.
#[derive(Debug, Clone)]
pub struct PlanBinding {
    pub line: usize,
    pub id: String,
    pub destination_rate_id: String,
    pub timing_id: String,
    pub weight: Decimal,
}

/// One row of `RatingProfiles.csv`: who is rated with which plan from when.
#[derive(Debug, Clone)]
pub struct Profile {
    pub line: usize,
    pub tenant: String,
    pub category: String,
    pub subject: String,
    pub activation: Timestamp,
    pub plan_id: String,
    pub fallback_subjects: String,
}

/// One row of `Timings.csv`.
#[derive(Debug, Clone)]
pub struct Timing {
    pub line: usize,
    pub id: String,
    pub years: String,
    pub months: String,
    pub month_days: String,
    pub week_days: String,
    pub time: String,
}

/// Every row of a tariff plan's six files.
#[derive(Debug, Default)]
pub struct Rows {
    pub destinations: Vec<Destination>,
    pub rates: Vec<RateGroup>,
    pub destination_rates: Vec<DestinationRate>,
    pub plans: Vec<PlanBinding>,
    pub profiles: Vec<Profile>,
    pub timings: Vec<Timing>,
}

/// The fields of one file's rows, with the line each starts on. Lines starting with `#` (the
/// headers CGRateS writes) and blank lines are skipped, as CGRateS skips them.
fn records(
    file: &'static str,
    input: &[u8],
    columns: &[&str],
    bad: &mut Vec<BadRow>,
) -> Vec<(usize, Vec<String>)> {
    let text = String::from_utf8_lossy(input);
    let mut out = Vec::new();
    // Line by line, so that every row is named by its line in the file (comment lines count).
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        if raw.trim().is_empty() || raw.trim_start().starts_with('#') {
            continue;
        }
        if bad.len() >= crate::MAX_LISTED_ERRORS {
            break;
        }
        let record: Vec<String> = if raw.contains('"') {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .trim(csv::Trim::All)
                .from_reader(raw.as_bytes());
            match reader.records().next() {
                Some(Ok(r)) => r.iter().map(str::to_string).collect(),
                _ => {
                    bad.push(BadRow::new(file, line, "", "not a CSV row"));
                    continue;
                }
            }
        } else {
            raw.split(',').map(|f| f.trim().to_string()).collect()
        };
        if out.len() >= MAX_ROWS {
            bad.push(BadRow::new(
                file,
                line,
                "",
                format!("a file has at most {MAX_ROWS} rows"),
            ));
            break;
        }
        if record.len() != columns.len() {
            let reason = format!(
                "expected {} fields ({}), found {}",
                columns.len(),
                columns.join(","),
                record.len()
            );
            bad.push(BadRow::new(file, line, "", reason));
            continue;
        }
        if let Some((i, _)) = record
            .iter()
            .enumerate()
            .find(|(_, f)| f.chars().count() > MAX_FIELD_CHARS)
        {
            let reason = format!("a field has at most {MAX_FIELD_CHARS} characters");
            bad.push(BadRow::new(file, line, columns[i], reason));
            continue;
        }
        out.push((line, record));
    }
    out
}

/// Checks the fields of one row, collecting every bad one.
struct Fields<'a> {
    file: &'static str,
    line: usize,
    columns: &'a [&'a str],
    values: &'a [String],
    bad: &'a mut Vec<BadRow>,
}

impl Fields<'_> {
    fn fail(&mut self, index: usize, reason: String) {
        self.bad.push(BadRow::new(
            self.file,
            self.line,
            self.columns[index],
            reason,
        ));
    }

    fn id(&mut self, index: usize) -> String {
        let text = &self.values[index];
        if text.is_empty() {
            self.fail(index, "empty; an id is required".into());
        }
        text.clone()
    }

    fn text(&self, index: usize) -> String {
        self.values[index].clone()
    }

    /// A decimal amount; empty reads as 0 when `empty_is_zero`.
    fn amount(&mut self, index: usize, empty_is_zero: bool) -> Decimal {
        let text = self.values[index].clone();
        if text.is_empty() && empty_is_zero {
            return Decimal::ZERO;
        }
        match parse_amount(&text) {
            Ok(v) if v >= Decimal::ZERO => v,
            Ok(_) => {
                self.fail(index, format!("{text:?} is negative"));
                Decimal::ZERO
            }
            Err(e) => {
                self.fail(index, e.to_string());
                Decimal::ZERO
            }
        }
    }

    fn duration_ns(&mut self, index: usize) -> u64 {
        let text = self.values[index].clone();
        parse_duration_ns(&text).unwrap_or_else(|reason| {
            self.fail(index, reason);
            0
        })
    }

    fn decimals(&mut self, index: usize) -> u32 {
        let text = self.values[index].clone();
        match text.parse::<u32>() {
            Ok(v) if v <= 28 => v,
            _ => {
                self.fail(
                    index,
                    format!("{text:?}: expected a whole number from 0 to 28"),
                );
                0
            }
        }
    }

    fn instant(&mut self, index: usize) -> Timestamp {
        let text = self.values[index].clone();
        crate::instant::parse(&text).unwrap_or_else(|reason| {
            self.fail(
                index,
                format!("{reason}; *asap and *now are not fixed instants"),
            );
            Timestamp::UNIX_EPOCH
        })
    }
}

/// A CGRateS duration: a bare integer is nanoseconds (`1024`), otherwise Go's form, numbers with
/// units (`60s`, `1m`, `1m30s`, `1.5s`, `100ms`). Exact: a fraction of a nanosecond is refused.
pub fn parse_duration_ns(text: &str) -> Result<u64, String> {
    let refuse = || format!("{text:?} is not a duration (such as 60s, 1m, 1m30s, or nanoseconds)");
    if text.is_empty() || text.len() > 32 {
        return Err(refuse());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<u64>()
            .ok()
            .filter(|v| *v <= MAX_DURATION_NS)
            .ok_or_else(|| format!("{text:?} is longer than ten days"));
    }
    let mut total = Decimal::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(refuse)?;
        let number = parse_amount(&rest[..number_len]).map_err(|_| refuse())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit_ns: i64 = match &rest[..unit_len] {
            "h" => 3_600_000_000_000,
            "m" => 60_000_000_000,
            "s" => 1_000_000_000,
            "ms" => 1_000_000,
            "us" | "µs" => 1_000,
            "ns" => 1,
            _ => return Err(refuse()),
        };
        rest = &rest[unit_len..];
        total = number
            .checked_mul(Decimal::from(unit_ns))
            .and_then(|part| total.checked_add(part))
            .ok_or_else(refuse)?;
    }
    if total.fract() != Decimal::ZERO {
        return Err(format!("{text:?} is not a whole number of nanoseconds"));
    }
    u64::try_from(total)
        .ok()
        .filter(|v| *v <= MAX_DURATION_NS)
        .ok_or_else(|| format!("{text:?} is longer than ten days"))
}

const DESTINATIONS: [&str; 2] = ["Id", "Prefix"];
const RATES: [&str; 6] = [
    "Id",
    "ConnectFee",
    "Rate",
    "RateUnit",
    "RateIncrement",
    "GroupIntervalStart",
];
const DESTINATION_RATES: [&str; 7] = [
    "Id",
    "DestinationId",
    "RatesTag",
    "RoundingMethod",
    "RoundingDecimals",
    "MaxCost",
    "MaxCostStrategy",
];
const RATING_PLANS: [&str; 4] = ["Id", "DestinationRatesId", "TimingTag", "Weight"];
const RATING_PROFILES: [&str; 6] = [
    "Tenant",
    "Category",
    "Subject",
    "ActivationTime",
    "RatingPlanId",
    "RatesFallbackSubject",
];
const TIMINGS: [&str; 6] = ["Id", "Years", "Months", "MonthDays", "WeekDays", "Time"];

/// Reads each file's rows with `row`, which checks the fields.
fn read<T>(
    file: &'static str,
    input: Option<&[u8]>,
    columns: &[&str],
    bad: &mut Vec<BadRow>,
    mut row: impl FnMut(&mut Fields<'_>) -> T,
) -> Vec<T> {
    let Some(input) = input else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (line, values) in records(file, input, columns, bad) {
        let before = bad.len();
        let mut fields = Fields {
            file,
            line,
            columns,
            values: &values,
            bad,
        };
        let value = row(&mut fields);
        if bad.len() == before {
            out.push(value);
        }
    }
    out
}

/// Reads the six files (each may be absent); every bad field of every file is listed.
pub fn rows(files: &super::Files<'_>, bad: &mut Vec<BadRow>) -> Rows {
    Rows {
        destinations: read(
            super::DESTINATIONS_CSV,
            files.destinations,
            &DESTINATIONS,
            bad,
            |f| Destination {
                line: f.line,
                id: f.id(0),
                prefix: f.id(1),
            },
        ),
        rates: read(super::RATES_CSV, files.rates, &RATES, bad, rate_group),
        destination_rates: read(
            super::DESTINATION_RATES_CSV,
            files.destination_rates,
            &DESTINATION_RATES,
            bad,
            destination_rate,
        ),
        plans: read(
            super::RATING_PLANS_CSV,
            files.rating_plans,
            &RATING_PLANS,
            bad,
            |f| PlanBinding {
                line: f.line,
                id: f.id(0),
                destination_rate_id: f.id(1),
                timing_id: f.id(2),
                weight: f.amount(3, true),
            },
        ),
        profiles: read(
            super::RATING_PROFILES_CSV,
            files.rating_profiles,
            &RATING_PROFILES,
            bad,
            |f| Profile {
                line: f.line,
                tenant: f.id(0),
                category: f.id(1),
                subject: f.id(2),
                activation: f.instant(3),
                plan_id: f.id(4),
                fallback_subjects: f.text(5),
            },
        ),
        timings: read(super::TIMINGS_CSV, files.timings, &TIMINGS, bad, |f| {
            Timing {
                line: f.line,
                id: f.id(0),
                years: f.text(1),
                months: f.text(2),
                month_days: f.text(3),
                week_days: f.text(4),
                time: f.text(5),
            }
        }),
    }
}

fn rate_group(f: &mut Fields<'_>) -> RateGroup {
    RateGroup {
        line: f.line,
        id: f.id(0),
        connect_fee: f.amount(1, true),
        rate: f.amount(2, false),
        unit_ns: f.duration_ns(3),
        increment_ns: f.duration_ns(4),
        start_ns: f.duration_ns(5),
    }
}

fn destination_rate(f: &mut Fields<'_>) -> DestinationRate {
    DestinationRate {
        line: f.line,
        id: f.id(0),
        destination_id: f.id(1),
        rate_id: f.id(2),
        rounding_method: f.text(3),
        rounding_decimals: f.decimals(4),
        max_cost: f.amount(5, true),
        max_cost_strategy: f.text(6),
    }
}
