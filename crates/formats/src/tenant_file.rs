//! The declarative tenant file (`minutely apply -f tenant.toml`): a tenant, its licenses, wallet
//! settings and past fundings, service numbers and users, kept as code. Applying a file makes
//! the tenant match it and lists what changed; applying it again changes nothing.

use jiff::Timestamp;
use minutely_core::catalogue::CountryTable;
use minutely_core::directory::{
    Agreement, AmountRules, AutoRecharge, NumberKind, Policy, Refusal, Sku, Tenant, TenantSpec,
    UserSpec, WalletSettings,
};
use minutely_core::engine::TenantBook;
use minutely_core::ledger::Effects;
use minutely_core::money::{BadAmount, Currency, MAX_AMOUNT, parse_amount};
use minutely_core::numbers::{Country, E164};
use minutely_core::reason::Reason;
use rust_decimal::Decimal;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

mod fast;

/// The most users, numbers or fundings one file may declare.
pub const MAX_ITEMS: usize = 100_000;
/// The longest tenant id, in bytes (as `Tenant::new` allows).
pub const MAX_ID_BYTES: usize = 64;

/// A count since always, or its history.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
enum LicenseCount {
    Count(u32),
    History(Vec<CountFrom>),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct CountFrom {
    count: u32,
    from: String,
}

/// Money as an integer or a decimal string; a TOML float is refused.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
enum Money {
    Whole(i64),
    Text(String),
    Float(#[allow(dead_code, reason = "only its presence matters: floats are refused")] f64),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct RechargeFile {
    #[serde(default = "yes")]
    enabled: bool,
    trigger: Money,
    amount: Money,
    #[serde(default = "yes")]
    payment_accepted: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct FundingFile {
    reference: String,
    amount: Money,
    at: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct WalletFile {
    #[serde(default)]
    low_balance_thresholds: Vec<Money>,
    auto_recharge: Option<RechargeFile>,
    #[serde(default)]
    fundings: Vec<FundingFile>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct NumberFile {
    number: String,
    kind: String,
    #[serde(default)]
    shared: bool,
    #[serde(default)]
    bridge_default: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserFile {
    upn: String,
    display_name: String,
    object_id: Option<String>,
    usage_location: Option<String>,
    #[serde(default)]
    licenses: Licenses,
    dial_out_policy: Option<String>,
    #[serde(default = "yes")]
    toll_free_dial_in: bool,
}

fn yes() -> bool {
    true
}

/// A user's licenses as written: any texts (as the `toml` crate reads them), or, from the fast
/// reader, license codes written exactly as `Sku::code` writes them, each once.
#[derive(Debug, Clone, Deserialize)]
#[serde(from = "Vec<String>")]
enum Licenses {
    Written(Vec<String>),
    Codes(Codes),
}

/// Up to one of each license code, in the order written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Codes([Option<Sku>; Sku::ALL.len()]);

impl Codes {
    /// Adds `sku` after those held; `None` when it is held already.
    fn push(&mut self, sku: Sku) -> Option<()> {
        let mut slots = self.0.iter_mut();
        for slot in &mut slots {
            match slot {
                Some(held) if *held == sku => return None,
                Some(_) => {}
                None => {
                    *slot = Some(sku);
                    return Some(());
                }
            }
        }
        None
    }

    fn iter(&self) -> impl Iterator<Item = Sku> + '_ {
        self.0.iter().map_while(|s| *s)
    }
}

impl Default for Licenses {
    fn default() -> Self {
        Licenses::Codes(Codes::default())
    }
}

impl From<Vec<String>> for Licenses {
    fn from(texts: Vec<String>) -> Self {
        Licenses::Written(texts)
    }
}

/// Licenses are the same when their texts are, in order.
impl PartialEq for Licenses {
    fn eq(&self, other: &Self) -> bool {
        fn texts(l: &Licenses) -> Vec<&str> {
            match l {
                Licenses::Written(texts) => texts.iter().map(String::as_str).collect(),
                Licenses::Codes(codes) => codes.iter().map(Sku::code).collect(),
            }
        }
        texts(self) == texts(other)
    }
}

/// A set of licenses, one bit per `Sku::ALL` position; iterated in `Sku` order, as a
/// `BTreeSet<Sku>` is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct SkuSet(u8);

impl SkuSet {
    fn bit(sku: Sku) -> u8 {
        let position = Sku::ALL.iter().position(|s| *s == sku).unwrap_or(0);
        1 << position
    }

    fn insert(&mut self, sku: Sku) {
        self.0 |= Self::bit(sku);
    }

    fn contains(&self, sku: Sku) -> bool {
        self.0 & Self::bit(sku) != 0
    }

    fn iter(self) -> impl Iterator<Item = Sku> {
        Sku::ALL.into_iter().filter(move |s| self.contains(*s))
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantFileRaw {
    id: String,
    name: String,
    country: String,
    currency: String,
    #[serde(default = "utc")]
    timezone: String,
    agreement: String,
    default_dial_out_policy: Option<String>,
    #[serde(default)]
    licenses: BTreeMap<String, LicenseCount>,
    wallet: Option<WalletFile>,
    #[serde(default)]
    numbers: Vec<NumberFile>,
    #[serde(default)]
    users: Vec<UserFile>,
}

fn utc() -> String {
    "UTC".into()
}

/// What is wrong with a tenant file: where, and why (with the reason code when a charging rule
/// refused it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct FileError {
    /// A path into the file, such as `users[2].licenses[0]`.
    pub location: String,
    pub reason: Option<Reason>,
    pub message: String,
}

fn err(location: impl Into<String>, message: impl Into<String>) -> FileError {
    FileError {
        location: location.into(),
        reason: None,
        message: message.into(),
    }
}

fn refused(location: impl Into<String>, refusal: Refusal) -> FileError {
    FileError {
        location: location.into(),
        reason: Some(refusal.reason),
        message: refusal.to_string(),
    }
}

/// The moment a count declared without history takes effect: since always.
pub const SINCE_ALWAYS: Timestamp = Timestamp::UNIX_EPOCH;

/// A user as declared.
#[derive(Debug, Clone)]
struct UserDecl {
    spec: UserSpec,
    licenses: SkuSet,
}

/// A past funding declared in the file, applied once (by reference).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredFunding {
    pub reference: String,
    pub amount: Decimal,
    pub at: Timestamp,
}

/// A checked tenant file.
#[derive(Debug, Clone)]
pub struct TenantFile {
    spec: TenantSpec,
    default_policy: Option<Policy>,
    purchases: Vec<(Sku, Timestamp, u32)>,
    wallet: Option<WalletSettings>,
    fundings: Vec<DeclaredFunding>,
    numbers: Vec<(E164, NumberKind, bool, bool)>,
    users: Vec<UserDecl>,
}

/// Every amount of a tenant file (fundings, auto-recharge, thresholds) is at most
/// `MAX_AMOUNT` (`amount_out_of_range`) and is never rounded (`amount_not_whole` for more
/// digits after the point than can be held exactly).
fn money(location: &str, value: &Money) -> Result<Decimal, FileError> {
    let out_of_range = || FileError {
        location: location.to_string(),
        reason: Some(Reason::AmountOutOfRange),
        message: format!("amount_out_of_range: an amount is at most {MAX_AMOUNT}"),
    };
    let amount = match value {
        Money::Whole(n) => Decimal::from(*n),
        Money::Text(text) => match parse_amount(text) {
            Ok(amount) => amount,
            Err(BadAmount::TooLarge(_)) => return Err(out_of_range()),
            Err(e @ BadAmount::TooPrecise(_)) => {
                return Err(FileError {
                    location: location.to_string(),
                    reason: Some(Reason::AmountNotWhole),
                    message: format!("amount_not_whole: {e}; it is never rounded"),
                });
            }
            Err(e) => return Err(err(location, e.to_string())),
        },
        Money::Float(_) => {
            return Err(err(
                location,
                "write money as an integer or a decimal string (\"12.50\"), never as a float",
            ));
        }
    };
    if amount > MAX_AMOUNT {
        return Err(out_of_range());
    }
    Ok(amount)
}

fn instant(location: &str, text: &str) -> Result<Timestamp, FileError> {
    crate::instant::parse(text).map_err(|e| err(location, e))
}

fn sku(location: &str, text: &str) -> Result<Sku, FileError> {
    sku_at(|| location.to_string(), text)
}

/// As `sku`, with the location written only when the license is refused.
fn sku_at(location: impl FnOnce() -> String, text: &str) -> Result<Sku, FileError> {
    Sku::parse(text).ok_or_else(|| err(location(), format!("{text:?} is not a license (MCOMEETADD, MCOMEETACPEA, MCOPSTNPP, MCOMEETADD_DIALOUT_US)")))
}

fn policy(location: &str, text: &str) -> Result<Policy, FileError> {
    policy_at(|| location.to_string(), text)
}

/// As `policy`, with the location written only when the policy is refused.
fn policy_at(location: impl FnOnce() -> String, text: &str) -> Result<Policy, FileError> {
    Policy::parse(text).map_err(|reason| FileError {
        location: location(),
        reason: Some(reason),
        message: format!("{reason}: {text:?} is not a dial-out policy name"),
    })
}

fn country(location: &str, text: &str) -> Result<Country, FileError> {
    country_at(|| location.to_string(), text)
}

/// As `country`, with the location written only when the country is refused.
fn country_at(location: impl FnOnce() -> String, text: &str) -> Result<Country, FileError> {
    Country::parse(text).map_err(|e| err(location(), e.to_string()))
}

impl TenantFile {
    /// Reads and checks a tenant file's text.
    ///
    /// A file in the subset of TOML tenant files are written in is read by a reader of its
    /// own (`fast.rs`), which gives the value the `toml` crate gives; any other file, and any
    /// file that is refused, is read by the `toml` crate, so a refusal always comes from it.
    pub fn parse(text: &str) -> Result<TenantFile, FileError> {
        let raw = match fast::read(text) {
            Some(raw) => raw,
            None => read_toml(text)?,
        };
        Self::check(raw)
    }

    fn check(raw: TenantFileRaw) -> Result<TenantFile, FileError> {
        if raw.users.len() > MAX_ITEMS || raw.numbers.len() > MAX_ITEMS {
            return Err(err(
                "file",
                format!("at most {MAX_ITEMS} users and {MAX_ITEMS} numbers"),
            ));
        }
        let spec = TenantSpec {
            id: raw.id.clone(),
            name: raw.name.clone(),
            country: country("country", &raw.country)?,
            currency: Currency::parse(&raw.currency).map_err(|e| err("currency", e.to_string()))?,
            timezone: raw.timezone.clone(),
            agreement: Agreement::parse(&raw.agreement).ok_or_else(|| {
                err("agreement", format!("{:?} is not one of volume_licensing, online_subscription, post_usage, reseller", raw.agreement))
            })?,
        };
        // `Tenant::new` checks the id too; the id is checked first so that its refusal names it.
        if let Err(e) = minutely_core::ident::tenant_id("id", &raw.id) {
            return Err(err("id", e.to_string()));
        }
        Tenant::new(spec.clone()).map_err(|m| err("timezone", m))?;
        let default_policy = raw
            .default_dial_out_policy
            .as_deref()
            .map(|p| policy("default_dial_out_policy", p))
            .transpose()?;
        let mut purchases = Vec::new();
        for (name, count) in &raw.licenses {
            let location = format!("licenses.{name}");
            let sku = sku(&location, name)?;
            match count {
                LicenseCount::Count(n) => purchases.push((sku, SINCE_ALWAYS, *n)),
                LicenseCount::History(list) => {
                    for (i, c) in list.iter().enumerate() {
                        purchases.push((
                            sku,
                            instant(&format!("{location}[{i}].from"), &c.from)?,
                            c.count,
                        ));
                    }
                }
            }
        }
        let (wallet, fundings) = match &raw.wallet {
            Some(w) => {
                let (settings, fundings) = Self::check_wallet(w)?;
                (Some(settings), fundings)
            }
            None => (None, Vec::new()),
        };
        let mut numbers = Vec::new();
        for (i, n) in raw.numbers.iter().enumerate() {
            let location = format!("numbers[{i}]");
            let number = E164::parse(&n.number).ok_or_else(|| FileError {
                location: format!("{location}.number"),
                reason: Some(Reason::InvalidNumber),
                message: format!(
                    "invalid_number: {:?} is not an E.164 number (+ then digits)",
                    n.number
                ),
            })?;
            let kind = NumberKind::parse(&n.kind).ok_or_else(|| {
                err(
                    format!("{location}.kind"),
                    format!("{:?} is not toll or toll_free", n.kind),
                )
            })?;
            numbers.push((number, kind, n.shared, n.bridge_default));
        }
        let users = raw
            .users
            .into_iter()
            .enumerate()
            .map(|(i, u)| Self::check_user(i, u))
            .collect::<Result<Vec<_>, _>>()?;
        // C41: UPNs are unique in a tenant, case-insensitively.
        let upns = users.iter().map(|u| u.spec.upn.as_str());
        if let Some(i) = minutely_core::directory::first_repeated_upn(upns) {
            return Err(FileError {
                location: format!("users[{i}].upn"),
                reason: Some(Reason::UpnNotUnique),
                message: format!(
                    "upn_not_unique: {} is listed twice (UPNs compare case-insensitively)",
                    users[i].spec.upn
                ),
            });
        }
        Ok(TenantFile {
            spec,
            default_policy,
            purchases,
            wallet,
            fundings,
            numbers,
            users,
        })
    }

    fn check_wallet(w: &WalletFile) -> Result<(WalletSettings, Vec<DeclaredFunding>), FileError> {
        if w.low_balance_thresholds.len() > 2 {
            return Err(err(
                "wallet.low_balance_thresholds",
                "at most two thresholds",
            ));
        }
        let mut thresholds = [None, None];
        for (i, t) in w.low_balance_thresholds.iter().enumerate() {
            thresholds[i] = Some(money(&format!("wallet.low_balance_thresholds[{i}]"), t)?);
        }
        thresholds.sort_by(|a, b| b.cmp(a));
        let auto_recharge = match &w.auto_recharge {
            Some(r) => Some(AutoRecharge {
                enabled: r.enabled,
                trigger: money("wallet.auto_recharge.trigger", &r.trigger)?,
                amount: money("wallet.auto_recharge.amount", &r.amount)?,
                payment_accepted: r.payment_accepted,
            }),
            None => None,
        };
        let mut fundings = Vec::new();
        let mut references = BTreeSet::new();
        for (i, f) in w.fundings.iter().enumerate() {
            let location = format!("wallet.fundings[{i}]");
            if f.reference.trim().is_empty() || !references.insert(f.reference.clone()) {
                return Err(err(
                    format!("{location}.reference"),
                    "each funding needs its own non-empty reference",
                ));
            }
            fundings.push(DeclaredFunding {
                reference: f.reference.clone(),
                amount: money(&format!("{location}.amount"), &f.amount)?,
                at: instant(&format!("{location}.at"), &f.at)?,
            });
        }
        fundings.sort_by_key(|f| f.at);
        let settings = WalletSettings {
            auto_recharge,
            low_balance_thresholds: thresholds,
        };
        Ok((settings, fundings))
    }

    fn check_user(i: usize, u: UserFile) -> Result<UserDecl, FileError> {
        // The locations are written only for a refusal.
        let mut licenses = SkuSet::default();
        match &u.licenses {
            Licenses::Written(texts) => {
                for (j, l) in texts.iter().enumerate() {
                    licenses.insert(sku_at(|| format!("users[{i}].licenses[{j}]"), l)?);
                }
            }
            Licenses::Codes(codes) => codes.iter().for_each(|sku| licenses.insert(sku)),
        }
        Ok(UserDecl {
            spec: UserSpec {
                object_id: u.object_id,
                upn: u.upn,
                display_name: u.display_name,
                usage_location: u
                    .usage_location
                    .as_deref()
                    .map(|c| country_at(|| format!("users[{i}].usage_location"), c))
                    .transpose()?,
                policy: u
                    .dial_out_policy
                    .as_deref()
                    .map(|p| policy_at(|| format!("users[{i}].dial_out_policy"), p))
                    .transpose()?,
                toll_free_dial_in: u.toll_free_dial_in,
            },
            licenses,
        })
    }

    /// The tenant id the file declares.
    pub fn tenant_id(&self) -> &str {
        &self.spec.id
    }

    /// The declared fundings (reference, amount, instant), oldest first.
    pub fn fundings(&self) -> &[DeclaredFunding] {
        &self.fundings
    }
}

/// A tenant file's text read by the `toml` crate; a refusal names its line.
fn read_toml(text: &str) -> Result<TenantFileRaw, FileError> {
    toml::from_str(text).map_err(|e| {
        let location = e.span().map_or_else(
            || "file".to_string(),
            |s| format!("line {}", line_of(text, s.start)),
        );
        err(location, e.message().to_string())
    })
}

/// What the fast reader makes of `text`, beside the `toml` crate's reading: `Ok(false)` when
/// it declines, `Ok(true)` when it answers the very value the `toml` crate gives, and a
/// description of the difference otherwise. For the tests and the fuzz target.
pub fn fast_reader_agrees(text: &str) -> Result<bool, String> {
    let Some(fast) = fast::read(text) else {
        return Ok(false);
    };
    match read_toml(text) {
        Ok(slow) if slow == fast => Ok(true),
        Ok(slow) => Err(format!("fast reader: {fast:?}\ntoml: {slow:?}")),
        Err(e) => Err(format!("fast reader: {fast:?}\ntoml refused: {e}")),
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    // Counted on bytes, so an offset inside a multi-byte character cannot split it.
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// What applying a file did.
#[derive(Debug, Clone)]
pub struct Applied {
    pub book: TenantBook,
    /// One sentence per change, in the order made; empty when nothing changed.
    pub changes: Vec<String>,
    /// Journal entries and events of the fundings made at once.
    pub effects: Effects,
    /// References of the fundings declared now.
    pub funding_refs: Vec<String>,
}

/// The change sentences of one apply, or none at all when nobody will read them.
struct Changes {
    list: Vec<String>,
    record: bool,
}

impl Changes {
    /// Records the sentence `say` builds, building it only when sentences are kept.
    fn push(&mut self, say: impl FnOnce() -> String) {
        if self.record {
            self.list.push(say());
        }
    }
}

/// Applies `file` to `existing` (or creates the tenant). `applied_refs` are the references of
/// fundings already declared. Declared fundings are scheduled: made when the ledger reaches their
/// instants. A refusal changes nothing and names where in the file it comes from.
pub fn apply(
    file: &TenantFile,
    existing: Option<&TenantBook>,
    countries: &CountryTable,
    rules: &AmountRules,
    applied_refs: &BTreeSet<String>,
) -> Result<Applied, FileError> {
    apply_with(file, existing, countries, rules, applied_refs, true)
}

/// As [`apply`], but without the change sentences (`changes` stays empty): the same book,
/// effects, references and refusals, for callers that only use the tenant, such as an offline
/// run loading its tenant files.
pub fn apply_silently(
    file: &TenantFile,
    existing: Option<&TenantBook>,
    countries: &CountryTable,
    rules: &AmountRules,
    applied_refs: &BTreeSet<String>,
) -> Result<Applied, FileError> {
    apply_with(file, existing, countries, rules, applied_refs, false)
}

fn apply_with(
    file: &TenantFile,
    existing: Option<&TenantBook>,
    countries: &CountryTable,
    rules: &AmountRules,
    applied_refs: &BTreeSet<String>,
    record: bool,
) -> Result<Applied, FileError> {
    let mut changes = Changes {
        list: Vec::new(),
        record,
    };
    let mut book = match existing {
        Some(book) => {
            let mut book = book.clone();
            update_tenant(&mut book.tenant, &file.spec, &mut changes)?;
            book
        }
        None => {
            changes.push(|| format!("created tenant {}", file.spec.id));
            let mut tenant = Tenant::new(file.spec.clone()).map_err(|m| err("timezone", m))?;
            tenant.reserve_users(file.users.len());
            TenantBook::new(tenant)
        }
    };
    let tenant = &mut book.tenant;
    if let Some(p) = file.default_policy
        && tenant.set_default_policy(p)
    {
        changes.push(|| format!("set the default dial-out policy to {}", p.name));
    }
    apply_users(file, tenant, existing.is_none(), &mut changes)?;
    for (sku, from, count) in &file.purchases {
        if tenant
            .set_purchased(*sku, *count, *from, countries)
            .map_err(|r| refused(format!("licenses.{}", sku.code()), r))?
        {
            changes.push(|| {
                let since = if *from == SINCE_ALWAYS {
                    String::new()
                } else {
                    format!(" from {}", crate::instant::format(*from))
                };
                format!("set purchased {} to {count}{since}", sku.code())
            });
        }
    }
    if let Some(settings) = file.wallet
        && tenant
            .setup_wallet(settings, countries, rules)
            .map_err(|r| refused("wallet", r))?
    {
        changes.push(|| "set up the wallet settings".to_string());
    }
    for (i, (number, kind, shared, default)) in file.numbers.iter().enumerate() {
        if tenant
            .add_number(*number, *kind, *shared, *default, countries)
            .map_err(|r| refused(format!("numbers[{i}]"), r))?
        {
            changes.push(|| format!("saved {} number {number}", kind.as_str()));
        }
    }
    apply_assignments(file, tenant, countries, &mut changes)?;
    let (effects, funding_refs) =
        schedule_fundings(file, &mut book, rules, applied_refs, &mut changes)?;
    Ok(Applied {
        book,
        changes: changes.list,
        effects,
        funding_refs,
    })
}

/// Saves every declared user and takes back the licenses the file no longer gives them. In a
/// tenant created by this file (`fresh`) every user is new and holds no license yet: the UPNs
/// of a file are unique (C41).
fn apply_users(
    file: &TenantFile,
    tenant: &mut Tenant,
    fresh: bool,
    changes: &mut Changes,
) -> Result<(), FileError> {
    for (i, decl) in file.users.iter().enumerate() {
        let location = || format!("users[{i}]");
        if tenant
            .upsert_user_from(&decl.spec)
            .map_err(|r| refused(location(), r))?
        {
            changes.push(|| ["saved user ", decl.spec.upn.trim()].concat());
        }
        if fresh {
            continue;
        }
        let held: Vec<Sku> = tenant
            .user(&decl.spec.upn)
            .map(|u| u.licenses.iter().copied().collect())
            .unwrap_or_default();
        for sku in held.into_iter().filter(|s| !decl.licenses.contains(*s)) {
            if tenant
                .unassign(&decl.spec.upn, sku)
                .map_err(|r| refused(location(), r))?
            {
                changes
                    .push(|| ["unassigned ", sku.code(), " from ", decl.spec.upn.trim()].concat());
            }
        }
    }
    Ok(())
}

/// Gives every declared user the licenses the file lists for them.
fn apply_assignments(
    file: &TenantFile,
    tenant: &mut Tenant,
    countries: &CountryTable,
    changes: &mut Changes,
) -> Result<(), FileError> {
    for (i, decl) in file.users.iter().enumerate() {
        for (j, sku) in decl.licenses.iter().enumerate() {
            if tenant
                .assign(&decl.spec.upn, sku, countries)
                .map_err(|r| refused(format!("users[{i}].licenses[{j}]"), r))?
            {
                changes.push(|| ["assigned ", sku.code(), " to ", decl.spec.upn.trim()].concat());
            }
        }
    }
    Ok(())
}

/// Declared fundings are history: each is made when the ledger reaches its instant, in time
/// order with the calls (at once when the ledger is already past it).
fn schedule_fundings(
    file: &TenantFile,
    book: &mut TenantBook,
    rules: &AmountRules,
    applied_refs: &BTreeSet<String>,
    changes: &mut Changes,
) -> Result<(Effects, Vec<String>), FileError> {
    let mut effects = Effects::default();
    let mut funding_refs = Vec::new();
    for (i, f) in file.fundings.iter().enumerate() {
        if applied_refs.contains(&f.reference) {
            continue;
        }
        let e = book
            .schedule_funding(f.amount, f.at, &f.reference, true, rules)
            .map_err(|r| refused(format!("wallet.fundings[{i}]"), r))?;
        effects.entries.extend(e.entries);
        effects.events.extend(e.events);
        funding_refs.push(f.reference.clone());
        let currency = book.tenant.currency;
        changes.push(|| {
            format!(
                "declared funding {} {} ({}) dated {}",
                currency.format(f.amount),
                currency,
                f.reference,
                crate::instant::format(f.at)
            )
        });
    }
    Ok((effects, funding_refs))
}

fn update_tenant(
    tenant: &mut Tenant,
    spec: &TenantSpec,
    changes: &mut Changes,
) -> Result<(), FileError> {
    if tenant.country != spec.country || tenant.currency != spec.currency {
        return Err(err(
            "country",
            format!(
                "tenant {} exists with country {} and currency {}; these cannot be changed",
                tenant.id, tenant.country, tenant.currency
            ),
        ));
    }
    if tenant.name != spec.name {
        tenant.name = spec.name.clone();
        changes.push(|| format!("renamed the tenant to {}", spec.name));
    }
    if tenant.agreement != spec.agreement {
        tenant.agreement = spec.agreement;
        changes.push(|| format!("set the agreement to {}", spec.agreement.as_str()));
    }
    if tenant.timezone_name != spec.timezone {
        let fresh = Tenant::new(spec.clone()).map_err(|m| err("timezone", m))?;
        tenant.timezone = fresh.timezone;
        tenant.timezone_name = spec.timezone.clone();
        changes.push(|| format!("set the time zone to {}", spec.timezone));
    }
    Ok(())
}

/// A complete example, also used by the README and the tests.
pub const EXAMPLE: &str = include_str!("../../../examples/tenant.toml");

#[cfg(test)]
mod tests {
    use super::*;

    fn apply_text(text: &str, existing: Option<&TenantBook>) -> Result<Applied, FileError> {
        let file = TenantFile::parse(text)?;
        let countries = crate::countries::shipped();
        apply(
            &file,
            existing,
            &countries,
            &AmountRules::default(),
            &BTreeSet::new(),
        )
    }

    #[test]
    fn the_example_applies_and_a_second_apply_changes_nothing() {
        let first = apply_text(EXAMPLE, None).unwrap();
        assert!(
            first
                .changes
                .iter()
                .any(|c| c == "set purchased MCOPSTNPP to 3")
        );
        assert_eq!(
            first.book.scheduled.len(),
            2,
            "both declared fundings wait for the ledger"
        );
        let refs: BTreeSet<String> = first.funding_refs.iter().cloned().collect();
        let file = TenantFile::parse(EXAMPLE).unwrap();
        let countries = crate::countries::shipped();
        let second = apply(
            &file,
            Some(&first.book),
            &countries,
            &AmountRules::default(),
            &refs,
        )
        .unwrap();
        assert!(second.changes.is_empty(), "{:?}", second.changes);
    }

    #[test]
    fn a_bad_id_is_named_as_the_id() {
        let too_long = format!("id = \"{}\"", "x".repeat(MAX_ID_BYTES + 1));
        for id in ["id = \"\"", "id = \"   \"", too_long.as_str()] {
            let text = EXAMPLE.replace("id = \"contoso\"", id);
            let error = TenantFile::parse(&text).expect_err(id);
            assert_eq!(error.location, "id", "{error}");
        }
        let longest = format!("id = \"{}\"", "x".repeat(MAX_ID_BYTES));
        TenantFile::parse(&EXAMPLE.replace("id = \"contoso\"", &longest)).unwrap();
    }

    #[test]
    fn errors_name_the_place_in_the_file() {
        let cases = [
            (
                EXAMPLE.replace("country = \"FR\"", "country = \"France\""),
                "country",
                None,
            ),
            (
                EXAMPLE.replace("trigger = 50", "trigger = 50.0"),
                "wallet.auto_recharge.trigger",
                None,
            ),
            (
                EXAMPLE.replace(
                    "\"MCOMEETADD\", \"MCOPSTNPP\", \"MCOMEETADD_DIALOUT_US\"",
                    "\"MCOMEETADD\", \"GOLD\"",
                ),
                "users[0].licenses[1]",
                None,
            ),
            (
                EXAMPLE.replace("DialoutCPCZoneAPSTNDomestic", "Everywhere"),
                "users[0].dial_out_policy",
                Some(Reason::InvalidPolicy),
            ),
            (
                EXAMPLE.replace("MCOPSTNPP = 3", "MCOPSTNPP = 1"),
                "users[1].licenses[1]",
                Some(Reason::LicenseLimitExceeded),
            ),
            (
                EXAMPLE.replace("trigger = 50", "trigger = 20"),
                "wallet",
                Some(Reason::AmountBelowMinimum),
            ),
            (
                EXAMPLE.replace("+33 805 98 00 00", "+33 805"),
                "numbers[1]",
                Some(Reason::InvalidNumber),
            ),
            (
                EXAMPLE.replace("timezone = \"Europe/Paris\"", "timezone = \"Mars/Olympus\""),
                "timezone",
                None,
            ),
            (
                EXAMPLE.replace(
                    "upn = \"emma.petit@contoso.example\"",
                    "upn = \"Ana.Silva@contoso.example\"",
                ),
                "users[4].upn",
                Some(Reason::UpnNotUnique),
            ),
        ];
        for (text, location, reason) in cases {
            let error = apply_text(&text, None).expect_err(location);
            assert_eq!(
                (error.location.as_str(), error.reason),
                (location, reason),
                "{error}"
            );
        }
    }

    #[test]
    fn applying_silently_gives_the_same_tenant_without_sentences() {
        let file = TenantFile::parse(EXAMPLE).unwrap();
        let countries = crate::countries::shipped();
        let (rules, refs) = (AmountRules::default(), BTreeSet::new());
        let told = apply(&file, None, &countries, &rules, &refs).unwrap();
        let silent = apply_silently(&file, None, &countries, &rules, &refs).unwrap();
        assert!(!told.changes.is_empty());
        assert!(silent.changes.is_empty());
        assert_eq!(told.funding_refs, silent.funding_refs);
        assert_eq!(told.book.scheduled.len(), silent.book.scheduled.len());
        for user in &file.users {
            let upn = &user.spec.upn;
            assert!(told.book.tenant.user(upn).is_some(), "{upn}");
            assert_eq!(told.book.tenant.user(upn), silent.book.tenant.user(upn));
        }
        // A refusal names the same place either way.
        let bad = TenantFile::parse(&EXAMPLE.replace("MCOPSTNPP = 3", "MCOPSTNPP = 1")).unwrap();
        let told = apply(&bad, None, &countries, &rules, &refs).unwrap_err();
        let silent = apply_silently(&bad, None, &countries, &rules, &refs).unwrap_err();
        assert_eq!(told, silent);
    }

    /// Every tenant file of the repository: the example, the benchmark's, and the fuzz
    /// corpus's (valid or not).
    fn repository_files() -> Vec<(String, String)> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut paths = vec![
            root.join("examples/tenant.toml"),
            root.join("bench/tenant.toml"),
        ];
        let corpus = root.join("fuzz/corpus/tenant_file");
        let mut entries: Vec<_> = std::fs::read_dir(&corpus)
            .expect("the tenant file corpus")
            .map(|e| e.expect("an entry").path())
            .collect();
        entries.sort();
        paths.extend(entries);
        paths
            .into_iter()
            .map(|p| {
                let bytes = std::fs::read(&p).expect("a tenant file");
                let text = String::from_utf8_lossy(&bytes).into_owned();
                (p.display().to_string(), text)
            })
            .collect()
    }

    #[test]
    fn the_fast_reader_reads_the_repository_files_as_toml_does() {
        let mut answered = 0;
        for (path, text) in repository_files() {
            let agrees = fast_reader_agrees(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
            if agrees {
                answered += 1;
            }
            // Either way, parsing gives what the toml crate's reading gives.
            let slow = read_toml(&text).and_then(TenantFile::check);
            let fast = TenantFile::parse(&text);
            assert_eq!(
                format!("{:?}", fast.map(|f| (f.spec.id, f.users.len()))),
                format!("{:?}", slow.map(|f| (f.spec.id, f.users.len()))),
                "{path}"
            );
        }
        assert!(answered >= 8, "the fast reader answered {answered} files");
        assert_eq!(fast_reader_agrees(EXAMPLE), Ok(true));
    }

    /// Edits of the example (what, into what) the fast reader answers.
    const ANSWERED: [(&str, &str); 22] = [
        // Licenses read as codes, or as texts when not written as `Sku::code` writes them.
        (
            r#"licenses = ["MCOMEETADD", "MCOPSTNPP"]"#,
            "licenses = [\n \"MCOPSTNPP\", # credits\n \"MCOMEETADD\",\n]",
        ),
        (
            r#"licenses = ["MCOMEETADD", "MCOPSTNPP"]"#,
            r#"licenses = ["MCOMEETADD","MCOMEETADD"]"#,
        ),
        (
            r#"licenses = ["MCOMEETADD", "MCOPSTNPP"]"#,
            r#"licenses = ["mcomeetadd", " MCOPSTNPP"]"#,
        ),
        (
            r#"licenses = ["MCOMEETADD", "MCOPSTNPP"]"#,
            r#"licenses = ['MCOMEETADD', "MCO\u0050STNPP"]"#,
        ),
        (
            r#"licenses = ["MCOMEETADD", "MCOPSTNPP"]"#,
            r#"licenses = ["MCOMEETADD", "GOLD"]"#,
        ),
        (r#"["MCOMEETADD", "MCOPSTNPP"]"#, "[]"),
        (r#"licenses = ["MCOMEETACPEA"]"#, "licenses = [\"\"]"),
        (r#"id = "contoso""#, r#"id = 'contoso'"#),
        (r#"id = "contoso""#, r#"id="con\u0074oso"   # escaped"#),
        (r#"id = "contoso""#, "\tid\t=\t\"contoso\"\t"),
        (
            r#"name = "Contoso SA""#,
            r#"name = "Q\"\\\t\n\b\f\r\e\x41\U0001F600""#,
        ),
        (r#"name = "Contoso SA""#, "name = ''"),
        (r#"name = "Contoso SA""#, r#"name = """#),
        ("MCOMEETACPEA = 2", "MCOMEETACPEA = +1_2"),
        ("MCOMEETACPEA = 2", "MCOMEETACPEA = 1_000"),
        ("MCOMEETACPEA = 2", "MCOMEETACPEA = []"),
        ("[licenses]", "[ licenses ]"),
        ("[[users]]", " [[ users ]] # a user"),
        ("trigger = 50", r#"trigger = "50.00""#),
        (
            "low_balance_thresholds = [100, 25]",
            "low_balance_thresholds = [\n 100, # high\n \"25\",\n]",
        ),
        ("{ count = 2, from", "{count=2,from"),
        ("\n", "\r\n"),
    ];

    /// Edits of the example the fast reader leaves to the toml crate.
    const DECLINED: [(&str, &str); 37] = [
        (
            r#"licenses = ["MCOMEETADD", "MCOPSTNPP"]"#,
            r#"licenses = "MCOMEETADD""#,
        ),
        (
            r#"licenses = ["MCOMEETADD", "MCOPSTNPP"]"#,
            r#"licenses = ["MCOMEETADD", 1]"#,
        ),
        (
            r#"licenses = ["MCOMEETADD", "MCOPSTNPP"]"#,
            r#"licenses = ["MCOMEETADD" "MCOPSTNPP"]"#,
        ),
        (
            r#"licenses = ["MCOMEETACPEA"]"#,
            "licenses = [\"MCOMEETACPEA\"]\nlicenses = []",
        ),
        (r#"id = "contoso""#, r#"id = """contoso""""#),
        (r#"id = "contoso""#, "id = '''contoso'''"),
        (r#"id = "contoso""#, r#""id" = "contoso""#),
        (r#"id = "contoso""#, "id = \"contoso\"\nid = \"contoso\""),
        (r#"id = "contoso""#, r#"id = "con\qtoso""#),
        (r#"id = "contoso""#, r#"id = "con\uD800""#),
        (r#"id = "contoso""#, "id = \"con\u{7f}\""),
        (r#"id = "contoso""#, r#"id = "contoso" name = "x""#),
        ("MCOMEETACPEA = 2", "MCOMEETACPEA = 02"),
        ("MCOMEETACPEA = 2", "MCOMEETACPEA = 2_"),
        ("MCOMEETACPEA = 2", "MCOMEETACPEA = 0x2"),
        ("MCOMEETACPEA = 2", "MCOMEETACPEA = 2.0"),
        ("MCOMEETACPEA = 2", "MCOMEETACPEA = -2"),
        ("MCOMEETACPEA = 2", "MCOMEETACPEA = 4294967296"),
        ("MCOMEETACPEA = 2", "MCOMEETACPEA = 99999999999999999999"),
        ("MCOMEETACPEA = 2", "MCOMEETACPEA = 1979-05-27"),
        ("MCOMEETACPEA = 2", "MCOMEETACPEA.x = 2"),
        ("MCOPSTNPP = 3", "MCOPSTNPP = 3\nMCOPSTNPP = 3"),
        ("[licenses]", "[licenses]\n[licenses]"),
        (
            "[wallet]\n",
            "[wallet]\nauto_recharge = { trigger = 50, amount = 100 }\n",
        ),
        ("[wallet]\n", "[wallet.auto_recharge]\n[wallet]\n"),
        ("[[users]]", "[[ users ] ]"),
        ("[[users]]", "[[users.x]]"),
        ("{ count = 2, from", "{ count = 2,\n from"),
        ("\" },\n]", "\", },\n]"),
        ("toll_free_dial_in = false", "toll_free_dial_in = False"),
        (
            "toll_free_dial_in = false",
            r#"toll_free_dial_in = "false""#,
        ),
        ("toll_free_dial_in = false", r#"colour = "blue""#),
        ("trigger = 50", "trigger = 50.5"),
        ("trigger = 50", "trigger = inf"),
        ("\n", "\r"),
        ("# A tenant", "\u{feff}# A tenant"),
        ("# A tenant", "#\u{1} A tenant"),
    ];

    /// TOML written in ways the generator never writes: what the fast reader answers is what
    /// the toml crate gives, and what it does not know it leaves to the toml crate.
    #[test]
    fn the_fast_reader_answers_only_what_toml_answers_the_same() {
        for (cases, expected) in [(&ANSWERED[..], true), (&DECLINED[..], false)] {
            for (from, to) in cases {
                assert!(EXAMPLE.contains(from), "{from:?}");
                let text = EXAMPLE.replacen(from, to, 1);
                assert_eq!(fast_reader_agrees(&text), Ok(expected), "{to:?}");
            }
        }
    }

    /// Every edit of one character of a small file: the fast reader never answers other than
    /// the toml crate does.
    #[test]
    fn the_fast_reader_never_disagrees_on_an_edited_file() {
        let text = r#"id = "t" # c
name = 'N'
country = "FR"
currency = "EUR"
agreement = "reseller"
[licenses]
MCOMEETADD = [{ count = 1_0, from = "x" }]
[wallet]
low_balance_thresholds = [1, "2"]
[wallet.auto_recharge]
trigger = -5
amount = 0
[[users]]
upn = "a\u0040b"
display_name = "A"
licenses = ["MCOMEETADD",]
toll_free_dial_in = true
"#;
        assert_eq!(fast_reader_agrees(text), Ok(true));
        let mut answered = 0;
        for at in (0..text.len()).filter(|i| text.is_char_boundary(*i)) {
            let (head, tail) = text.split_at(at);
            let rest = tail.get(1..).unwrap_or("");
            let mut edits = vec![format!("{head}{rest}")];
            for c in [
                "\"", "'", "=", "[", "]", "{", ",", ".", "_", "#", "\n", " ", "0", "\\",
            ] {
                edits.push(format!("{head}{c}{rest}"));
                edits.push(format!("{head}{c}{tail}"));
            }
            for edit in edits {
                match fast_reader_agrees(&edit) {
                    Ok(true) => answered += 1,
                    Ok(false) => {}
                    Err(e) => panic!("{edit:?}: {e}"),
                }
            }
        }
        assert!(answered > 100, "only {answered} edits were answered");
    }
}
