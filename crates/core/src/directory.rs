//! Tenants, users, licenses, service numbers and dial-out policies, with the eligibility rules
//! of section 1 and 2 (C1 to C4, C11, C40 to C42). Every change is checked before it is made:
//! a refused change leaves the tenant as it was.

use crate::catalogue::{Conferencing, CountryTable};
use crate::money::{Currency, MAX_AMOUNT, MAX_LICENSE_COUNT};
use crate::numbers::{Country, E164, NumberPlan, PlanAnswer};
use crate::reason::Reason;
use hashbrown::HashTable;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::BuildHasher;
use std::sync::{Arc, OnceLock};

/// The tenant's commercial agreement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Agreement {
    VolumeLicensing,
    OnlineSubscription,
    PostUsage,
    Reseller,
}

impl Agreement {
    pub const ALL: [Agreement; 4] = [
        Agreement::VolumeLicensing,
        Agreement::OnlineSubscription,
        Agreement::PostUsage,
        Agreement::Reseller,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Agreement::VolumeLicensing => "volume_licensing",
            Agreement::OnlineSubscription => "online_subscription",
            Agreement::PostUsage => "post_usage",
            Agreement::Reseller => "reseller",
        }
    }

    pub fn parse(text: &str) -> Option<Agreement> {
        Agreement::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

/// License product codes, as written in usage exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Sku {
    /// `MCOMEETADD`: the per-user subscription.
    Subscription,
    /// `MCOMEETACPEA`: pay-per-minute.
    PayPerMinute,
    /// `MCOPSTNPP`: Communications Credits for non-pay-per-minute usage.
    Credits,
    /// `MCOMEETADD_DIALOUT_US`: unlimited dial-out to the US and Canada.
    DialOutUs,
}

impl Sku {
    pub const ALL: [Sku; 4] = [
        Sku::Subscription,
        Sku::PayPerMinute,
        Sku::Credits,
        Sku::DialOutUs,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Sku::Subscription => "MCOMEETADD",
            Sku::PayPerMinute => "MCOMEETACPEA",
            Sku::Credits => "MCOPSTNPP",
            Sku::DialOutUs => "MCOMEETADD_DIALOUT_US",
        }
    }

    pub fn parse(text: &str) -> Option<Sku> {
        Sku::ALL
            .into_iter()
            .find(|s| s.code().eq_ignore_ascii_case(text.trim()))
    }

    /// The position in `Sku::ALL`.
    fn index(self) -> usize {
        match self {
            Sku::Subscription => 0,
            Sku::PayPerMinute => 1,
            Sku::Credits => 2,
            Sku::DialOutUs => 3,
        }
    }

    /// The two audio-conferencing licenses a user holds at most one of.
    fn is_conferencing(self) -> bool {
        matches!(self, Sku::Subscription | Sku::PayPerMinute)
    }
}

/// The conferencing half of a dial-out policy (C16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DialOutScope {
    Any,
    Domestic,
    ZoneA,
    Disabled,
}

impl DialOutScope {
    pub fn as_str(self) -> &'static str {
        match self {
            DialOutScope::Any => "any",
            DialOutScope::Domestic => "domestic",
            DialOutScope::ZoneA => "zone_a",
            DialOutScope::Disabled => "disabled",
        }
    }
}

/// C16: the fixed policy instances, with the scope of their conferencing half.
pub const POLICY_NAMES: [(&str, DialOutScope); 13] = [
    ("Global", DialOutScope::Any),
    ("DialoutCPCandPSTNInternational", DialOutScope::Any),
    ("DialoutCPCInternationalPSTNDomestic", DialOutScope::Any),
    ("DialoutCPCInternationalPSTNDisabled", DialOutScope::Any),
    (
        "DialoutCPCDomesticPSTNInternational",
        DialOutScope::Domestic,
    ),
    ("DialoutCPCandPSTNDomestic", DialOutScope::Domestic),
    ("DialoutCPCDomesticPSTNDisabled", DialOutScope::Domestic),
    ("DialoutCPCZoneAPSTNInternational", DialOutScope::ZoneA),
    ("DialoutCPCZoneAPSTNDomestic", DialOutScope::ZoneA),
    ("DialoutCPCZoneAPSTNDisabled", DialOutScope::ZoneA),
    (
        "DialoutCPCDisabledPSTNInternational",
        DialOutScope::Disabled,
    ),
    ("DialoutCPCDisabledPSTNDomestic", DialOutScope::Disabled),
    ("DialoutCPCandPSTNDisabled", DialOutScope::Disabled),
];

/// A named dial-out policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Policy {
    /// The canonical name (one of `POLICY_NAMES`, or a bare scope name).
    pub name: &'static str,
    pub scope: DialOutScope,
}

impl Policy {
    /// The default policy, `Global` (any destination).
    pub const GLOBAL: Policy = Policy {
        name: "Global",
        scope: DialOutScope::Any,
    };

    /// C41: names are case-insensitive and may carry a `tag:` prefix. The bare scope names
    /// (`any`, `domestic`, `zone_a`, `disabled`) are accepted too.
    pub fn parse(text: &str) -> Result<Policy, Reason> {
        let trimmed = text.trim();
        let name = match trimmed.get(..4) {
            Some(prefix) if prefix.eq_ignore_ascii_case("tag:") => &trimmed[4..],
            _ => trimmed,
        };
        let fixed = POLICY_NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(n, scope)| Policy {
                name: n,
                scope: *scope,
            });
        let bare = [
            DialOutScope::Any,
            DialOutScope::Domestic,
            DialOutScope::ZoneA,
            DialOutScope::Disabled,
        ]
        .into_iter()
        .find(|s| s.as_str().eq_ignore_ascii_case(name))
        .map(|scope| Policy {
            name: scope.as_str(),
            scope,
        });
        fixed.or(bare).ok_or(Reason::InvalidPolicy)
    }
}

/// A user principal name, compared case-insensitively (kept as given for display).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upn {
    /// As written when the user was created.
    pub display: String,
    /// Lower case: the identity.
    pub key: String,
}

impl Upn {
    pub fn new(text: &str) -> Upn {
        let display = text.trim().to_string();
        Upn {
            key: Upn::key_of(&display).into_owned(),
            display,
        }
    }

    /// The key `Upn::new(text)` has, borrowed from `text` when it is already one (ASCII
    /// without upper case, nothing to trim), else made.
    pub fn key_of(text: &str) -> std::borrow::Cow<'_, str> {
        let trimmed = text.trim();
        // Every byte looked at (no early exit), so that the loop runs over whole words.
        let changing = trimmed.bytes().fold(0u8, |seen, b| {
            seen | (b & 0x80) | u8::from(b.is_ascii_uppercase())
        });
        if changing == 0 {
            std::borrow::Cow::Borrowed(trimmed)
        } else {
            std::borrow::Cow::Owned(trimmed.to_lowercase())
        }
    }
}

/// C41: the position of the first UPN that repeats an earlier one, compared as `Upn::new`
/// keys them (case-insensitively), if any.
pub fn first_repeated_upn<'a>(upns: impl ExactSizeIterator<Item = &'a str>) -> Option<usize> {
    let hasher = KeyHashState::default();
    let mut seen: HashTable<std::borrow::Cow<'a, str>> = HashTable::with_capacity(upns.len());
    for (i, upn) in upns.enumerate() {
        let key = Upn::key_of(upn);
        let hash = hasher.hash_one(key.as_ref());
        match seen.entry(hash, |k| *k == key, |k| hasher.hash_one(k.as_ref())) {
            hashbrown::hash_table::Entry::Occupied(_) => return Some(i),
            hashbrown::hash_table::Entry::Vacant(entry) => {
                entry.insert(key);
            }
        }
    }
    None
}

/// A tenant's user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The stable object id (the "AAD ObjectId" column of the usage export).
    pub object_id: String,
    pub upn: Upn,
    pub display_name: String,
    /// Defaults to the tenant country.
    pub usage_location: Country,
    pub licenses: BTreeSet<Sku>,
    /// `None` follows the tenant default.
    pub policy: Option<Policy>,
    pub toll_free_dial_in: bool,
}

/// Toll or toll-free.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NumberKind {
    Toll,
    TollFree,
}

impl NumberKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NumberKind::Toll => "toll",
            NumberKind::TollFree => "toll_free",
        }
    }

    pub fn parse(text: &str) -> Option<NumberKind> {
        match text {
            "toll" => Some(NumberKind::Toll),
            "toll_free" => Some(NumberKind::TollFree),
            _ => None,
        }
    }
}

/// One of the tenant's conference-bridge numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceNumber {
    pub number: E164,
    pub kind: NumberKind,
    /// Shared with other tenants (true) or dedicated.
    pub shared: bool,
    /// From the numbering plan.
    pub country: Country,
    /// The bridge default (one toll number).
    pub bridge_default: bool,
}

/// Auto-recharge settings (C12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoRecharge {
    pub enabled: bool,
    /// Recharge after a debit leaves the balance strictly below this.
    pub trigger: Decimal,
    /// The amount of each recharge.
    pub amount: Decimal,
    /// Whether the payment method on file is accepted. Payments are made outside the core;
    /// offline runs and tests use this to say how they go (C12: a failed payment is recorded,
    /// notified and retried no sooner than an hour later).
    pub payment_accepted: bool,
}

/// The wallet's settings; its presence means the wallet is set up (C3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalletSettings {
    pub auto_recharge: Option<AutoRecharge>,
    /// Low-balance notification thresholds (C15), highest first.
    pub low_balance_thresholds: [Option<Decimal>; 2],
}

/// The most currencies that may have their own minimum amount.
pub const MAX_CURRENCY_MINIMUMS: usize = 200;

/// Operator settings that bound amounts (C11): a default minimum, and a minimum of its own for
/// any currency whose units are worth much less or much more (5000 JPY rather than 50).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmountRules {
    /// Smallest funding, recharge amount and trigger in a currency without its own (default 50).
    pub minimum: Decimal,
    /// The currencies with a minimum of their own (at most `MAX_CURRENCY_MINIMUMS`).
    pub by_currency: BTreeMap<Currency, Decimal>,
}

impl Default for AmountRules {
    fn default() -> Self {
        AmountRules {
            minimum: Decimal::from(50),
            by_currency: BTreeMap::new(),
        }
    }
}

impl AmountRules {
    /// Rules with this default minimum and no currency of its own; the minimum must be a
    /// positive whole number of currency units of at most `MAX_AMOUNT`.
    pub fn new(minimum: Decimal) -> Result<AmountRules, String> {
        check_minimum(minimum)?;
        Ok(AmountRules {
            minimum,
            by_currency: BTreeMap::new(),
        })
    }

    /// Gives `currency` a minimum of its own (`Some`), or makes it follow the default (`None`).
    pub fn set_currency(
        &mut self,
        currency: Currency,
        minimum: Option<Decimal>,
    ) -> Result<(), String> {
        let Some(minimum) = minimum else {
            self.by_currency.remove(&currency);
            return Ok(());
        };
        check_minimum(minimum)?;
        if !self.by_currency.contains_key(&currency)
            && self.by_currency.len() >= MAX_CURRENCY_MINIMUMS
        {
            return Err(format!(
                "at most {MAX_CURRENCY_MINIMUMS} currencies may have a minimum amount of their own"
            ));
        }
        self.by_currency.insert(currency, minimum);
        Ok(())
    }

    /// The minimum of amounts in `currency`: its own, else the default.
    pub fn minimum_for(&self, currency: Currency) -> Decimal {
        self.by_currency
            .get(&currency)
            .copied()
            .unwrap_or(self.minimum)
    }

    /// C11/C40: `amount_below_minimum` (the minimum of the amount's currency) is checked before
    /// `amount_out_of_range` (above `MAX_AMOUNT`), then `amount_not_whole`.
    pub fn check(&self, currency: Currency, amount: Decimal) -> Result<(), Reason> {
        if amount < self.minimum_for(currency) {
            return Err(Reason::AmountBelowMinimum);
        }
        if amount > MAX_AMOUNT {
            return Err(Reason::AmountOutOfRange);
        }
        if !amount.fract().is_zero() {
            return Err(Reason::AmountNotWhole);
        }
        Ok(())
    }
}

/// A minimum amount is a positive whole number of currency units of at most `MAX_AMOUNT`.
fn check_minimum(minimum: Decimal) -> Result<(), String> {
    if minimum <= Decimal::ZERO || !minimum.fract().is_zero() || minimum > MAX_AMOUNT {
        return Err(format!(
            "the minimum amount must be a positive whole number of at most {MAX_AMOUNT}, not {minimum}"
        ));
    }
    Ok(())
}

/// Purchased license counts over time (the pool uses the count in force at a call's start, C32).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Purchases {
    /// (from, sku) -> count; a count holds until the next change of the same sku.
    changes: BTreeMap<(Sku, Timestamp), u32>,
}

impl Purchases {
    /// The count of `sku` in force at `at`.
    pub fn count_at(&self, sku: Sku, at: Timestamp) -> u32 {
        self.changes
            .range((sku, Timestamp::MIN)..=(sku, at))
            .next_back()
            .map_or(0, |(_, n)| *n)
    }

    /// The latest count of `sku` (what assignment is checked against).
    pub fn current(&self, sku: Sku) -> u32 {
        self.count_at(sku, Timestamp::MAX)
    }

    /// Every change, by sku then instant.
    pub fn changes(&self) -> impl Iterator<Item = (Sku, Timestamp, u32)> + '_ {
        self.changes.iter().map(|((s, t), n)| (*s, *t, *n))
    }
}

/// The hash of the UPN index: a folded multiply over 8-byte words, keyed with a random seed per
/// process. It is several times cheaper than SipHash on a UPN (this lookup is made for every
/// call record), and without the seed the keys' buckets cannot be predicted.
#[derive(Debug, Clone, Copy)]
struct KeyHashState(u64);

impl Default for KeyHashState {
    fn default() -> Self {
        static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        KeyHashState(*SEED.get_or_init(|| {
            use std::hash::BuildHasher;
            std::collections::hash_map::RandomState::new().hash_one(0x5EED_u64)
        }))
    }
}

impl std::hash::BuildHasher for KeyHashState {
    type Hasher = KeyHasher;

    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(self.0)
    }
}

struct KeyHasher(u64);

impl KeyHasher {
    fn mix(&mut self, word: u64) {
        let product = u128::from(self.0 ^ word) * u128::from(0x9E37_79B9_7F4A_7C15_u64);
        self.0 = (product as u64) ^ ((product >> 64) as u64);
    }
}

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        let mut word = [0u8; 8];
        for chunk in &mut words {
            word.copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
        let rest = words.remainder();
        word = [0u8; 8];
        word[..rest.len()].copy_from_slice(rest);
        self.mix(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
    }
}

/// A tenant's users with the indexes that keep every directory operation O(1) or O(log n):
/// the per-record lookup by UPN is one hash probe, the C41 object-id check is another, and the
/// count of each license held is kept as users change rather than counted.
///
/// Invariants: `slots` holds each user once; `by_key` holds the slot of every user, found by
/// the hash of its lower-case UPN (`upn.key`, the text stored in the slot, not a copy);
/// `by_object_id` maps every user's object id to its slot, found the same way by the object id;
/// `ordered`, once made, lists every slot in order of lower-case UPN (it is made on the first
/// `iter` after a user was added); `assigned[i]` is the number of users holding `Sku::ALL[i]`.
/// Users are never removed.
#[derive(Debug, Clone, Default)]
struct Users {
    slots: Vec<User>,
    by_key: HashTable<usize>,
    by_object_id: HashTable<usize>,
    ordered: OnceLock<Vec<usize>>,
    hasher: KeyHashState,
    assigned: [u32; Sku::ALL.len()],
}

impl Users {
    fn slot_of_key(&self, key: &str) -> Option<usize> {
        let hash = self.hasher.hash_one(key);
        let slots = &self.slots;
        self.by_key
            .find(hash, |s| slots[*s].upn.key == key)
            .copied()
    }

    fn slot_of_object_id(&self, object_id: &str) -> Option<usize> {
        let hash = self.hasher.hash_one(object_id);
        let slots = &self.slots;
        self.by_object_id
            .find(hash, |s| slots[*s].object_id == object_id)
            .copied()
    }

    fn get(&self, key: &str) -> Option<&User> {
        self.slot_of_key(key).map(|slot| &self.slots[slot])
    }

    fn by_object_id(&self, object_id: &str) -> Option<&User> {
        self.slot_of_object_id(object_id)
            .map(|slot| &self.slots[slot])
    }

    /// In order of lower-case UPN.
    fn iter(&self) -> impl Iterator<Item = &User> {
        let ordered = self.ordered.get_or_init(|| {
            let mut ordered: Vec<usize> = (0..self.slots.len()).collect();
            ordered.sort_unstable_by(|a, b| self.slots[*a].upn.key.cmp(&self.slots[*b].upn.key));
            ordered
        });
        ordered.iter().map(|slot| &self.slots[*slot])
    }

    /// Room for `more` users beyond those held, in the slots and the hash indexes.
    fn reserve(&mut self, more: usize) {
        self.slots.reserve(more);
        let (slots, hasher) = (&self.slots, self.hasher);
        self.by_key
            .reserve(more, |s| hasher.hash_one(slots[*s].upn.key.as_str()));
        self.by_object_id
            .reserve(more, |s| hasher.hash_one(slots[*s].object_id.as_str()));
    }

    fn count_license(&mut self, sku: Sku, add: bool) {
        let count = &mut self.assigned[sku.index()];
        *count = if add {
            count.saturating_add(1)
        } else {
            count.saturating_sub(1)
        };
    }

    fn count_licenses(&mut self, licenses: &BTreeSet<Sku>, add: bool) {
        for sku in licenses {
            self.count_license(*sku, add);
        }
    }

    /// Adds the user, or replaces the user with the same lower-case UPN.
    fn insert(&mut self, user: User) {
        self.count_licenses(&user.licenses, true);
        let hasher = self.hasher;
        let slot = match self.slot_of_key(&user.upn.key) {
            Some(slot) => {
                let old = std::mem::replace(&mut self.slots[slot], user);
                self.count_licenses(&old.licenses, false);
                // The index entry of the old object id, when it is this slot's, goes.
                if let Ok(entry) = self
                    .by_object_id
                    .find_entry(hasher.hash_one(old.object_id.as_str()), |s| *s == slot)
                {
                    entry.remove();
                }
                slot
            }
            None => {
                let slot = self.slots.len();
                self.slots.push(user);
                let slots = &self.slots;
                self.by_key.insert_unique(
                    hasher.hash_one(slots[slot].upn.key.as_str()),
                    slot,
                    |s| hasher.hash_one(slots[*s].upn.key.as_str()),
                );
                self.ordered = OnceLock::new();
                slot
            }
        };
        self.index_object_id(slot);
    }

    /// Points the object id of the user in `slot` at that slot (in place of any other user
    /// that had it).
    fn index_object_id(&mut self, slot: usize) {
        let (slots, hasher) = (&self.slots, self.hasher);
        let object_id = slots[slot].object_id.as_str();
        let hash = hasher.hash_one(object_id);
        match self.by_object_id.entry(
            hash,
            |s| slots[*s].object_id == object_id,
            |s| hasher.hash_one(slots[*s].object_id.as_str()),
        ) {
            hashbrown::hash_table::Entry::Occupied(mut entry) => *entry.get_mut() = slot,
            hashbrown::hash_table::Entry::Vacant(entry) => {
                entry.insert(slot);
            }
        }
    }

    /// Gives (`held`) or takes a license from the user with this key; whether it changed.
    fn set_license(&mut self, key: &str, sku: Sku, held: bool) -> bool {
        match self.slot_of_key(key) {
            Some(slot) => self.set_license_at(slot, sku, held),
            None => false,
        }
    }

    /// As `set_license`, for the user in `slot`.
    fn set_license_at(&mut self, slot: usize, sku: Sku, held: bool) -> bool {
        let licenses = &mut self.slots[slot].licenses;
        let changed = if held {
            licenses.insert(sku)
        } else {
            licenses.remove(&sku)
        };
        if changed {
            self.count_license(sku, held);
        }
        changed
    }
}

/// A tenant and its directory.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub country: Country,
    pub currency: Currency,
    /// IANA name of `timezone`.
    pub timezone_name: String,
    pub timezone: TimeZone,
    pub agreement: Agreement,
    pub default_policy: Policy,
    purchases: Purchases,
    wallet: Option<WalletSettings>,
    /// Shared by clones until one of them changes its users (copy on write): an offline run
    /// keeps a copy of each tenant for rating without copying its users.
    users: Arc<Users>,
    /// Service numbers by number.
    numbers: BTreeMap<E164, ServiceNumber>,
}

/// What a tenant is created from.
#[derive(Debug, Clone)]
pub struct TenantSpec {
    pub id: String,
    pub name: String,
    pub country: Country,
    pub currency: Currency,
    pub timezone: String,
    pub agreement: Agreement,
}

/// A change refused, with the reason and a sentence naming what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {detail}")]
pub struct Refusal {
    pub reason: Reason,
    pub detail: String,
}

impl Refusal {
    pub fn new(reason: Reason, detail: impl Into<String>) -> Refusal {
        Refusal {
            reason,
            detail: detail.into(),
        }
    }
}

/// A user as asked for, before the rules are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSpec {
    pub object_id: Option<String>,
    pub upn: String,
    pub display_name: String,
    pub usage_location: Option<Country>,
    pub policy: Option<Policy>,
    pub toll_free_dial_in: bool,
}

impl Tenant {
    /// A new tenant with no users, numbers, licenses or wallet.
    pub fn new(spec: TenantSpec) -> Result<Tenant, String> {
        let timezone = TimeZone::get(&spec.timezone).map_err(|_| {
            format!(
                "unknown time zone {:?} (expected an IANA name such as Europe/Paris)",
                spec.timezone
            )
        })?;
        crate::ident::tenant_id("id", &spec.id).map_err(|e| e.to_string())?;
        Ok(Tenant {
            id: spec.id,
            name: spec.name,
            country: spec.country,
            currency: spec.currency,
            timezone_name: spec.timezone,
            timezone,
            agreement: spec.agreement,
            default_policy: Policy::GLOBAL,
            purchases: Purchases::default(),
            wallet: None,
            users: Arc::default(),
            numbers: BTreeMap::new(),
        })
    }

    /// C1 then C2, for buying or assigning `sku`.
    fn check_sku_allowed(&self, sku: Sku, countries: &CountryTable) -> Result<(), Refusal> {
        if sku == Sku::PayPerMinute && self.agreement != Agreement::VolumeLicensing {
            return Err(Refusal::new(
                Reason::PpmRequiresVolumeLicensing,
                format!(
                    "{} needs a volume_licensing agreement; tenant {} has {}",
                    sku.code(),
                    self.id,
                    self.agreement.as_str()
                ),
            ));
        }
        if sku.is_conferencing() {
            let conferencing = countries
                .get(self.country)
                .map_or(Conferencing::No, |c| c.conferencing);
            match conferencing {
                Conferencing::No => {
                    return Err(Refusal::new(
                        Reason::CountryNotSupported,
                        format!("audio conferencing is not sold in {}", self.country),
                    ));
                }
                Conferencing::PpmOnly if sku == Sku::Subscription => {
                    return Err(Refusal::new(
                        Reason::CountryPpmOnly,
                        format!(
                            "only pay-per-minute is sold in {}; MCOMEETADD is refused",
                            self.country
                        ),
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// How many users hold `sku`.
    pub fn assigned(&self, sku: Sku) -> u32 {
        self.users.assigned[sku.index()]
    }

    /// Sets the purchased count of `sku` from instant `from` (C42: C1 -> C2 -> count). A count
    /// below what is assigned is refused (`license_limit_exceeded`).
    pub fn set_purchased(
        &mut self,
        sku: Sku,
        count: u32,
        from: Timestamp,
        countries: &CountryTable,
    ) -> Result<bool, Refusal> {
        if count > MAX_LICENSE_COUNT {
            return Err(Refusal::new(
                Reason::AmountOutOfRange,
                format!(
                    "{count} {} licenses: a purchased count is at most {MAX_LICENSE_COUNT}",
                    sku.code()
                ),
            ));
        }
        if count > 0 {
            self.check_sku_allowed(sku, countries)?;
        }
        if count < self.assigned(sku) && from >= self.latest_purchase_instant(sku) {
            return Err(Refusal::new(
                Reason::LicenseLimitExceeded,
                format!(
                    "{} of {} are assigned; cannot reduce the purchase to {}",
                    self.assigned(sku),
                    sku.code(),
                    count
                ),
            ));
        }
        let previous = self.purchases.changes.insert((sku, from), count);
        Ok(previous != Some(count))
    }

    fn latest_purchase_instant(&self, sku: Sku) -> Timestamp {
        self.purchases
            .changes
            .range((sku, Timestamp::MIN)..=(sku, Timestamp::MAX))
            .next_back()
            .map_or(Timestamp::MIN, |((_, t), _)| *t)
    }

    pub fn purchases(&self) -> &Purchases {
        &self.purchases
    }

    /// Adds or updates a user (`upn_not_unique` when another object id holds the UPN).
    pub fn upsert_user(&mut self, spec: UserSpec) -> Result<bool, Refusal> {
        self.upsert_user_from(&spec)
    }

    /// As `upsert_user`, from a borrowed spec: the user's texts are copied once, into the user.
    pub fn upsert_user_from(&mut self, spec: &UserSpec) -> Result<bool, Refusal> {
        let upn = Upn::new(&spec.upn);
        if let Err(e) = crate::ident::upn("upn", spec.upn.trim()) {
            return Err(Refusal::new(Reason::InvalidRecord, e.to_string()));
        }
        let given = spec.object_id.is_some();
        let object_id = match &spec.object_id {
            Some(id) => id.clone(),
            None => stable_object_id(&self.id, &upn.key),
        };
        if let Some(other) = self
            .users
            .by_object_id(&object_id)
            .filter(|u| u.upn.key != upn.key)
        {
            return Err(Refusal::new(
                Reason::UpnNotUnique,
                format!(
                    "object id {object_id} already belongs to {}",
                    other.upn.display
                ),
            ));
        }
        let existing = self.users.get(&upn.key);
        if let Some(existing) = existing
            && given
            && existing.object_id != object_id
        {
            return Err(Refusal::new(
                Reason::UpnNotUnique,
                format!("UPN {} is already used by another user", upn.display),
            ));
        }
        let user = User {
            object_id,
            display_name: spec.display_name.clone(),
            usage_location: spec.usage_location.unwrap_or(self.country),
            licenses: existing.map(|u| u.licenses.clone()).unwrap_or_default(),
            policy: spec.policy,
            toll_free_dial_in: spec.toll_free_dial_in,
            upn,
        };
        let changed = existing != Some(&user);
        Arc::make_mut(&mut self.users).insert(user);
        Ok(changed)
    }

    /// Makes room for `more` users beyond those the tenant has (a hint: adding users works
    /// without it, with the indexes grown as they fill).
    pub fn reserve_users(&mut self, more: usize) {
        Arc::make_mut(&mut self.users).reserve(more);
    }

    /// C42: C1 -> C2 -> conflicting licenses -> purchased count. Holding it already changes
    /// nothing.
    pub fn assign(
        &mut self,
        upn: &str,
        sku: Sku,
        countries: &CountryTable,
    ) -> Result<bool, Refusal> {
        let slot = self.users.slot_of_key(&Upn::key_of(upn)).ok_or_else(|| {
            Refusal::new(
                Reason::UnknownUser,
                format!("no user {upn} in tenant {}", self.id),
            )
        })?;
        let user = &self.users.slots[slot];
        self.check_sku_allowed(sku, countries)?;
        if user.licenses.contains(&sku) {
            return Ok(false);
        }
        if sku.is_conferencing() && user.licenses.iter().any(|s| s.is_conferencing()) {
            return Err(Refusal::new(
                Reason::ConflictingConferencingLicenses,
                format!(
                    "{upn} already holds a conferencing license; a user holds at most one of MCOMEETADD and MCOMEETACPEA"
                ),
            ));
        }
        let purchased = self.purchases.current(sku);
        if self.assigned(sku) >= purchased {
            return Err(Refusal::new(
                Reason::LicenseLimitExceeded,
                format!(
                    "all {purchased} purchased {} licenses are assigned",
                    sku.code()
                ),
            ));
        }
        Ok(Arc::make_mut(&mut self.users).set_license_at(slot, sku, true))
    }

    /// Removes a license from a user; not holding it changes nothing.
    pub fn unassign(&mut self, upn: &str, sku: Sku) -> Result<bool, Refusal> {
        let key = Upn::key_of(upn);
        if self.users.get(&key).is_none() {
            return Err(Refusal::new(Reason::UnknownUser, format!("no user {upn}")));
        }
        Ok(Arc::make_mut(&mut self.users).set_license(&key, sku, false))
    }

    /// C3: sets up (or updates) the wallet.
    pub fn setup_wallet(
        &mut self,
        settings: WalletSettings,
        countries: &CountryTable,
        rules: &AmountRules,
    ) -> Result<bool, Refusal> {
        if !countries
            .get(self.country)
            .is_some_and(|c| c.communications_credits)
        {
            return Err(Refusal::new(
                Reason::CreditsUnavailableInCountry,
                format!(
                    "Communications Credits are not available in {}",
                    self.country
                ),
            ));
        }
        if self.agreement == Agreement::PostUsage {
            return Err(Refusal::new(
                Reason::CreditsUnavailableForAgreement,
                "Communications Credits are not available for a post_usage agreement",
            ));
        }
        if let Some(recharge) = settings.auto_recharge {
            check_amount(
                rules,
                self.currency,
                recharge.trigger,
                "auto-recharge trigger",
            )?;
            check_amount(
                rules,
                self.currency,
                recharge.amount,
                "auto-recharge amount",
            )?;
        }
        for (index, threshold) in settings.low_balance_thresholds.iter().enumerate() {
            if let Some(threshold) = threshold {
                check_threshold(*threshold, index)?;
            }
        }
        let changed = self.wallet != Some(settings);
        self.wallet = Some(settings);
        Ok(changed)
    }

    /// C40: changing auto-recharge needs a wallet.
    pub fn set_auto_recharge(
        &mut self,
        recharge: Option<AutoRecharge>,
        countries: &CountryTable,
        rules: &AmountRules,
    ) -> Result<bool, Refusal> {
        let mut settings = self
            .wallet
            .ok_or_else(|| Refusal::new(Reason::CreditsNotSetUp, "set up the wallet first"))?;
        settings.auto_recharge = recharge;
        self.setup_wallet(settings, countries, rules)
    }

    pub fn wallet(&self) -> Option<&WalletSettings> {
        self.wallet.as_ref()
    }

    /// C4: adds a service number (or updates its flags).
    pub fn add_number(
        &mut self,
        number: E164,
        kind: NumberKind,
        shared: bool,
        bridge_default: bool,
        countries: &CountryTable,
    ) -> Result<bool, Refusal> {
        let country = match NumberPlan::global().classify(number) {
            PlanAnswer::Country(c) => c,
            _ => {
                return Err(Refusal::new(
                    Reason::InvalidNumber,
                    format!("{number} is not a valid geographic E.164 number"),
                ));
            }
        };
        if kind == NumberKind::TollFree && self.wallet.is_none() {
            return Err(Refusal::new(
                Reason::CreditsNotSetUp,
                format!("toll-free number {number} needs the wallet to be set up first"),
            ));
        }
        let available = countries.get(country).is_some_and(|c| match kind {
            NumberKind::Toll => c.toll_dial_in.is_available(),
            NumberKind::TollFree => c.toll_free_dial_in.is_available(),
        });
        if !available {
            return Err(Refusal::new(
                Reason::NumberKindUnavailable,
                format!(
                    "{} numbers are not available in {country} ({number})",
                    kind.as_str()
                ),
            ));
        }
        let entry = ServiceNumber {
            number,
            kind,
            shared,
            country,
            bridge_default: bridge_default && kind == NumberKind::Toll,
        };
        let changed = self.numbers.get(&number) != Some(&entry);
        if entry.bridge_default {
            for other in self.numbers.values_mut() {
                other.bridge_default = false;
            }
        }
        self.numbers.insert(number, entry);
        Ok(changed)
    }

    pub fn set_default_policy(&mut self, policy: Policy) -> bool {
        let changed = self.default_policy != policy;
        self.default_policy = policy;
        changed
    }

    /// The user with this UPN (case-insensitive: the key `Upn::new` makes). One hash lookup; a
    /// UPN already in lower-case ASCII without surrounding white space (as call records carry
    /// it) is looked up as it is, without allocating. Any other text is lower-cased first, so a
    /// title-case letter such as `ǅ` (not upper case, yet lower-cased) finds its user.
    pub fn user(&self, upn: &str) -> Option<&User> {
        self.users.get(&Upn::key_of(upn))
    }

    /// The users, by lower-case UPN.
    pub fn users(&self) -> impl Iterator<Item = &User> {
        self.users.iter()
    }

    pub fn number(&self, number: E164) -> Option<&ServiceNumber> {
        self.numbers.get(&number)
    }

    pub fn numbers(&self) -> impl Iterator<Item = &ServiceNumber> {
        self.numbers.values()
    }

    /// The policy a user follows (their own, else the tenant default).
    pub fn policy_of(&self, user: &User) -> Policy {
        user.policy.unwrap_or(self.default_policy)
    }
}

fn check_amount(
    rules: &AmountRules,
    currency: Currency,
    amount: Decimal,
    what: &str,
) -> Result<(), Refusal> {
    rules
        .check(currency, amount)
        .map_err(|reason| Refusal::new(reason, rules.explain(what, currency, amount)))
}

impl AmountRules {
    /// The detail of a refused amount: the field, the amount and the bounds in its currency.
    pub fn explain(&self, what: &str, currency: Currency, amount: Decimal) -> String {
        format!(
            "{what} {amount}: amounts are whole {currency} units from {} (the minimum in {currency}) to {MAX_AMOUNT}",
            self.minimum_for(currency)
        )
    }
}

/// C15: a low-balance threshold is at least 0 and at most `MAX_AMOUNT`.
fn check_threshold(threshold: Decimal, index: usize) -> Result<(), Refusal> {
    if threshold < Decimal::ZERO || threshold > MAX_AMOUNT {
        return Err(Refusal::new(
            Reason::AmountOutOfRange,
            format!(
                "low_balance_thresholds[{index}] {threshold}: a threshold is from 0 to {MAX_AMOUNT}"
            ),
        ));
    }
    Ok(())
}

/// A deterministic object id for users created without one: a UUID-shaped digest of the tenant
/// and UPN, so the same file always gives the same ids.
pub fn stable_object_id(tenant: &str, upn_key: &str) -> String {
    let mut d = crate::digest::Digest::default();
    // Both fields (each with its separator) are digested in one run of bytes when they fit on
    // the stack: the same value as field by field, with whole words folded across the join.
    let mut joined = [0u8; 256];
    let (t, u) = (tenant.len(), upn_key.len());
    match joined.get_mut(..t + u + 2) {
        Some(bytes) => {
            bytes[..t].copy_from_slice(tenant.as_bytes());
            bytes[t] = 0xFF;
            bytes[t + 1..t + 1 + u].copy_from_slice(upn_key.as_bytes());
            bytes[t + 1 + u] = 0xFF;
            d.bytes(bytes);
        }
        None => {
            d.field(tenant.as_bytes());
            d.field(upn_key.as_bytes());
        }
    }
    uuid_text(d.finish())
}

/// `digest::uuid_text` written into a buffer then one allocation: 32 lower-case hex digits,
/// most significant first, with a dash before digits 8, 12, 16 and 20.
fn uuid_text(value: u128) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    /// Where each byte's two digits go, dashes left between.
    const AT: [usize; 16] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
    let mut out = [b'-'; 36];
    for (byte, at) in value.to_be_bytes().into_iter().zip(AT) {
        out[at] = HEX[usize::from(byte >> 4)];
        out[at + 1] = HEX[usize::from(byte & 0xF)];
    }
    // Hex digits and dashes only: always UTF-8.
    std::str::from_utf8(&out)
        .map(str::to_owned)
        .unwrap_or_default()
}

/// Rebuilding a tenant from durable state that was checked when it was first written: these
/// skip the eligibility rules on purpose and are meant for the store only.
impl Tenant {
    pub fn restore_purchase(&mut self, sku: Sku, from: Timestamp, count: u32) {
        self.purchases.changes.insert((sku, from), count);
    }

    pub fn restore_wallet(&mut self, settings: Option<WalletSettings>) {
        self.wallet = settings;
    }

    pub fn restore_user(&mut self, user: User) {
        Arc::make_mut(&mut self.users).insert(user);
    }

    pub fn restore_number(&mut self, number: ServiceNumber) {
        self.numbers.insert(number.number, number);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_ids_are_written_as_the_digest_module_writes_them() {
        let mut values = vec![
            0,
            u128::MAX,
            1,
            1 << 127,
            0x0123_4567_89ab_cdef_fedc_ba98_7654_3210,
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15_u128;
        for _ in 0..1000 {
            seed = seed.wrapping_mul(0x2545_f491_4f6c_dd1d_0000_0000_0000_0001) ^ (seed >> 61);
            values.push(seed);
        }
        for value in values {
            assert_eq!(
                uuid_text(value),
                crate::digest::uuid_text(value),
                "{value:x}"
            );
        }
    }

    /// The object id of a user created without one is the digest of the tenant and the UPN key
    /// field by field, whether both fit in one run of bytes or not (stored ids depend on it).
    #[test]
    fn stable_object_ids_are_the_digest_of_the_fields() {
        let tenants = [
            "",
            "t",
            "generated",
            "a-tenant-id-of-sixteen",
            &"x".repeat(64),
        ];
        for tenant in tenants {
            for len in (0..40).chain([190, 191, 192, 193, 254, 255, 256, 300]) {
                let upn: String = (0..len)
                    .map(|i| char::from(b'a' + (i % 26) as u8))
                    .collect();
                let mut d = crate::digest::Digest::default();
                d.field(tenant.as_bytes());
                d.field(upn.as_bytes());
                let expected = crate::digest::uuid_text(d.finish());
                assert_eq!(stable_object_id(tenant, &upn), expected, "{tenant} {len}");
            }
        }
        // As stored before the ids were written in one run (a generated tenant file's user).
        assert_eq!(
            stable_object_id("generated", "greta.silva.0@generated.example"),
            "ff3b61cf-adb6-fbd7-6cbf-67972d2d4954",
        );
    }

    /// C41: the first UPN that repeats an earlier one, compared as `Upn::new` keys them.
    #[test]
    fn the_first_repeated_upn_is_found_case_insensitively() {
        let cases: [(&[&str], Option<usize>); 6] = [
            (&[], None),
            (&["a@x", "b@x", "c@x"], None),
            (&["a@x", "B@x", "b@x", "A@x"], Some(2)),
            (&[" a@x", "b@x", "A@X "], Some(2)),
            (&["\u{1c5}@x", "\u{1c6}@x"], Some(1)),
            (&["\u{c9}@x", "e@x", "\u{e9}@x"], Some(2)),
        ];
        for (upns, expected) in cases {
            assert_eq!(
                first_repeated_upn(upns.iter().copied()),
                expected,
                "{upns:?}"
            );
        }
    }

    fn user(upn: &str, object_id: &str) -> User {
        User {
            object_id: object_id.to_string(),
            upn: Upn::new(upn),
            display_name: upn.to_uppercase(),
            usage_location: Country::parse("FR").expect("a country"),
            licenses: BTreeSet::new(),
            policy: None,
            toll_free_dial_in: true,
        }
    }

    /// The indexes find each user by key and by object id, iterate in key order after every
    /// addition, and follow a replaced user's object id (C41).
    #[test]
    fn the_indexes_follow_every_insert_and_replacement() {
        let mut users = Users::default();
        let keys: Vec<String> = (0..500)
            .map(|i| format!("u{:03}@x", (i * 7919) % 500))
            .collect();
        for (i, key) in keys.iter().enumerate() {
            users.insert(user(key, &format!("oid-{i}")));
            if i % 97 == 0 {
                let listed: Vec<&str> = users.iter().map(|u| u.upn.key.as_str()).collect();
                let mut sorted = keys[..=i].iter().map(String::as_str).collect::<Vec<_>>();
                sorted.sort();
                assert_eq!(listed, sorted, "after {i}");
            }
        }
        for (i, key) in keys.iter().enumerate() {
            assert_eq!(
                users.get(key).map(|u| u.object_id.clone()),
                Some(format!("oid-{i}"))
            );
            assert_eq!(
                users.by_object_id(&format!("oid-{i}")).map(|u| &u.upn.key),
                Some(key)
            );
        }
        assert!(users.get("nobody@x").is_none());
        // Replaced with a new object id: the old one finds nobody, the new one the user.
        users.insert(user(&keys[3], "renamed"));
        assert!(users.by_object_id("oid-3").is_none());
        assert_eq!(
            users.by_object_id("renamed").map(|u| &u.upn.key),
            Some(&keys[3])
        );
        // Another user taking an object id (as restoring may): the id finds the newer holder,
        // and replacing the older one leaves that entry alone.
        users.insert(user(&keys[4], "oid-5"));
        assert_eq!(
            users.by_object_id("oid-5").map(|u| &u.upn.key),
            Some(&keys[4])
        );
        users.insert(user(&keys[5], "other"));
        assert_eq!(
            users.by_object_id("oid-5").map(|u| &u.upn.key),
            Some(&keys[4])
        );
        assert_eq!(users.iter().count(), keys.len());
    }
}
