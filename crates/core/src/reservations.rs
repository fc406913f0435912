//! The reservations of a tenant (C25 to C27): `Reservation`, what one authorized call holds,
//! and `Reservations`, all of them kept compact: a bridge may hold a million calls at once, so
//! each reservation is stored as one fixed-size record (its call id, its other texts as indexes
//! of texts stored once per tenant, its instants and flags packed) in a slab grown by chunks,
//! and rebuilt as a `Reservation` when read.
//!
//! The bottom of call control's module graph: it knows calls (`rating`) and who pays
//! (`funding`), and nothing of the tenant's state; `live` builds the holds on top of it.

use crate::funding::Funding;
use crate::rating::{CallRecord, Direction};
use hashbrown::HashTable;
use jiff::Timestamp;
use rust_decimal::Decimal;
use std::hash::{BuildHasher, RandomState};
use texts::Texts;

mod texts;

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

/// How many slots a chunk of `Reservations` holds: the slab grows a chunk at a time, never
/// moving a record, so a million reservations are never copied at once.
const CHUNK: usize = 1024;

/// Calls authorized and not yet ended, by call id (C25 to C27).
///
/// Each reservation is one fixed-size `Record` in a slot of a slab of chunks; its call id is
/// stored once, in the record (in place when short), with a 32-bit digest of it by which the
/// index finds the slot (then compares the id). The other texts of the call are interned (`Texts`): a tenant's calls name
/// the same organizers, conferences and numbers over and over. A slot keeps its number while
/// its call is reserved (a change of the reservation is written in place); `LiveCalls` keys its
/// schedule of lapses by slot.
#[derive(Clone, Default)]
pub struct Reservations {
    /// The slot of every record, hashed by the digest of its call id.
    index: HashTable<u32>,
    /// Slot `s` is `chunks[s / CHUNK][s % CHUNK]`; `None` once vacated.
    chunks: Vec<Vec<Option<Record>>>,
    /// Vacated slots, reused last-in first-out.
    vacant: Vec<u32>,
    /// The texts of the calls other than their ids.
    texts: Texts,
    hasher: RandomState,
}

/// The hash of a digest, spread over 64 bits for the index.
fn spread(digest: u32) -> u64 {
    u64::from(digest).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The record in `slot`, if any.
fn cell(chunks: &[Vec<Option<Record>>], slot: u32) -> Option<&Record> {
    let slot = slot as usize;
    chunks.get(slot / CHUNK)?.get(slot % CHUNK)?.as_ref()
}

/// The hash of the record in `slot`, for the index (which holds only slots of records).
fn rehash(chunks: &[Vec<Option<Record>>], slot: u32) -> u64 {
    spread(
        cell(chunks, slot)
            .expect("an indexed slot holds a record")
            .digest,
    )
}

/// How many bytes of a call id are kept in place (a longer one is kept apart): a UUID fits.
const INLINE_ID: usize = 38;

/// A call id, in place when it has at most `INLINE_ID` bytes.
#[derive(Clone)]
enum CallId {
    Inline(u8, [u8; INLINE_ID]),
    Apart(Box<str>),
}

impl CallId {
    fn new(id: &str) -> CallId {
        if id.len() > INLINE_ID {
            return CallId::Apart(id.into());
        }
        let mut bytes = [0u8; INLINE_ID];
        bytes[..id.len()].copy_from_slice(id.as_bytes());
        CallId::Inline(id.len() as u8, bytes)
    }

    fn as_str(&self) -> &str {
        match self {
            CallId::Inline(len, bytes) => std::str::from_utf8(&bytes[..usize::from(*len)])
                .expect("an id kept in place was a string"),
            CallId::Apart(id) => id,
        }
    }
}

/// A reservation as stored: its call id, its texts as indexes of `Texts`, its instants as
/// (seconds, nanoseconds) and its flags in one byte.
#[derive(Clone)]
struct Record {
    call_id: CallId,
    /// The digest of `call_id` (`Reservations::digest`).
    digest: u32,
    /// conference_id, organizer, service_number, caller_number, destination_number.
    texts: [u32; 5],
    pool_minutes: u32,
    /// Meaningful when `GRANTED` is set.
    granted_s: u64,
    credit: Decimal,
    /// The seconds of start, end, expires_at and authorized_at (meaningful when `ANSWERED` is
    /// set).
    seconds: [i64; 4],
    /// Their nanoseconds (negative with negative seconds, as `Timestamp` has them).
    nanoseconds: [i32; 4],
    direction: Direction,
    funding: Funding,
    flags: u8,
}

const LIVE: u8 = 1;
const LAST_WINDOW: u8 = 2;
const GRANTED: u8 = 4;
const ANSWERED: u8 = 8;

fn split(at: Timestamp) -> (i64, i32) {
    (at.as_second(), at.subsec_nanosecond())
}

impl Record {
    fn new(call_id: CallId, digest: u32, texts: [u32; 5], r: &Reservation) -> Record {
        let c = &r.call;
        let times = [
            c.start,
            c.end,
            r.expires_at,
            r.authorized_at.unwrap_or(Timestamp::UNIX_EPOCH),
        ];
        let flag = |on: bool, bit: u8| if on { bit } else { 0 };
        Record {
            call_id,
            digest,
            texts,
            pool_minutes: r.pool_minutes,
            granted_s: r.granted_s.unwrap_or(0),
            credit: r.credit,
            seconds: times.map(|t| split(t).0),
            nanoseconds: times.map(|t| split(t).1),
            direction: c.direction,
            funding: r.funding,
            flags: flag(r.live, LIVE)
                | flag(r.last_window, LAST_WINDOW)
                | flag(r.granted_s.is_some(), GRANTED)
                | flag(r.authorized_at.is_some(), ANSWERED),
        }
    }

    fn instant(&self, i: usize) -> Timestamp {
        Timestamp::new(self.seconds[i], self.nanoseconds[i])
            .expect("an instant reads back as it was stored")
    }

    fn unpack(&self, texts: &Texts) -> Reservation {
        let text = |i: usize| texts.get(self.texts[i]).to_string();
        let on = |bit: u8| self.flags & bit != 0;
        Reservation {
            call: CallRecord {
                call_id: self.call_id.as_str().to_string(),
                conference_id: text(0),
                organizer: text(1),
                direction: self.direction,
                service_number: text(2),
                caller_number: text(3),
                destination_number: text(4),
                start: self.instant(0),
                end: self.instant(1),
            },
            granted_s: on(GRANTED).then_some(self.granted_s),
            credit: self.credit,
            pool_minutes: self.pool_minutes,
            expires_at: self.instant(2),
            live: on(LIVE),
            funding: self.funding,
            authorized_at: on(ANSWERED).then(|| self.instant(3)),
            last_window: on(LAST_WINDOW),
        }
    }
}

/// The texts of `call` other than its id, interned.
fn intern(texts: &mut Texts, call: &CallRecord) -> [u32; 5] {
    [
        &call.conference_id,
        &call.organizer,
        &call.service_number,
        &call.caller_number,
        &call.destination_number,
    ]
    .map(|t| texts.intern(t))
}

impl Reservations {
    pub fn new() -> Reservations {
        Reservations::default()
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    fn digest(&self, call_id: &str) -> u32 {
        (self.hasher.hash_one(call_id) >> 32) as u32
    }

    /// The slot of this call, if it is reserved.
    pub(crate) fn slot(&self, call_id: &str) -> Option<u32> {
        let digest = self.digest(call_id);
        let chunks = &self.chunks;
        self.index
            .find(spread(digest), |&slot| {
                cell(chunks, slot)
                    .is_some_and(|r| r.digest == digest && r.call_id.as_str() == call_id)
            })
            .copied()
    }

    pub fn contains_key(&self, call_id: &str) -> bool {
        self.slot(call_id).is_some()
    }

    /// The reservation of this call, if any.
    pub fn get(&self, call_id: &str) -> Option<Reservation> {
        self.at(self.slot(call_id)?)
    }

    /// The reservation in `slot`, if any.
    pub(crate) fn at(&self, slot: u32) -> Option<Reservation> {
        cell(&self.chunks, slot).map(|r| r.unpack(&self.texts))
    }

    /// When the reservation in `slot` expires, and whether it is live, if there is one.
    pub(crate) fn expiry_at(&self, slot: u32) -> Option<(Timestamp, bool)> {
        cell(&self.chunks, slot).map(|r| (r.instant(2), r.flags & LIVE != 0))
    }

    /// The call id of the reservation in `slot`, if any.
    pub(crate) fn id_at(&self, slot: u32) -> Option<&str> {
        cell(&self.chunks, slot).map(|r| r.call_id.as_str())
    }

    fn cell_mut(&mut self, slot: u32) -> &mut Option<Record> {
        let slot = slot as usize;
        &mut self.chunks[slot / CHUNK][slot % CHUNK]
    }

    /// Adds or replaces the reservation of `r.call.call_id`.
    pub fn insert(&mut self, r: &Reservation) {
        self.put(r);
    }

    /// Adds or replaces the reservation of `r.call.call_id`; returns its slot (a replaced one
    /// keeps its slot).
    pub(crate) fn put(&mut self, r: &Reservation) -> u32 {
        let texts = intern(&mut self.texts, &r.call);
        if let Some(slot) = self.slot(&r.call.call_id) {
            let cell = self.cell_mut(slot);
            let old = cell.take().expect("an indexed slot holds a record");
            *cell = Some(Record::new(old.call_id, old.digest, texts, r));
            for i in old.texts {
                self.texts.release(i);
            }
            return slot;
        }
        let digest = self.digest(&r.call.call_id);
        let slot = self.place(Record::new(CallId::new(&r.call.call_id), digest, texts, r));
        let chunks = &self.chunks;
        self.index
            .insert_unique(spread(digest), slot, |&s| rehash(chunks, s));
        slot
    }

    /// Puts `record` in a vacant slot, or in a new one at the end.
    fn place(&mut self, record: Record) -> u32 {
        if let Some(slot) = self.vacant.pop() {
            *self.cell_mut(slot) = Some(record);
            return slot;
        }
        if self.chunks.last().is_none_or(|c| c.len() == CHUNK) {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        let full = (self.chunks.len() - 1) * CHUNK;
        let last = self.chunks.last_mut().expect("a chunk was just made");
        last.push(Some(record));
        u32::try_from(full + last.len() - 1).expect("reservations are fewer than 2^32")
    }

    /// Removes the reservation of this call and returns it.
    pub fn remove(&mut self, call_id: &str) -> Option<Reservation> {
        let digest = self.digest(call_id);
        let chunks = &self.chunks;
        let entry = self
            .index
            .find_entry(spread(digest), |&slot| {
                cell(chunks, slot)
                    .is_some_and(|r| r.digest == digest && r.call_id.as_str() == call_id)
            })
            .ok()?;
        let (slot, _) = entry.remove();
        let record = self
            .cell_mut(slot)
            .take()
            .expect("an indexed slot holds a record");
        let r = record.unpack(&self.texts);
        for i in record.texts {
            self.texts.release(i);
        }
        if self.index.is_empty() {
            *self = Reservations {
                hasher: self.hasher.clone(),
                ..Reservations::default()
            };
        } else {
            self.vacant.push(slot);
        }
        Some(r)
    }

    /// How many slots there are, taken or vacant.
    pub(crate) fn slots(&self) -> usize {
        self.chunks.iter().map(Vec::len).sum()
    }

    /// Moves the records to the first slots when at most a quarter of the slots are taken (and
    /// there are more than four chunks), freeing the rest; true when it did (every slot may
    /// have changed).
    pub(crate) fn compact(&mut self) -> bool {
        let slots = self.slots();
        if slots <= 4 * CHUNK || self.len() * 4 > slots {
            return false;
        }
        let records: Vec<Record> = std::mem::take(&mut self.chunks)
            .into_iter()
            .flatten()
            .flatten()
            .collect();
        self.vacant = Vec::new();
        self.index = HashTable::with_capacity(records.len());
        for record in records {
            let digest = record.digest;
            let slot = self.place(record);
            let chunks = &self.chunks;
            self.index
                .insert_unique(spread(digest), slot, |&s| rehash(chunks, s));
        }
        true
    }

    fn records(&self) -> impl Iterator<Item = (u32, &Record)> {
        self.chunks
            .iter()
            .flatten()
            .enumerate()
            .filter_map(|(slot, r)| Some((slot as u32, r.as_ref()?)))
    }

    /// Every call id held, in no particular order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.records().map(|(_, r)| r.call_id.as_str())
    }

    /// Every reservation, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = Reservation> + '_ {
        self.records().map(|(_, r)| r.unpack(&self.texts))
    }

    /// Every reservation with its slot, in the order of the slots.
    pub(crate) fn iter_slots(&self) -> impl Iterator<Item = (u32, Reservation)> + '_ {
        self.records()
            .map(|(slot, r)| (slot, r.unpack(&self.texts)))
    }
}

/// Two sets of reservations are equal when they hold the same reservations by call id,
/// wherever their slots are.
impl PartialEq for Reservations {
    fn eq(&self, other: &Reservations) -> bool {
        self.len() == other.len()
            && self
                .records()
                .all(|(_, r)| other.get(r.call_id.as_str()) == Some(r.unpack(&self.texts)))
    }
}

impl Eq for Reservations {}

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
            reservation(&"i".repeat(INLINE_ID), ["", "", "", "", ""]),
            reservation(&"日".repeat(INLINE_ID / 3 + 1), ["", "", "", "", ""]),
        ];
        for r in &cases {
            all.insert(r);
        }
        assert_eq!(all.len(), 5);
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
        assert_eq!(all.len(), 5);
        assert_eq!(all.get("a"), Some(changed.clone()));
        assert_eq!(all.remove("a"), Some(changed));
        assert!(!all.contains_key("a"));
        assert_eq!(all.get("a"), None);
        let mut ids: Vec<&str> = all.ids().collect();
        ids.sort_unstable();
        assert_eq!(ids[..2], ["b", "c"]);
        assert_eq!(ids.len(), 4);
        let rebuilt: Reservations = all.iter().collect();
        assert_eq!(rebuilt, all);
    }

    #[test]
    fn a_record_stays_small() {
        // What a million live reservations cost: the record, its share of the index and of
        // the schedule of lapses (`LiveCalls`).
        assert!(std::mem::size_of::<Option<Record>>() <= 144);
    }

    #[test]
    fn reservations_agree_with_a_plain_map_over_a_long_mixed_sequence() {
        // Inserts, replacements and removals of many ids sharing a few texts (and some texts
        // of their own), against a map of id -> last reservation.
        let mut all = Reservations::new();
        let mut model: std::collections::BTreeMap<String, Reservation> = Default::default();
        let mut x: u64 = 11;
        for step in 0..40_000i64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let n = (x >> 33) % 12_000;
            // Some ids too long to be kept in place, some of exactly the length that is.
            let id = match n % 10 {
                0 => format!("call-{n}-{}", "ü".repeat(30)),
                1 => format!("{n:0>38}"),
                _ => format!("call-{n}"),
            };
            if (x >> 20).is_multiple_of(3) {
                assert_eq!(all.remove(&id), model.remove(&id), "{id}");
                continue;
            }
            let organizer = format!("user{}@x.example", (x >> 40) % 7);
            let own = format!("+1 555 {step}");
            let mut r = reservation(&id, ["conf", &organizer, "", &own, "+33 1 44 55 66 77"]);
            r.credit = Decimal::new(step, 3);
            r.live = (x >> 50).is_multiple_of(2);
            r.authorized_at = r
                .live
                .then(|| r.call.start - jiff::SignedDuration::from_nanos(step));
            r.granted_s = (!(x >> 52).is_multiple_of(5)).then_some(step as u64);
            all.insert(&r);
            model.insert(id, r);
        }
        assert_eq!(all.len(), model.len());
        for (id, r) in &model {
            assert_eq!(all.get(id).as_ref(), Some(r), "{id}");
        }
        let mut ids: Vec<&str> = all.ids().collect();
        ids.sort_unstable();
        assert!(ids.iter().copied().eq(model.keys().map(String::as_str)));
        let before = all.slots();
        let ended: Vec<String> = model.keys().skip(20).cloned().collect();
        for id in &ended {
            assert_eq!(all.remove(id), model.remove(id));
        }
        assert!(
            all.compact(),
            "few records of many slots are moved together"
        );
        assert!(all.slots() < before);
        assert_eq!(all, model.values().cloned().collect::<Reservations>());
        for id in model.keys() {
            assert_eq!(all.remove(id).as_ref(), model.get(id));
        }
        assert!(all.is_empty());
        assert_eq!(
            (all.slots(), all.texts.is_empty()),
            (0, true),
            "nothing is kept"
        );
    }
}
