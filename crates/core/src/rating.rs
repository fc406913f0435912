//! Rating one call (C5 to C9, C16 to C19, C30, C33, C35, C38): a pure function of the call, the
//! rate card and the tenant directory. It decides every refusal that does not depend on the
//! wallet or the pool, and which source may pay; `engine` then applies the pool and the wallet.

use crate::catalogue::{CountryTable, RateCard, RateEntry};
use crate::digest::Digest;
use crate::directory::{DialOutScope, NumberKind, ServiceNumber, Sku, Tenant, User};
use crate::numbers::{Country, E164, PlanAnswer, PlanCache};
use crate::reason::Reason;
use jiff::Timestamp;

/// Dial-in or dial-out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    DialIn,
    DialOut,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::DialIn => "dial_in",
            Direction::DialOut => "dial_out",
        }
    }

    pub fn parse(text: &str) -> Option<Direction> {
        match text {
            "dial_in" => Some(Direction::DialIn),
            "dial_out" => Some(Direction::DialOut),
            _ => None,
        }
    }
}

/// A call leg as a bridge reports it (C5). Numbers are kept as written: checking them is part
/// of rating (`invalid_number` is a refusal, C30). An empty number means "none".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    pub call_id: String,
    pub conference_id: String,
    /// The meeting organizer's UPN.
    pub organizer: String,
    pub direction: Direction,
    pub service_number: String,
    pub caller_number: String,
    pub destination_number: String,
    pub start: Timestamp,
    pub end: Timestamp,
}

impl CallRecord {
    /// A 128-bit digest of C37's normal form (numbers without spaces, dashes and dots; the UPN
    /// in lower case; instants as UTC), computed without allocating: two submissions of a
    /// `call_id` are the same call when their fingerprints are equal. Stored with each call.
    pub fn fingerprint(&self) -> u128 {
        let mut d = Digest::default();
        d.field(self.conference_id.as_bytes());
        let organizer = self.organizer.trim();
        if organizer.is_ascii() {
            for b in organizer.bytes() {
                d.byte(b.to_ascii_lowercase());
            }
            d.byte(0xFF);
        } else {
            d.field(organizer.to_lowercase().as_bytes());
        }
        d.field(self.direction.as_str().as_bytes());
        for number in [
            &self.service_number,
            &self.caller_number,
            &self.destination_number,
        ] {
            for b in number.bytes().filter(|b| !matches!(b, b' ' | b'-' | b'.')) {
                d.byte(b);
            }
            d.byte(0xFF);
        }
        d.field(&self.start.as_nanosecond().to_le_bytes());
        d.field(&self.end.as_nanosecond().to_le_bytes());
        d.finish()
    }

    /// C38: whole seconds from start to end, rounded down; `None` when the end is before the
    /// start.
    pub fn duration_s(&self) -> Option<u64> {
        let nanos = self.end.as_nanosecond() - self.start.as_nanosecond();
        (nanos >= 0).then_some((nanos / 1_000_000_000) as u64)
    }
}

/// What kind of usage a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    DialInToll,
    DialInTollFree,
    DialOut,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::DialInToll => "dial_in_toll",
            Category::DialInTollFree => "dial_in_toll_free",
            Category::DialOut => "dial_out",
        }
    }
}

/// Which source may pay, before the pool and the wallet are looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payer {
    /// C18: a toll dial-in of a subscription organizer.
    Included,
    /// C33: the US/Canada add-on.
    AddOn,
    /// C18/C32: Zone A, not premium, subscription organizer: the pool while it lasts.
    Pool,
    /// Credits at the rate.
    Credits,
}

/// A call that passed every check that does not need the pool or the wallet.
#[derive(Debug, Clone)]
pub struct Assessment<'a> {
    pub category: Category,
    pub organizer: &'a User,
    pub duration_s: u64,
    /// The rate that applies (`None` for included toll dial-in and add-on calls).
    pub rate: Option<&'a RateEntry>,
    pub payer: Payer,
    /// The other party's numbering-plan country (destination, or caller for dial-in).
    pub other_country: Option<Country>,
    /// C39: other party's country equals the organizer's usage location.
    pub domestic: Option<bool>,
    /// The dial-in service number.
    pub service: Option<&'a ServiceNumber>,
    /// The organizer holds `MCOMEETACPEA`.
    pub pay_per_minute: bool,
}

/// Everything rating reads besides the call.
pub struct Rater<'a> {
    pub countries: &'a CountryTable,
    pub card: &'a RateCard,
    /// The numbering-plan answers seen so far.
    pub plan: PlanCache,
}

/// A checked number: absent, or valid with its country.
fn check_number(
    plan: &mut PlanCache,
    text: &str,
) -> Result<Option<(E164, Option<Country>)>, Reason> {
    if text.is_empty() {
        return Ok(None);
    }
    let number = E164::parse(text).ok_or(Reason::InvalidNumber)?;
    match plan.classify(number) {
        PlanAnswer::Country(c) => Ok(Some((number, Some(c)))),
        PlanAnswer::NonGeographic => Ok(Some((number, None))),
        PlanAnswer::Invalid => Err(Reason::InvalidNumber),
    }
}

impl<'a> Rater<'a> {
    pub fn new(countries: &'a CountryTable, card: &'a RateCard) -> Rater<'a> {
        Rater {
            countries,
            card,
            plan: PlanCache::new(1 << 20),
        }
    }

    /// C30, up to `no_rate`: every refusal that depends only on the call, the directory and the
    /// rate card, in the order of the rule.
    pub fn assess<'t>(
        &mut self,
        tenant: &'t Tenant,
        call: &CallRecord,
    ) -> Result<Assessment<'t>, Reason>
    where
        'a: 't,
    {
        let duration_s = call.duration_s().ok_or(Reason::InvalidRecord)?;
        let (required, other) = match call.direction {
            Direction::DialIn => (&call.service_number, &call.caller_number),
            Direction::DialOut => (&call.destination_number, &call.caller_number),
        };
        if required.is_empty() {
            return Err(Reason::InvalidRecord);
        }
        let (primary, primary_country) =
            check_number(&mut self.plan, required)?.expect("checked non-empty");
        let caller = check_number(&mut self.plan, other)?;
        // C30: any number on the record, including one the direction does not use.
        let unused = match call.direction {
            Direction::DialIn => &call.destination_number,
            Direction::DialOut => &call.service_number,
        };
        check_number(&mut self.plan, unused)?;
        let organizer = tenant
            .user(&call.organizer)
            .ok_or(Reason::OrganizerNotEnabled)?;
        let subscription = organizer.licenses.contains(&Sku::Subscription);
        let pay_per_minute = organizer.licenses.contains(&Sku::PayPerMinute);
        if !subscription && !pay_per_minute {
            return Err(Reason::OrganizerNotEnabled);
        }
        let version = self.card.version_at(call.start);
        match call.direction {
            Direction::DialIn => {
                let service = tenant.number(primary).ok_or(Reason::UnknownServiceNumber)?;
                let caller_country = caller.and_then(|(_, c)| c);
                let domestic = caller.map(|(_, c)| c == Some(organizer.usage_location));
                let base = Assessment {
                    category: Category::DialInToll,
                    organizer,
                    duration_s,
                    rate: None,
                    payer: Payer::Included,
                    other_country: caller_country,
                    domestic,
                    service: Some(service),
                    pay_per_minute,
                };
                match service.kind {
                    NumberKind::Toll if !pay_per_minute => Ok(base),
                    NumberKind::Toll => {
                        let rate = version
                            .and_then(|v| v.dial_in_toll(service.country))
                            .ok_or(Reason::NoRate)?;
                        Ok(Assessment {
                            rate: Some(rate),
                            payer: Payer::Credits,
                            ..base
                        })
                    }
                    NumberKind::TollFree => {
                        if !organizer.toll_free_dial_in {
                            return Err(Reason::TollFreeDisabled);
                        }
                        // C35: the origin is the caller's numbering-plan country; no caller
                        // number matches only `*`.
                        let rate = version
                            .and_then(|v| v.dial_in_toll_free(service.country, caller_country))
                            .ok_or(Reason::NoRate)?;
                        Ok(Assessment {
                            category: Category::DialInTollFree,
                            rate: Some(rate),
                            payer: Payer::Credits,
                            ..base
                        })
                    }
                }
            }
            Direction::DialOut => {
                let destination = primary_country;
                let domestic = destination == Some(organizer.usage_location);
                match tenant.policy_of(organizer).scope {
                    DialOutScope::Any => {}
                    DialOutScope::Disabled => return Err(Reason::PolicyDisabled),
                    DialOutScope::Domestic if !domestic => return Err(Reason::PolicyDomesticOnly),
                    DialOutScope::ZoneA
                        if !destination.is_some_and(|c| self.countries.is_zone_a(c)) =>
                    {
                        return Err(Reason::PolicyZoneAOnly);
                    }
                    DialOutScope::Domestic | DialOutScope::ZoneA => {}
                }
                let base = Assessment {
                    category: Category::DialOut,
                    organizer,
                    duration_s,
                    rate: None,
                    payer: Payer::AddOn,
                    other_country: destination,
                    domestic: Some(domestic),
                    service: None,
                    pay_per_minute,
                };
                // C33: the add-on covers numbering-plan US and CA exactly, premium included,
                // and needs no rate.
                let us_or_ca = destination.is_some_and(|c| matches!(c.as_str(), "US" | "CA"));
                if us_or_ca && organizer.licenses.contains(&Sku::DialOutUs) {
                    return Ok(base);
                }
                let rate = version
                    .and_then(|v| v.dial_out(primary))
                    .ok_or(Reason::NoRate)?;
                let zone_a = destination.is_some_and(|c| self.countries.is_zone_a(c));
                let payer = if subscription && zone_a && !rate.premium {
                    Payer::Pool
                } else {
                    Payer::Credits
                };
                Ok(Assessment {
                    rate: Some(rate),
                    payer,
                    ..base
                })
            }
        }
    }
}
