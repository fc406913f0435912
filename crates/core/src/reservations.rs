//! The reservations of a tenant (C25 to C27): `Reservation`, what one authorized call holds,
//! and `Reservations`, all of them kept compact: a bridge may hold a million calls at once, so
//! each reservation is stored as one small block (its fixed fields and one string holding every
//! text field of the call) behind its call id, and rebuilt as a `Reservation` when read.
//!
//! The bottom of call control's module graph: it knows calls (`rating`) and who pays
//! (`funding`), and nothing of the tenant's state; `live` builds the holds on top of it.

use crate::funding::Funding;
use crate::rating::{CallRecord, Direction};
use jiff::Timestamp;
use rust_decimal::Decimal;
use std::collections::HashMap;

/// What a live (or expired but not yet ended) call holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// The call as authorized: `end` equals `start`, the instant the call was authorized for
    /// or, once it was answered, the instant it was answered (ring time is not charged).
    pub call: CallRecord,
    /// Seconds granted from `start` (the bridge's `max_duration_s`); `None` when the call needs
    /// no credit and no pool (included, add-on): it is never cut.
    pub granted_s: Option<u64>,
    /// Credit held for the grant (0 when none).
    pub credit: Decimal,
    /// Pool minutes held for the grant, in the month of `call.start`.
    pub pool_minutes: u32,
    /// When the hold lapses if the call is neither extended nor ended (C27): the end of the
    /// grant plus the grace period.
    pub expires_at: Timestamp,
    /// False once the hold has lapsed: nothing is held any more, but the call is remembered so
    /// that a late end report is still rated and debited (C27, C13).
    pub live: bool,
    /// Who pays, as decided at authorization.
    pub funding: Funding,
    /// `None` until the call is answered; then the instant it was authorized for (`call.start`
    /// is then the answer), kept so that a repeated authorization is still recognised as the
    /// same call.
    pub authorized_at: Option<Timestamp>,
    /// True when the current grant is the last the engine can promise (the event
    /// `call.last_window` was raised when it turned true).
    pub last_window: bool,
}

impl Reservation {
    /// The call as it was authorized (its `start` the authorization's instant, even once
    /// answered): what a repeated authorization is compared with.
    pub fn authorized_call(&self) -> CallRecord {
        let at = self.authorized_at.unwrap_or(self.call.start);
        CallRecord {
            start: at,
            end: at,
            ..self.call.clone()
        }
    }

    /// Whether the call was answered (its `start` re-based on the answer).
    pub fn answered(&self) -> bool {
        self.authorized_at.is_some()
    }

    /// When the grant ends (`None` for a call that is never cut).
    pub fn ends_at(&self) -> Option<Timestamp> {
        self.granted_s
            .map(|s| crate::live::later(self.call.start, s))
    }
}

/// Calls authorized and not yet ended, by call id (C25 to C27).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Reservations {
    map: HashMap<Box<str>, Box<Packed>>,
}

/// A reservation without its call id (the key), its texts in one string.
#[derive(Clone, PartialEq, Eq)]
struct Packed {
    /// conference_id, organizer, service_number, caller_number and destination_number, one
    /// after the other.
    text: Box<str>,
    /// The lengths of the first four texts (the last one runs to the end).
    lens: [u32; 4],
    direction: Direction,
    start: Timestamp,
    end: Timestamp,
    granted_s: Option<u64>,
    credit: Decimal,
    pool_minutes: u32,
    expires_at: Timestamp,
    live: bool,
    funding: Funding,
    authorized_at: Option<Timestamp>,
    last_window: bool,
}

impl Packed {
    fn new(r: &Reservation) -> Packed {
        let c = &r.call;
        let parts = [
            c.conference_id.as_str(),
            &c.organizer,
            &c.service_number,
            &c.caller_number,
            &c.destination_number,
        ];
        let mut text = String::with_capacity(parts.iter().map(|p| p.len()).sum());
        let mut lens = [0u32; 4];
        for (i, part) in parts.iter().enumerate() {
            if i < 4 {
                lens[i] = u32::try_from(part.len()).expect("call fields are bounded");
            }
            text.push_str(part);
        }
        Packed {
            text: text.into_boxed_str(),
            lens,
            direction: c.direction,
            start: c.start,
            end: c.end,
            granted_s: r.granted_s,
            credit: r.credit,
            pool_minutes: r.pool_minutes,
            expires_at: r.expires_at,
            live: r.live,
            funding: r.funding,
            authorized_at: r.authorized_at,
            last_window: r.last_window,
        }
    }

    fn unpack(&self, call_id: &str) -> Reservation {
        let mut parts = [""; 5];
        let mut rest: &str = &self.text;
        for (i, len) in self.lens.iter().enumerate() {
            let (part, tail) = rest.split_at(*len as usize);
            parts[i] = part;
            rest = tail;
        }
        parts[4] = rest;
        Reservation {
            call: CallRecord {
                call_id: call_id.to_string(),
                conference_id: parts[0].to_string(),
                organizer: parts[1].to_string(),
                direction: self.direction,
                service_number: parts[2].to_string(),
                caller_number: parts[3].to_string(),
                destination_number: parts[4].to_string(),
                start: self.start,
                end: self.end,
            },
            granted_s: self.granted_s,
            credit: self.credit,
            pool_minutes: self.pool_minutes,
            expires_at: self.expires_at,
            live: self.live,
            funding: self.funding,
            authorized_at: self.authorized_at,
            last_window: self.last_window,
        }
    }
}

impl Reservations {
    pub fn new() -> Reservations {
        Reservations::default()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn contains_key(&self, call_id: &str) -> bool {
        self.map.contains_key(call_id)
    }

    /// The reservation of this call, if any.
    pub fn get(&self, call_id: &str) -> Option<Reservation> {
        self.map.get(call_id).map(|p| p.unpack(call_id))
    }

    /// Adds or replaces the reservation of `r.call.call_id`.
    pub fn insert(&mut self, r: &Reservation) {
        let packed = Box::new(Packed::new(r));
        match self.map.get_mut(r.call.call_id.as_str()) {
            Some(slot) => *slot = packed,
            None => {
                self.map.insert(r.call.call_id.as_str().into(), packed);
            }
        }
    }

    /// Removes the reservation of this call and returns it.
    pub fn remove(&mut self, call_id: &str) -> Option<Reservation> {
        self.map.remove(call_id).map(|p| p.unpack(call_id))
    }

    /// Every call id held, in no particular order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(|k| &**k)
    }

    /// Every reservation, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = Reservation> + '_ {
        self.map.iter().map(|(id, p)| p.unpack(id))
    }
}

impl FromIterator<Reservation> for Reservations {
    fn from_iter<I: IntoIterator<Item = Reservation>>(iter: I) -> Reservations {
        let mut all = Reservations::new();
        for r in iter {
            all.insert(&r);
        }
        all
    }
}

impl std::fmt::Debug for Reservations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut ids: Vec<&str> = self.ids().collect();
        ids.sort_unstable();
        f.debug_map()
            .entries(ids.iter().map(|id| (id, self.get(id))))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reservation(id: &str, texts: [&str; 5]) -> Reservation {
        let start: Timestamp = "2026-03-02T10:00:00Z".parse().unwrap();
        Reservation {
            call: CallRecord {
                call_id: id.into(),
                conference_id: texts[0].into(),
                organizer: texts[1].into(),
                direction: Direction::DialOut,
                service_number: texts[2].into(),
                caller_number: texts[3].into(),
                destination_number: texts[4].into(),
                start,
                end: start,
            },
            granted_s: Some(300),
            credit: Decimal::new(1234, 2),
            pool_minutes: 5,
            expires_at: start + jiff::SignedDuration::from_secs(360),
            live: true,
            funding: Funding::PoolAndCredits,
            authorized_at: None,
            last_window: false,
        }
    }

    #[test]
    fn a_reservation_reads_back_as_it_was_put() {
        let mut all = Reservations::new();
        let cases = [
            reservation("a", ["conf", "ana@x.example", "", "", "+33 1 44 55 66 77"]),
            reservation("b", ["", "", "", "", ""]),
            reservation("c", ["ü", "日本", "+81 3", "+1 555", ""]),
        ];
        for r in &cases {
            all.insert(r);
        }
        assert_eq!(all.len(), 3);
        for r in &cases {
            assert_eq!(all.get(&r.call.call_id).as_ref(), Some(r));
        }
        let mut changed = cases[0].clone();
        changed.live = false;
        changed.credit = Decimal::ZERO;
        changed.authorized_at = Some(changed.call.start);
        changed.call.start += jiff::SignedDuration::from_secs(20);
        changed.last_window = true;
        all.insert(&changed);
        assert_eq!(all.len(), 3);
        assert_eq!(all.get("a"), Some(changed.clone()));
        assert_eq!(all.remove("a"), Some(changed));
        assert!(!all.contains_key("a"));
        assert_eq!(all.get("a"), None);
        let mut ids: Vec<&str> = all.ids().collect();
        ids.sort_unstable();
        assert_eq!(ids, ["b", "c"]);
        let rebuilt: Reservations = all.iter().collect();
        assert_eq!(rebuilt, all);
    }
}
