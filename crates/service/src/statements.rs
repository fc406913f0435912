//! A wallet's monthly statement, collected from the store as it stands: the journal (entries
//! before the month make its opening balance) and, for each debit, its call's category,
//! country and minutes. Rendering it (HTML, PDF) is `minutely_statements`'; this is the use
//! case the API and the command line share, with its JSON form.

use crate::error::{ServiceError, ServiceResult};
use jiff::Timestamp;
use minutely_core::directory::Tenant;
use minutely_core::engine::Outcome;
use minutely_core::lang::Lang;
use minutely_core::money::Currency;
use minutely_core::rating::Category;
use minutely_formats::instant;
use minutely_statements::model::Usage;
use minutely_statements::{Builder, CallFacts, Month, Period, Statement, StatementError};
use minutely_store::Store;
use rust_decimal::Decimal;
use serde::Serialize;

/// The most journal entries read for one statement (the whole journal is read: entries before
/// the month make its opening balance).
pub const MAX_JOURNAL_ENTRIES: u64 = 5_000_000;

/// Journal entries read per query.
const JOURNAL_PAGE: usize = 5_000;

/// The statement of `tenant` for `month`, read from `store` as it stands, as seen at `now`
/// (the current month is provisional, a later one refused).
pub fn collect(
    store: &Store,
    tenant: &Tenant,
    month: Month,
    now: Timestamp,
) -> ServiceResult<Statement> {
    Ok(collect_statement(store, tenant, month, now)?)
}

fn collect_statement(
    store: &Store,
    tenant: &Tenant,
    month: Month,
    now: Timestamp,
) -> Result<Statement, CollectError> {
    let period = Period::new(month, &tenant.timezone, now)?;
    let mut builder = Builder::new(
        &tenant.id,
        &tenant.name,
        tenant.currency,
        &tenant.timezone_name,
        tenant.timezone.clone(),
        period,
    );
    let mut after = 0u64;
    loop {
        let page = store.journal_page(&tenant.id, after, JOURNAL_PAGE)?;
        for entry in &page {
            if entry.seq > MAX_JOURNAL_ENTRIES {
                return Err(CollectError::Statement(StatementError::TooLarge {
                    month,
                    what: "journal entries",
                    limit: MAX_JOURNAL_ENTRIES as usize,
                }));
            }
            let mut lookup_error = None;
            let result = builder.add(entry, |call_id| {
                call_facts(store, &tenant.id, call_id, entry.seq).map_err(|e| match e {
                    CollectError::Statement(s) => s,
                    other => {
                        let seq = entry.seq;
                        lookup_error = Some(other);
                        StatementError::Ledger { seq }
                    }
                })
            });
            if let Some(e) = lookup_error {
                return Err(e);
            }
            result?;
        }
        match page.last() {
            Some(last) if page.len() == JOURNAL_PAGE => after = last.seq,
            _ => break,
        }
    }
    Ok(builder.finish()?)
}

/// What a statement knows of a debit's call: its category, its country (the destination of a
/// dial-out, the service number's country of a dial-in: the rate's country) and its whole
/// minutes (the duration rounded up to the minute, as in the usage reports).
fn call_facts(
    store: &Store,
    tenant: &str,
    call_id: &str,
    seq: u64,
) -> Result<CallFacts, CollectError> {
    let missing = || {
        CollectError::Statement(StatementError::MissingCall {
            seq,
            call_id: call_id.to_string(),
        })
    };
    let call = store.call(tenant, call_id)?.ok_or_else(missing)?;
    let Outcome::Charged(charge) = &call.outcome else {
        return Err(missing());
    };
    let rate_country = charge.rate.as_ref().map(|r| r.country.clone());
    let country = match charge.category {
        Category::DialOut => charge.other_country.clone().or(rate_country),
        Category::DialInToll | Category::DialInTollFree => rate_country,
    }
    .unwrap_or_default();
    Ok(CallFacts {
        category: charge.category,
        country,
        minutes: Decimal::from(charge.duration_s.div_ceil(60)),
    })
}

/// Why a statement could not be collected.
#[derive(Debug)]
enum CollectError {
    Statement(StatementError),
    Store(minutely_store::StoreError),
}

impl From<StatementError> for CollectError {
    fn from(e: StatementError) -> CollectError {
        CollectError::Statement(e)
    }
}

impl From<minutely_store::StoreError> for CollectError {
    fn from(e: minutely_store::StoreError) -> CollectError {
        CollectError::Store(e)
    }
}

impl From<CollectError> for ServiceError {
    fn from(e: CollectError) -> ServiceError {
        match e {
            CollectError::Statement(s) => statement_error(s),
            CollectError::Store(s) => ServiceError::from(s),
        }
    }
}

/// A statement's failure as the service's: a bad or future month names it; a damaged ledger
/// or a rendering failure is internal.
pub fn statement_error(e: StatementError) -> ServiceError {
    match e {
        StatementError::BadMonth { .. } => ServiceError::invalid(e.to_string()),
        StatementError::FutureMonth { .. } | StatementError::TooLarge { .. } => {
            ServiceError::unprocessable(e.to_string())
        }
        StatementError::Font(_) => ServiceError::unavailable(e.to_string()),
        StatementError::Ledger { .. }
        | StatementError::MissingCall { .. }
        | StatementError::Pdf(_)
        | StatementError::Locale { .. } => ServiceError::internal(e),
    }
}

// ---------------------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------------------

/// One funding or auto-recharge of the month.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FundingLineJson {
    /// The journal entry.
    pub seq: u64,
    pub at: String,
    /// The tenant-local date.
    pub date: String,
    /// `funding` or `recharge`.
    pub kind: String,
    /// The funding reference, or for a recharge the call whose debit caused it.
    pub reference: String,
    pub amount: String,
}

/// One forfeit of the month: what remained of a lot at its expiry (C10).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ForfeitLineJson {
    pub seq: u64,
    pub at: String,
    pub date: String,
    /// The lot, as the journal names it (`lot 3`).
    pub lot: String,
    pub amount: String,
}

/// Credit-paid usage of a set of calls.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UsageTotalsJson {
    /// Debits (one per call).
    pub calls: u64,
    /// Whole minutes of the calls, each rounded up (as in the usage reports).
    pub minutes: String,
    pub amount: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CategoryUsageJson {
    /// `dial_in_toll`, `dial_in_toll_free` or `dial_out`.
    pub category: String,
    #[serde(flatten)]
    pub usage: UsageTotalsJson,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CountryUsageJson {
    /// The destination (dial-out) or service number (dial-in) country, ISO 3166-1 alpha-2;
    /// empty when unknown.
    pub country: String,
    #[serde(flatten)]
    pub usage: UsageTotalsJson,
}

/// One refund of a rerated call's old charge.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RefundLineJson {
    pub seq: u64,
    pub at: String,
    pub date: String,
    pub call_id: String,
    /// The rerate run that refunded it.
    pub run: String,
    pub amount: String,
}

/// The monthly statement of the Communications Credits wallet. `opening_balance +
/// fundings_total + refunds_total - usage_total - forfeits_total = closing_balance`, exactly;
/// every amount is the ledger's own.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StatementJson {
    pub tenant: String,
    pub tenant_name: String,
    /// `YYYY-MM`.
    pub month: String,
    pub currency: String,
    /// The tenant's time zone, which the month is read in.
    pub timezone: String,
    /// The month's first instant.
    pub from: String,
    /// The next month's first instant (exclusive).
    pub to: String,
    /// True while the month runs: the statement shows the movements to date.
    pub provisional: bool,
    /// When the statement was made.
    pub as_of: String,
    pub opening_balance: String,
    pub fundings: Vec<FundingLineJson>,
    pub fundings_total: String,
    /// Every category, in the order dial-in toll, dial-in toll-free, dial-out.
    pub usage_by_category: Vec<CategoryUsageJson>,
    /// By country code.
    pub usage_by_country: Vec<CountryUsageJson>,
    pub usage_total: UsageTotalsJson,
    pub forfeits: Vec<ForfeitLineJson>,
    pub forfeits_total: String,
    /// Refunds of rerated calls (their new charges are usage).
    pub refunds: Vec<RefundLineJson>,
    pub refunds_total: String,
    pub closing_balance: String,
}

fn usage_json(currency: Currency, u: &Usage) -> UsageTotalsJson {
    UsageTotalsJson {
        calls: u.calls,
        minutes: u.minutes.normalize().to_string(),
        amount: currency.format(u.amount),
    }
}

impl StatementJson {
    pub fn new(s: &Statement) -> StatementJson {
        let c = s.currency;
        StatementJson {
            tenant: s.tenant.clone(),
            tenant_name: s.tenant_name.clone(),
            month: s.period.month.to_string(),
            currency: c.code().to_string(),
            timezone: s.timezone.clone(),
            from: instant::format(s.period.start),
            to: instant::format(s.period.end),
            provisional: s.period.provisional,
            as_of: instant::format(s.period.as_of),
            opening_balance: c.format(s.opening),
            fundings: s
                .fundings
                .iter()
                .map(|l| FundingLineJson {
                    seq: l.seq,
                    at: instant::format(l.at),
                    date: l.date.to_string(),
                    kind: if l.recharge { "recharge" } else { "funding" }.to_string(),
                    reference: l.reference.clone(),
                    amount: c.format(l.amount),
                })
                .collect(),
            fundings_total: c.format(s.fundings_total),
            usage_by_category: s
                .by_category
                .iter()
                .map(|(category, u)| CategoryUsageJson {
                    category: category.as_str().to_string(),
                    usage: usage_json(c, u),
                })
                .collect(),
            usage_by_country: s
                .by_country
                .iter()
                .map(|(country, u)| CountryUsageJson {
                    country: country.clone(),
                    usage: usage_json(c, u),
                })
                .collect(),
            usage_total: usage_json(c, &s.usage),
            forfeits: s
                .forfeits
                .iter()
                .map(|l| ForfeitLineJson {
                    seq: l.seq,
                    at: instant::format(l.at),
                    date: l.date.to_string(),
                    lot: l.lot.clone(),
                    amount: c.format(l.amount),
                })
                .collect(),
            forfeits_total: c.format(s.forfeits_total),
            refunds: s
                .refunds
                .iter()
                .map(|l| RefundLineJson {
                    seq: l.seq,
                    at: instant::format(l.at),
                    date: l.date.to_string(),
                    call_id: l.call_id.clone(),
                    run: l.run.clone(),
                    amount: c.format(l.amount),
                })
                .collect(),
            refunds_total: c.format(s.refunds_total),
            closing_balance: c.format(s.closing),
        }
    }
}

/// A `lang` parameter, checked: one of the five tags.
pub fn parse_lang(text: &str) -> Result<Lang, String> {
    Lang::from_tag(text.trim()).ok_or_else(|| {
        format!(
            "lang: {:?} is not a language of statements; use en, ja, zh-CN, fr or de",
            text.chars().take(40).collect::<String>()
        )
    })
}

/// The file name of a PDF statement, safe characters only.
pub fn pdf_file_name(tenant: &str, month: Month, lang: Lang) -> String {
    let safe: String = tenant
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("statement-{safe}-{month}-{}.pdf", lang.tag())
}
