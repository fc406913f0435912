//! The rating pipeline of an offline run. Records go through it in blocks, in canonical order
//! (C22), and each block through three stages:
//!
//! 1. read and rate: the record is copied out of the call file, routed to its tenant and
//!    assessed (`Rater::assess`: number checks, directory, longest prefix), which depends on
//!    nothing but the call, the rate card and the directory;
//! 2. charge: C23's duplicate check and the wallet and pool replay (`TenantBook::
//!    process_assessed`), one record after another, on the run's thread;
//! 3. write: the export row or refused-call line of each record, into the block's buffers.
//!
//! While the run's thread charges block `b`, the other threads (and the run's thread when it
//! is done) rate block `b + 1` and write block `b - 1`, in chunks taken from a shared queue.
//! Whatever the number of threads, every record is rated, charged and written alike, and the
//! output is written in block order: the bytes do not depend on the threads.

use super::{Route, Router, RunSummary};
use anyhow::Result;
use minutely_core::catalogue::{CountryTable, RateCard};
use minutely_core::directory::Tenant;
use minutely_core::engine::{Outcome, TenantBook};
use minutely_core::ledger::Effects;
use minutely_core::rating::{Assessment, CallRecord, Rater};
use minutely_core::reason::Reason;
use minutely_formats::calls::{CallFile, empty_record};
use minutely_formats::export;
use std::io::Write;
use std::sync::Mutex;

/// Records per block.
const BLOCK_RECORDS: usize = 8192;
/// Records per chunk of a stage run by one thread.
const CHUNK_RECORDS: usize = 1024;

/// One record on its way through the pipeline.
struct Slot<'t> {
    record: CallRecord,
    /// The record's `tenant` column.
    tenant: String,
    route: Route,
    /// `seen_hash` of the record's route and call id.
    hash: u64,
    /// The assessment against the record's tenant (none: it has no tenant); taken by stage 2.
    assessed: Option<Result<Assessment<'t>, Reason>>,
    /// The directory entries the assessment found, for the export row.
    found: Option<export::Found<'t>>,
    /// What stage 2 decided, and whether it was a replay (C23).
    outcome: Option<(Outcome, bool)>,
}

impl Slot<'_> {
    fn new() -> Self {
        Slot {
            record: empty_record(),
            tenant: String::new(),
            route: Route::Nobody,
            hash: 0,
            assessed: None,
            found: None,
            outcome: None,
        }
    }
}

/// What every stage reads.
pub(super) struct Shared<'a> {
    pub countries: &'a CountryTable,
    pub card: &'a RateCard,
    pub calls: &'a CallFile,
    pub router: &'a Router,
    /// Copies of the books' tenants (the directory does not change in a run): the stages that
    /// rate and write read them while stage 2 changes the books.
    pub tenants: &'a [Tenant],
    pub extended: bool,
    pub multi: bool,
    /// Whether refused calls are written.
    pub refused: bool,
}

/// The bytes one chunk of stage 3 writes.
#[derive(Default)]
struct Written {
    export: Vec<u8>,
    refused: Vec<u8>,
}

/// A block: its records and the bytes of its chunks.
struct Block<'t> {
    /// Index of the block's first record in the call file (canonical order).
    first: usize,
    slots: Vec<Slot<'t>>,
    written: Vec<Written>,
}

/// A chunk of work for any thread.
enum Task<'b, 't> {
    Rate {
        first: usize,
        slots: &'b mut [Slot<'t>],
    },
    Write {
        slots: &'b [Slot<'t>],
        into: &'b mut Written,
    },
}

/// C23's record of call ids seen so far, per route: an open-addressing table of (32 bits of
/// the hash, 1 + the record's index), 8 bytes an entry. A hit is confirmed against the call
/// file itself (same call id, same route), so it is exact.
struct SeenIds {
    entries: Vec<u64>,
    mask: usize,
}

impl SeenIds {
    fn with_capacity(records: usize) -> SeenIds {
        let buckets = (records + records / 4 + 16).next_power_of_two();
        SeenIds {
            entries: vec![0; buckets],
            mask: buckets - 1,
        }
    }

    /// The index of the earlier record `same` confirms, or `index` is recorded as the first.
    fn first_or_insert(
        &mut self,
        hash: u64,
        index: usize,
        mut same: impl FnMut(usize) -> bool,
    ) -> Option<usize> {
        let tag = hash & 0xFFFF_FFFF;
        let mut bucket = (hash >> 32) as usize & self.mask;
        loop {
            let entry = self.entries[bucket];
            if entry == 0 {
                self.entries[bucket] = (tag << 32) | (index as u64 + 1);
                return None;
            }
            let earlier = (entry & 0xFFFF_FFFF) as usize - 1;
            if entry >> 32 == tag && same(earlier) {
                return Some(earlier);
            }
            bucket = (bucket + 1) & self.mask;
        }
    }
}

/// A hash of a record's route and call id for `SeenIds`.
fn seen_hash(route: Route, call_id: &str) -> u64 {
    let route = match route {
        Route::Tenant(i) => i as u64,
        Route::Nobody => u64::MAX,
    };
    let mut h = route.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ call_id.len() as u64;
    for chunk in call_id.as_bytes().chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        h = (h ^ u64::from_le_bytes(word))
            .wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
            .rotate_left(31);
    }
    h ^= h >> 29;
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^ (h >> 32)
}

/// What stage 2 changes.
pub(super) struct Books<'b> {
    pub books: &'b mut [TenantBook],
    pub summary: &'b mut RunSummary,
}

/// Rates every record of `shared.calls` (in canonical order) on `threads` threads, writing
/// the export to `out` and refused calls to `refused` (their headers are written already).
pub(super) fn run(
    shared: &Shared<'_>,
    state: Books<'_>,
    threads: usize,
    out: &mut dyn Write,
    mut refused: Option<&mut (dyn Write + '_)>,
) -> Result<()> {
    let Books { books, summary } = state;
    let threads = threads.max(1);
    let mut raters: Vec<Rater> = (0..threads)
        .map(|_| Rater::new(shared.countries, shared.card))
        .collect();
    let total = shared.calls.len();
    let block_count = total.div_ceil(BLOCK_RECORDS);
    let mut blocks: [Block; 3] = std::array::from_fn(|_| Block {
        first: 0,
        slots: Vec::new(),
        written: Vec::new(),
    });
    let mut seen = SeenIds::with_capacity(total);
    // Step s rates block s, charges block s - 1 and writes block s - 2.
    for step in 0..block_count + 2 {
        let [rating, charging, writing] = rotate(&mut blocks, step);
        if step < block_count {
            let first = step * BLOCK_RECORDS;
            rating.first = first;
            let len = BLOCK_RECORDS.min(total - first);
            rating.slots.resize_with(len, Slot::new);
            rating.slots.truncate(len);
        }
        let writes = (2..block_count + 2)
            .contains(&step)
            .then_some(&mut *writing);
        let rates = (step < block_count).then_some(&mut *rating);
        let queue = Mutex::new(tasks(writes, rates));
        let charge = (1..block_count + 1).contains(&step).then_some(charging);
        let (main_rater, others) = raters.split_first_mut().expect("one rater a thread");
        std::thread::scope(|scope| {
            for rater in others.iter_mut() {
                let queue = &queue;
                scope.spawn(move || work(shared, rater, queue));
            }
            if let Some(block) = charge {
                charge_block(shared, books, summary, &mut seen, block);
            }
            work(shared, main_rater, &queue);
        });
        drop(queue);
        if (2..block_count + 2).contains(&step) {
            for written in &mut writing.written {
                out.write_all(&written.export)?;
                written.export.clear();
                if let Some(w) = refused.as_deref_mut() {
                    w.write_all(&written.refused)?;
                }
                written.refused.clear();
            }
        }
    }
    Ok(())
}

/// The chunks of a step: those of the block to write, then those of the block to rate (in the
/// order they are taken).
fn tasks<'b, 't>(
    writing: Option<&'b mut Block<'t>>,
    rating: Option<&'b mut Block<'t>>,
) -> Vec<Task<'b, 't>> {
    let mut tasks = Vec::new();
    if let Some(block) = writing {
        let chunks = block.slots.len().div_ceil(CHUNK_RECORDS);
        block.written.resize_with(chunks, Written::default);
        let pairs = block.slots.chunks(CHUNK_RECORDS).zip(&mut block.written);
        tasks.extend(pairs.map(|(slots, into)| Task::Write { slots, into }));
    }
    if let Some(block) = rating {
        let first = block.first;
        for (n, slots) in block.slots.chunks_mut(CHUNK_RECORDS).enumerate() {
            let first = first + n * CHUNK_RECORDS;
            tasks.push(Task::Rate { first, slots });
        }
    }
    tasks.reverse();
    tasks
}

/// The blocks that step `step` rates, charges and writes.
fn rotate<'x, 't>(blocks: &'x mut [Block<'t>; 3], step: usize) -> [&'x mut Block<'t>; 3] {
    let [a, b, c] = blocks;
    match step % 3 {
        0 => [a, c, b],
        1 => [b, a, c],
        _ => [c, b, a],
    }
}

/// Runs tasks from `queue` until it is empty.
fn work<'t>(shared: &Shared<'t>, rater: &mut Rater<'t>, queue: &Mutex<Vec<Task<'_, 't>>>) {
    loop {
        let task = queue.lock().expect("no task panics").pop();
        match task {
            None => return,
            Some(Task::Rate { first, slots }) => rate_chunk(shared, rater, first, slots),
            Some(Task::Write { slots, into }) => write_chunk(shared, slots, into),
        }
    }
}

/// Stage 1: copies, routes and assesses each record of a chunk.
fn rate_chunk<'t>(
    shared: &Shared<'t>,
    rater: &mut Rater<'t>,
    first: usize,
    slots: &mut [Slot<'t>],
) {
    let targets = slots.iter_mut().map(|s| (&mut s.record, &mut s.tenant));
    shared.calls.fill_run(first, targets);
    for slot in slots.iter_mut() {
        slot.route = shared
            .router
            .route(&slot.tenant, &slot.record.organizer)
            .expect("every record was routed before rating");
        slot.hash = seen_hash(slot.route, &slot.record.call_id);
        slot.assessed = match slot.route {
            Route::Tenant(i) => Some(rater.assess(&shared.tenants[i], &slot.record)),
            Route::Nobody => None,
        };
        slot.found = match &slot.assessed {
            Some(Ok(a)) => Some(export::Found {
                organizer: Some(a.organizer),
                service: a.service,
            }),
            _ => None,
        };
        slot.outcome = None;
    }
}

/// Stage 2: C23, then the charge, of each record of a block in order; counts them.
fn charge_block(
    shared: &Shared<'_>,
    books: &mut [TenantBook],
    summary: &mut RunSummary,
    seen: &mut SeenIds,
    block: &mut Block<'_>,
) {
    let mut earlier_record = empty_record();
    for (n, slot) in block.slots.iter_mut().enumerate() {
        let index = block.first + n;
        let route = slot.route;
        let earlier = seen.first_or_insert(slot.hash, index, |earlier| {
            shared.calls.call_id_of(earlier) == slot.record.call_id
                && route_of(shared, earlier, &mut earlier_record) == route
        });
        let (outcome, replay, effects) = match (earlier, route) {
            (Some(earlier), _) => {
                shared.calls.fill(earlier, &mut earlier_record);
                let same = earlier_record.fingerprint() == slot.record.fingerprint();
                (
                    Outcome::Refused(Reason::CallIdReused),
                    same,
                    Effects::default(),
                )
            }
            (None, Route::Tenant(i)) => {
                let assessed = slot.assessed.take().expect("stage 1 assessed every record");
                let (outcome, effects) = books[i].process_assessed(&slot.record, assessed);
                (outcome, false, effects)
            }
            (None, Route::Nobody) => (
                Outcome::Refused(Reason::OrganizerNotEnabled),
                false,
                Effects::default(),
            ),
        };
        let counted = match route {
            Route::Tenant(i) => &mut summary.tenants[i],
            Route::Nobody => &mut summary.no_tenant,
        };
        counted.count(&outcome, replay, &effects.entries, &effects.events);
        slot.assessed = None;
        slot.outcome = Some((outcome, replay));
    }
}

/// The route of record `index` (filled into `scratch`).
fn route_of(shared: &Shared<'_>, index: usize, scratch: &mut CallRecord) -> Route {
    let mut tenant = String::new();
    shared.calls.fill_run(index, [(&mut *scratch, &mut tenant)]);
    shared
        .router
        .route(&tenant, &scratch.organizer)
        .expect("every record was routed before rating")
}

/// Stage 3: what each record's outcome shows: its export row or its refusal (a replay shows
/// none).
fn write_chunk(shared: &Shared<'_>, slots: &[Slot<'_>], into: &mut Written) {
    for slot in slots {
        let (outcome, replay) = slot.outcome.as_ref().expect("stage 2 charged every record");
        let tenant = match slot.route {
            Route::Tenant(i) => Some(&shared.tenants[i]),
            Route::Nobody => None,
        };
        let id = tenant.map_or("", |t| t.id.as_str());
        match (outcome, replay, tenant) {
            (_, true, _) => {}
            (Outcome::Charged(charge), false, Some(tenant)) => {
                let found = slot
                    .found
                    .unwrap_or_else(|| export::Found::of(tenant, &slot.record));
                export::write_found_row(
                    &mut into.export,
                    tenant,
                    shared.countries,
                    (&slot.record, found),
                    charge,
                    shared.extended,
                );
                if shared.multi {
                    export::end_row_with_tenant(&mut into.export, id);
                }
            }
            (Outcome::Charged(_), false, None) => unreachable!("only a tenant's book charges"),
            (Outcome::Refused(_), false, _) if !shared.refused => {}
            (Outcome::Refused(reason), false, _) => {
                export::write_refused(&mut into.refused, &slot.record, *reason);
                if shared.multi {
                    export::end_row_with_tenant(&mut into.refused, id);
                }
            }
        }
    }
}
