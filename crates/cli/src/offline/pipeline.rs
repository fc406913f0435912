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
//! The threads live for the whole run and take stages 1 and 3 of blocks from one queue; the
//! run's thread charges each block as soon as it and every block before it are rated (and
//! takes jobs from the queue when it has none to charge), and writes the blocks out in their
//! order as they come back from stage 3. A fixed number of blocks is in flight, recycled as
//! they are written out, so the memory does not grow with the file. Whatever the number of
//! threads, every record is rated, charged and written alike, and the output is written in
//! block order: the bytes do not depend on the threads.

use super::{Route, Router, RunSummary};
use anyhow::Result;
use minutely_core::catalogue::{CountryTable, RateCard};
use minutely_core::directory::Tenant;
use minutely_core::engine::{Outcome, Planned, TenantBook};
use minutely_core::ledger::Effects;
use minutely_core::rating::{CallRecord, Rater};
use minutely_core::reason::Reason;
use minutely_formats::calls::{CallFile, empty_record};
use minutely_formats::export;
use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::sync::{Condvar, Mutex, mpsc};

/// Records per block.
const BLOCK_RECORDS: usize = 2048;
/// Blocks in flight a thread: what bounds the memory of the pipeline.
const BLOCKS_A_THREAD: usize = 4;

/// One record on its way through the pipeline.
struct Slot<'t> {
    record: CallRecord,
    /// The record's `tenant` column.
    tenant: String,
    route: Route,
    /// `seen_hash` of the record's route and call id.
    hash: u64,
    /// The assessment against the record's tenant (none: it has no tenant), with the plan of
    /// its funding when it depends on the tenant alone (`TenantBook::plan_ahead`); taken by
    /// stage 2.
    assessed: Option<Result<Planned<'t>, Reason>>,
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

/// A block: its index (its records are the file's from `index * BLOCK_RECORDS` on, in
/// canonical order), its records and the bytes stage 3 wrote of them.
struct Block<'t> {
    index: usize,
    slots: Vec<Slot<'t>>,
    export: Vec<u8>,
    refused: Vec<u8>,
    /// Why stage 1 could not read the block's records.
    failed: Option<std::io::Error>,
    /// Whether stage 2 is done.
    charged: bool,
}

impl<'t> Block<'t> {
    /// The block `index` of a file of `total` records, reusing `self`'s memory.
    fn reset(mut self, index: usize, total: usize) -> Block<'t> {
        let len = BLOCK_RECORDS.min(total - index * BLOCK_RECORDS);
        self.index = index;
        self.slots.resize_with(len, Slot::new);
        self.slots.truncate(len);
        self.export.clear();
        self.refused.clear();
        self.failed = None;
        self.charged = false;
        self
    }

    fn first(&self) -> usize {
        self.index * BLOCK_RECORDS
    }
}

/// Work any thread does: stage 1 or stage 3 of a block.
enum Job<'t> {
    Rate(Block<'t>),
    Write(Block<'t>),
}

/// The jobs waiting for a thread; writes go first, as they free blocks.
struct Queue<'t> {
    state: Mutex<(VecDeque<Job<'t>>, bool)>,
    ready: Condvar,
}

impl<'t> Queue<'t> {
    fn new() -> Queue<'t> {
        Queue {
            state: Mutex::new((VecDeque::new(), false)),
            ready: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (VecDeque<Job<'t>>, bool)> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn push(&self, job: Job<'t>) {
        let mut state = self.lock();
        match job {
            Job::Write(_) => state.0.push_front(job),
            Job::Rate(_) => state.0.push_back(job),
        }
        drop(state);
        self.ready.notify_one();
    }

    fn try_pop(&self) -> Option<Job<'t>> {
        self.lock().0.pop_front()
    }

    /// The next job, waiting for one; none once the queue is closed.
    fn pop(&self) -> Option<Job<'t>> {
        let mut state = self.lock();
        loop {
            if state.1 {
                return None;
            }
            if let Some(job) = state.0.pop_front() {
                return Some(job);
            }
            state = self
                .ready
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    fn close(&self) {
        self.lock().1 = true;
        self.ready.notify_all();
    }
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
///
/// The threads live for the whole run. The run's thread charges (stage 2) each block as soon
/// as it and every block before it are rated, and writes the blocks out in their order; any
/// thread, the run's included when it has nothing to charge, rates and writes blocks. At most
/// `BLOCKS_A_THREAD * threads` blocks are in flight.
pub(super) fn run(
    shared: &Shared<'_>,
    state: Books<'_>,
    threads: usize,
    out: &mut dyn Write,
    refused: Option<&mut (dyn Write + '_)>,
) -> Result<()> {
    let threads = threads.max(1);
    let mut raters: Vec<Rater> = (0..threads)
        .map(|_| Rater::new(shared.countries, shared.card))
        .collect();
    let queue = Queue::new();
    let (sender, done) = mpsc::channel();
    let (main_rater, others) = raters.split_first_mut().expect("one rater a thread");
    std::thread::scope(|scope| {
        for rater in others.iter_mut() {
            let (queue, sender) = (&queue, sender.clone());
            scope.spawn(move || {
                while let Some(job) = queue.pop() {
                    // A panic is a bug, never bad input: the run's thread is told, so that it
                    // stops instead of waiting for the block this thread held.
                    let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        do_job(shared, rater, job)
                    }));
                    let stopped = done.is_err();
                    if sender.send(done.map_err(|_| Stopped)).is_err() || stopped {
                        return;
                    }
                }
            });
        }
        drop(sender);
        let mut outputs = Outputs { out, refused };
        let result = drive(
            shared,
            state,
            threads,
            (main_rater, &queue, &done),
            &mut outputs,
        );
        queue.close();
        result
    })
}

/// A thread of the pipeline stopped on a panic.
struct Stopped;

/// Where the blocks go, in order.
struct Outputs<'o, 'r> {
    out: &'o mut dyn Write,
    refused: Option<&'o mut (dyn Write + 'r)>,
}

/// What a run whose thread stopped says.
const STOPPED: &str = "a thread of the rating pipeline stopped";

/// The run's thread: hands out blocks, charges them in order, takes jobs when it has nothing
/// else to do and writes the blocks out in order.
fn drive<'t>(
    shared: &Shared<'t>,
    Books { books, summary }: Books<'_>,
    threads: usize,
    (rater, queue, done): (
        &mut Rater<'t>,
        &Queue<'t>,
        &mpsc::Receiver<Result<Block<'t>, Stopped>>,
    ),
    outputs: &mut Outputs<'_, '_>,
) -> Result<()> {
    let total = shared.calls.len();
    let block_count = total.div_ceil(BLOCK_RECORDS);
    let mut seen = SeenIds::with_capacity(total);
    let mut next_new = (BLOCKS_A_THREAD * threads).min(block_count);
    for index in 0..next_new {
        queue.push(Job::Rate(empty_block().reset(index, total)));
    }
    // Blocks rated, waiting for those before them to be charged; blocks written, waiting for
    // those before them to be written out.
    let (mut rated, mut written) = (BTreeMap::new(), BTreeMap::new());
    let (mut next_charge, mut next_out) = (0, 0);
    let file = |block: Block<'t>, rated: &mut BTreeMap<_, _>, written: &mut BTreeMap<_, _>| {
        let to = if block.charged { written } else { rated };
        to.insert(block.index, block);
    };
    while next_out < block_count {
        if let Ok(block) = done.try_recv() {
            let Ok(block) = block else {
                anyhow::bail!(STOPPED)
            };
            file(block, &mut rated, &mut written);
        } else if let Some(mut block) = written.remove(&next_out) {
            outputs.write(&block)?;
            next_out += 1;
            if next_new < block_count {
                block = block.reset(next_new, total);
                queue.push(Job::Rate(block));
                next_new += 1;
            }
        } else if let Some(mut block) = rated.remove(&next_charge) {
            if let Some(error) = block.failed.take() {
                return Err(error.into());
            }
            charge_block(shared, books, summary, &mut seen, &mut block)?;
            check_books(books, &block.slots)?;
            block.charged = true;
            next_charge += 1;
            queue.push(Job::Write(block));
        } else if let Some(job) = queue.try_pop() {
            file(do_job(shared, rater, job), &mut rated, &mut written);
        } else {
            match done.recv() {
                Ok(Ok(block)) => file(block, &mut rated, &mut written),
                Ok(Err(Stopped)) | Err(_) => anyhow::bail!(STOPPED),
            }
        }
    }
    Ok(())
}

impl Outputs<'_, '_> {
    fn write(&mut self, block: &Block<'_>) -> Result<()> {
        self.out.write_all(&block.export)?;
        if let Some(w) = self.refused.as_deref_mut() {
            w.write_all(&block.refused)?;
        }
        Ok(())
    }
}

fn empty_block<'t>() -> Block<'t> {
    Block {
        index: 0,
        slots: Vec::new(),
        export: Vec::new(),
        refused: Vec::new(),
        failed: None,
        charged: false,
    }
}

/// Runs a job: stage 1 (an error reading the records is kept in the block) or stage 3.
fn do_job<'t>(shared: &Shared<'t>, rater: &mut Rater<'t>, job: Job<'t>) -> Block<'t> {
    match job {
        Job::Rate(mut block) => {
            let first = block.first();
            block.failed = rate_chunk(shared, rater, first, &mut block.slots).err();
            block
        }
        Job::Write(mut block) => {
            let Block {
                slots,
                export,
                refused,
                ..
            } = &mut block;
            write_chunk(shared, slots, export, refused);
            block
        }
    }
}

/// Stage 1: copies, routes and assesses each record of a chunk.
fn rate_chunk<'t>(
    shared: &Shared<'t>,
    rater: &mut Rater<'t>,
    first: usize,
    slots: &mut [Slot<'t>],
) -> std::io::Result<()> {
    let targets = slots.iter_mut().map(|s| (&mut s.record, &mut s.tenant));
    shared.calls.fill_run(first, targets)?;
    for slot in slots.iter_mut() {
        slot.route = shared
            .router
            .route(&slot.tenant, &slot.record.organizer)
            .expect("every record was routed before rating");
        slot.hash = seen_hash(slot.route, &slot.record.call_id);
        slot.assessed = match slot.route {
            Route::Tenant(i) => {
                let tenant = &shared.tenants[i];
                let assessed = rater.assess(tenant, &slot.record);
                Some(assessed.map(|a| {
                    let plan = TenantBook::plan_ahead(tenant, &a);
                    (a, plan)
                }))
            }
            Route::Nobody => None,
        };
        slot.found = match &slot.assessed {
            Some(Ok((a, _))) => Some(export::Found {
                organizer: Some(a.organizer),
                service: a.service,
            }),
            _ => None,
        };
        slot.outcome = None;
    }
    Ok(())
}

/// Stage 2: C23, then the charge, of each record of a block in order; counts them.
fn charge_block(
    shared: &Shared<'_>,
    books: &mut [TenantBook],
    summary: &mut RunSummary,
    seen: &mut SeenIds,
    block: &mut Block<'_>,
) -> std::io::Result<()> {
    let mut earlier_record = empty_record();
    let first = block.first();
    for (n, slot) in block.slots.iter_mut().enumerate() {
        let index = first + n;
        let route = slot.route;
        let mut failed = None;
        let earlier = seen.first_or_insert(slot.hash, index, |earlier| {
            shared.calls.call_id_of(earlier) == slot.record.call_id
                && match route_of(shared, earlier, &mut earlier_record) {
                    Ok(earlier_route) => earlier_route == route,
                    Err(e) => {
                        failed = Some(e);
                        false
                    }
                }
        });
        if let Some(e) = failed {
            return Err(e);
        }
        let (outcome, replay, effects) = match (earlier, route) {
            (Some(earlier), _) => {
                shared.calls.fill(earlier, &mut earlier_record)?;
                let same = earlier_record.fingerprint() == slot.record.fingerprint();
                (
                    Outcome::Refused(Reason::CallIdReused),
                    same,
                    Effects::default(),
                )
            }
            (None, Route::Tenant(i)) => {
                let assessed = slot.assessed.take().expect("stage 1 assessed every record");
                let (outcome, effects) = books[i].process_planned(&slot.record, assessed);
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
    Ok(())
}

/// C24 in full, the lots summed against the running totals, of every book a block charged:
/// once a block, as each debit checked the totals alone.
fn check_books(books: &[TenantBook], slots: &[Slot<'_>]) -> Result<()> {
    let mut charged: Vec<usize> = slots
        .iter()
        .filter_map(|slot| match slot.route {
            Route::Tenant(i) => Some(i),
            Route::Nobody => None,
        })
        .collect();
    charged.sort_unstable();
    charged.dedup();
    for i in charged {
        books[i]
            .wallet
            .check_invariant()
            .map_err(anyhow::Error::msg)?;
    }
    Ok(())
}

/// The route of record `index` (filled into `scratch`).
fn route_of(shared: &Shared<'_>, index: usize, scratch: &mut CallRecord) -> std::io::Result<Route> {
    let mut tenant = String::new();
    shared
        .calls
        .fill_run(index, [(&mut *scratch, &mut tenant)])?;
    Ok(shared
        .router
        .route(&tenant, &scratch.organizer)
        .expect("every record was routed before rating"))
}

/// Stage 3: what each record's outcome shows: its export row or its refusal (a replay shows
/// none).
fn write_chunk(
    shared: &Shared<'_>,
    slots: &[Slot<'_>],
    export: &mut Vec<u8>,
    refused: &mut Vec<u8>,
) {
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
                    export,
                    tenant,
                    shared.countries,
                    (&slot.record, found),
                    charge,
                    shared.extended,
                );
                if shared.multi {
                    export::end_row_with_tenant(export, id);
                }
            }
            (Outcome::Charged(_), false, None) => unreachable!("only a tenant's book charges"),
            (Outcome::Refused(_), false, _) if !shared.refused => {}
            (Outcome::Refused(reason), false, _) => {
                export::write_refused(refused, &slot.record, *reason);
                if shared.multi {
                    export::end_row_with_tenant(refused, id);
                }
            }
        }
    }
}
