//! The single writer: one thread owns every tenant's state machine and the store's write
//! connection. Requests become jobs on a bounded queue; the writer takes a batch of jobs, applies
//! each to memory, writes everything the batch changed in one transaction, and only then
//! answers every caller of the batch (group commit). Nothing is acknowledged before it is
//! durable. When a commit fails, the tenants the batch touched are reloaded from the store and
//! every caller of the batch gets an error: memory never runs ahead of the disk.

use crate::clock::Clock;
use crate::cluster::Ownership;
use crate::commands::{Answer, Command, FromAnswer, expect_answer};
use crate::error::{ServiceError, ServiceResult, unknown_tenant};
use crate::written::{Stored, Written};
use jiff::Timestamp;
use minutely_core::catalogue::{CountryTable, RateCard};
use minutely_core::control::{ControlPolicy, HoldChanges};
use minutely_core::directory::AmountRules;
use minutely_core::engine::{Outcome, TenantBook};
use minutely_core::ledger::Effects;
use minutely_core::money::Currency;
use minutely_core::numbers::PlanCache;
use minutely_core::rating::{CallRecord, Rater};
use minutely_store::{AuditEntry, Store, TenantChanges};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Limits and settings of the writer.
#[derive(Debug, Clone, Copy)]
pub struct WriterConfig {
    /// Jobs waiting beyond this make callers wait (backpressure).
    pub queue: usize,
    /// At most this many jobs are committed together.
    pub max_batch: usize,
    pub control: ControlPolicy,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            queue: 16_384,
            max_batch: 2_048,
            control: ControlPolicy::default(),
        }
    }
}

/// The operator's catalogue as the writer holds it.
pub struct Catalogue {
    pub countries: CountryTable,
    pub cards: HashMap<Currency, RateCard>,
    pub rules: AmountRules,
    /// Numbering-plan answers, kept across jobs.
    plan: Option<PlanCache>,
}

impl Catalogue {
    /// Runs `f` with a rater over the card of `currency` (an empty card when none was
    /// imported: every call is then `no_rate`).
    pub fn with_rater<T>(&mut self, currency: Currency, f: impl FnOnce(&mut Rater<'_>) -> T) -> T {
        let empty;
        let card = match self.cards.get(&currency) {
            Some(card) => card,
            None => {
                empty = RateCard::empty(currency);
                &empty
            }
        };
        let plan = self.plan.take().unwrap_or_else(|| PlanCache::new(1 << 18));
        let mut rater = Rater {
            countries: &self.countries,
            card,
            plan,
        };
        let out = f(&mut rater);
        self.plan = Some(rater.plan);
        out
    }
}

/// What a job sees: every tenant, the catalogue, the store (for reads and the catalogue's own
/// transactions), the time, and the change list of the batch.
pub struct Ctx<'a> {
    pub books: &'a mut BTreeMap<String, TenantBook>,
    pub catalogue: &'a mut Catalogue,
    pub store: &'a mut Store,
    pub now: Timestamp,
    pub control: ControlPolicy,
    changes: &'a mut BTreeMap<String, Pending>,
    /// Audit rows of the batch's changes, committed in the batch's transaction.
    audit: &'a mut Vec<AuditEntry>,
    /// Set by a job that changed the catalogue or settings outside the batch transaction.
    pub outside_batch: bool,
    /// (tenant, call id) pairs this batch already looked up in the store and did not find:
    /// whatever happens to them later in the batch is in memory (`seen`, `reservations`).
    absent: &'a mut HashSet<(String, String)>,
    /// On a node of several: which tenants this node may answer for now.
    cluster: Option<&'a Ownership>,
    /// The monotonic instant the batch started, against which leases are checked.
    started: Instant,
}

/// What a batch gathers until its commit: the changes of each tenant, the audit rows and the
/// call ids looked up and not found.
#[derive(Default)]
struct BatchWork {
    changes: BTreeMap<String, Pending>,
    audit: Vec<AuditEntry>,
    absent: HashSet<(String, String)>,
}

impl BatchWork {
    /// The context of a batch's jobs over `state`, at the clock's now.
    fn ctx<'a>(
        &'a mut self,
        state: &'a mut State,
        config: &WriterConfig,
        clock: &Clock,
    ) -> Ctx<'a> {
        Ctx {
            books: &mut state.books,
            catalogue: &mut state.catalogue,
            store: &mut state.store,
            now: clock.now(),
            control: config.control,
            changes: &mut self.changes,
            audit: &mut self.audit,
            outside_batch: false,
            absent: &mut self.absent,
            cluster: state.cluster.as_deref(),
            started: Instant::now(),
        }
    }
}

/// What a batch changed for one tenant, gathered until the commit.
#[derive(Default)]
struct Pending {
    directory: bool,
    changes: TenantChanges,
    /// Reservations put and dropped, the last state of each call id.
    holds: HoldChanges,
}

impl Ctx<'_> {
    fn pending(&mut self, tenant: &str) -> &mut Pending {
        self.changes
            .entry(tenant.to_string())
            .or_insert_with(|| Pending {
                directory: false,
                changes: TenantChanges {
                    tenant_id: tenant.to_string(),
                    ..TenantChanges::default()
                },
                holds: HoldChanges::default(),
            })
    }

    /// The tenant's directory changed (or the tenant is new): it is rewritten at commit.
    pub fn directory_changed(&mut self, tenant: &str) {
        self.pending(tenant).directory = true;
    }

    /// The tenant's wallet or pool may have changed: their state is written at commit.
    pub fn touched(&mut self, tenant: &str) {
        self.pending(tenant);
    }

    /// Journal entries and events of one operation.
    pub fn effects(&mut self, tenant: &str, effects: Effects) {
        let commit = &mut self.pending(tenant).changes.commit;
        commit.entries.extend(effects.entries);
        commit.events.extend(effects.events);
    }

    /// A call processed for the first time (charged or refused).
    pub fn call(&mut self, tenant: &str, record: CallRecord, outcome: Outcome) {
        let fingerprint = record.fingerprint();
        self.pending(tenant)
            .changes
            .commit
            .calls
            .push((record, fingerprint, outcome));
    }

    /// A rerate run: the calls it charged again (their new outcome) and its record.
    pub fn rerated(
        &mut self,
        tenant: &str,
        calls: Vec<(String, Outcome)>,
        run: minutely_store::RerateRun,
    ) {
        let commit = &mut self.pending(tenant).changes.commit;
        commit.rerated.extend(calls);
        commit.rerate_runs.push(run);
    }

    /// How many rerate runs of the tenant this batch holds, not yet committed.
    pub fn pending_rerate_runs(&self, tenant: &str) -> u64 {
        self.changes
            .get(tenant)
            .map_or(0, |p| p.changes.commit.rerate_runs.len() as u64)
    }

    /// Reservations created, changed or gone.
    pub fn holds(&mut self, tenant: &str, holds: HoldChanges) {
        if holds.is_empty() {
            return;
        }
        self.pending(tenant).holds.merge(holds);
    }

    /// The audit row of an administrative change this job made: it is committed with the
    /// batch, in the same transaction as the change (and rolls back with it). A job calls it
    /// only once its change is made (a job that fails records nothing). A change written
    /// outside the batch (`outside_batch`) writes its row itself, in its own transaction.
    pub fn audit(&mut self, entry: AuditEntry) {
        self.audit.push(entry);
    }

    /// A declared funding reference applied.
    pub fn funding_ref(&mut self, tenant: &str, reference: String) {
        self.pending(tenant)
            .changes
            .commit
            .funding_refs
            .push(reference);
    }

    /// True when a funding reference was already applied for the tenant: committed, or by an
    /// earlier job of this batch (two identical requests can share a batch).
    pub fn funding_ref_used(
        &mut self,
        tenant: &str,
        reference: &str,
    ) -> Result<bool, ServiceError> {
        let pending = self
            .changes
            .get(tenant)
            .is_some_and(|p| p.changes.commit.funding_refs.iter().any(|r| r == reference));
        if pending {
            return Ok(true);
        }
        Ok(self
            .store
            .funding_refs(tenant)?
            .iter()
            .any(|r| r == reference))
    }

    /// Funding references applied by earlier jobs of this batch, not yet committed.
    pub fn pending_funding_refs(&self, tenant: &str) -> Vec<String> {
        self.changes
            .get(tenant)
            .map(|p| p.changes.commit.funding_refs.clone())
            .unwrap_or_default()
    }

    /// The tenant's book, or `unknown_tenant` (404).
    pub fn book(&mut self, tenant: &str) -> Result<&mut TenantBook, ServiceError> {
        Ok(self.book_and_catalogue(tenant)?.0)
    }

    /// The tenant's book and the catalogue at once (to rate, or to check a change against the
    /// country table and amount rules), or `unknown_tenant` (404).
    pub fn book_and_catalogue(
        &mut self,
        tenant: &str,
    ) -> Result<(&mut TenantBook, &mut Catalogue), ServiceError> {
        self.may_serve(tenant)?;
        let book = self
            .books
            .get_mut(tenant)
            .ok_or_else(|| unknown_tenant(tenant))?;
        Ok((book, &mut *self.catalogue))
    }

    /// On a node of several, `unavailable` when this node held `tenant` and may not answer
    /// for it now (its lease could not be renewed in time, or another node took it).
    pub fn may_serve(&self, tenant: &str) -> Result<(), ServiceError> {
        match self.cluster.map(|c| c.may_serve(tenant, self.started)) {
            Some(Err(why)) => Err(ServiceError::unavailable(why)),
            _ => Ok(()),
        }
    }

    /// Makes sure `book.seen` knows these call ids' first results (C23): the ids of a batch at
    /// hand are looked up in the store, the rest of history stays on disk.
    pub fn load_seen(&mut self, tenant: &str, call_ids: &[&str]) -> Result<(), ServiceError> {
        let Some(book) = self.books.get_mut(tenant) else {
            return Err(unknown_tenant(tenant));
        };
        let absent = &*self.absent;
        let missing: Vec<&str> = call_ids
            .iter()
            .copied()
            .filter(|id| {
                !book.seen.contains_key(*id)
                    && !book.live().contains_key(id)
                    && !absent.contains(&(tenant.to_string(), id.to_string()))
            })
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let found = self.store.seen(tenant, &missing)?;
        for id in &missing {
            if !found.contains_key(*id) {
                self.absent.insert((tenant.to_string(), id.to_string()));
            }
        }
        book.seen.extend(found);
        Ok(())
    }
}

type Reply = Box<dyn FnOnce(Option<ServiceError>) + Send>;

/// A change of the tenants this node's writer holds (a node of several).
enum Own {
    /// Load the tenant (taken under `epoch`) and fence its commits at that epoch.
    Adopt { tenant: String, epoch: u64 },
    /// Drop the tenant: this node no longer holds it.
    Release { tenant: String },
}
type Job = Box<dyn FnOnce(&mut Ctx<'_>) -> Reply + Send>;

// A command travels by value, inline in its queue slot: boxing it would cost an allocation per
// call on the hot path (authorize, extend, end), for the sake of the rare `Tick` and `Stop`.
#[allow(clippy::large_enum_variant)]
enum Message {
    /// A use case, as data.
    Command(Command, oneshot::Sender<ServiceResult<Answer>>),
    Job(Job),
    /// Lapse reservations due (sent by a timer).
    Tick,
    /// Take or drop a tenant, once the batch it joined is committed.
    Own(Own, oneshot::Sender<ServiceResult<()>>),
    /// Commit what is applied and stop (graceful shutdown).
    Stop,
}

/// The handle requests use to reach the writer.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Message>,
}

/// Statistics the writer publishes.
pub fn record_batch(jobs: usize, commit: Duration) {
    metrics::histogram!("minutely_batch_jobs").record(jobs as f64);
    metrics::histogram!("minutely_commit_seconds").record(commit.as_secs_f64());
    metrics::counter!("minutely_commits_total").increment(1);
}

impl Writer {
    /// Carries `command` out in the writer; its answer (of the kind `A` asked) arrives once the
    /// batch it joined is durable.
    pub async fn execute<A: FromAnswer>(&self, command: Command) -> ServiceResult<A> {
        let (tx, rx) = oneshot::channel::<ServiceResult<Answer>>();
        let stopping = || ServiceError::unavailable("the server is shutting down");
        self.tx
            .send(Message::Command(command, tx))
            .await
            .map_err(|_| stopping())?;
        expect_answer(rx.await.map_err(|_| stopping())??)
    }

    /// Runs `job` in the writer; its answer arrives once the batch it joined is durable. The
    /// writes of the use cases are `Command`s (`execute`); a job is for what has no command
    /// yet.
    pub async fn run<T, F>(&self, job: F) -> ServiceResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Ctx<'_>) -> ServiceResult<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<ServiceResult<T>>();
        let job: Job = Box::new(move |ctx| {
            let result = job(ctx);
            Box::new(move |failure: Option<ServiceError>| {
                let answer = match failure {
                    Some(error) => Err(error),
                    None => result,
                };
                let _ = tx.send(answer);
            })
        });
        let stopping = || ServiceError::unavailable("the server is shutting down");
        self.tx
            .send(Message::Job(job))
            .await
            .map_err(|_| stopping())?;
        rx.await.map_err(|_| stopping())?
    }

    /// Runs `f` on the tenant's book in the writer, to read it; `unknown_tenant` when there is
    /// no such tenant.
    pub async fn with_book<T, F>(&self, tenant: &str, f: F) -> ServiceResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&TenantBook) -> ServiceResult<T> + Send + 'static,
    {
        let tenant = tenant.to_string();
        self.run(move |ctx| f(ctx.book(&tenant)?)).await
    }

    /// From a thread outside any runtime: loads `tenant`, taken under `epoch`, once the
    /// commands queued before are committed, and fences its commits at that epoch.
    pub fn adopt_blocking(&self, tenant: &str, epoch: u64) -> ServiceResult<()> {
        self.own_blocking(Own::Adopt {
            tenant: tenant.to_string(),
            epoch,
        })
    }

    /// From a thread outside any runtime: drops `tenant` once the commands queued before are
    /// committed (or refused, when its lease was lost).
    pub fn release_blocking(&self, tenant: &str) -> ServiceResult<()> {
        self.own_blocking(Own::Release {
            tenant: tenant.to_string(),
        })
    }

    fn own_blocking(&self, own: Own) -> ServiceResult<()> {
        let (tx, rx) = oneshot::channel();
        let stopping = || ServiceError::unavailable("the server is shutting down");
        self.tx
            .blocking_send(Message::Own(own, tx))
            .map_err(|_| stopping())?;
        rx.blocking_recv().map_err(|_| stopping())?
    }

    /// Asks the writer to lapse the reservations that are due.
    pub fn tick(&self) {
        let _ = self.tx.try_send(Message::Tick);
    }

    /// Asks the writer to commit the jobs queued before this and stop. Jobs sent later are
    /// answered `unavailable`, never acknowledged.
    pub async fn stop(&self) {
        let _ = self.tx.send(Message::Stop).await;
    }
}

/// Everything the writer owns.
pub struct State {
    pub books: BTreeMap<String, TenantBook>,
    pub catalogue: Catalogue,
    pub store: Store,
    /// When the live-reservations gauge was last published.
    live_gauge_at: Option<Instant>,
    /// What the store holds of each tenant's wallet, as this writer committed it.
    written: Written,
    /// On a node of several: the leases it holds (the writer holds only those tenants).
    cluster: Option<std::sync::Arc<Ownership>>,
}

/// How often the live-reservations gauge is brought up to date while batches commit.
const LIVE_GAUGE_EVERY: Duration = Duration::from_millis(200);

impl State {
    /// Loads every tenant from the store, checking C24 for each against its journal (the
    /// store refuses to load a tenant whose ledger does not add up).
    pub fn load(store: Store) -> anyhow::Result<State> {
        let catalogue = Catalogue::load(&store)?;
        let mut books = BTreeMap::new();
        for id in store.tenant_ids()? {
            let book = store
                .load_book(&id)?
                .ok_or_else(|| anyhow::anyhow!("tenant {id} vanished while loading"))?;
            book.wallet
                .check_invariant()
                .map_err(|e| anyhow::anyhow!("tenant {id}: {e}"))?;
            books.insert(id, book);
        }
        Ok(State {
            books,
            catalogue,
            store,
            live_gauge_at: None,
            written: Written::default(),
            cluster: None,
        })
    }

    /// The state of a node of several: the catalogue, and no tenant until the node takes its
    /// lease (`Writer::adopt_blocking`); every commit fenced by the tenants' epochs.
    pub fn for_node(
        mut store: Store,
        ownership: std::sync::Arc<Ownership>,
    ) -> anyhow::Result<State> {
        store.fence_as(&ownership.incarnation)?;
        let quarter = ownership.config.lease / 4;
        store.bound_session(quarter, quarter, std::time::Duration::ZERO)?;
        Ok(State {
            books: BTreeMap::new(),
            catalogue: Catalogue::load(&store)?,
            store,
            live_gauge_at: None,
            written: Written::default(),
            cluster: Some(ownership),
        })
    }
}

impl Catalogue {
    /// The catalogue as stored: countries, every currency's rate card, the amount rules.
    pub fn load(store: &Store) -> Result<Catalogue, minutely_store::StoreError> {
        let countries = store.countries()?;
        let mut cards = HashMap::new();
        for currency in store.currencies()? {
            cards.insert(currency, store.rate_card(currency)?);
        }
        Ok(Catalogue {
            countries,
            cards,
            rules: store.amount_rules()?,
            plan: None,
        })
    }
}

/// Reads the catalogue and the guard's operator part again (another node changed them), and
/// gives every tenant's guard the operator part as now stored.
pub fn reload_catalogue(ctx: &mut Ctx<'_>) -> ServiceResult<()> {
    *ctx.catalogue = Catalogue::load(ctx.store)?;
    ctx.store.forget_guard_operator();
    let operator = ctx.store.guard_operator()?;
    for book in ctx.books.values_mut() {
        book.guard.operator = std::sync::Arc::clone(&operator);
    }
    Ok(())
}

/// Starts the writer thread. It stops once every `Writer` handle is dropped and the queue is
/// drained; join the returned handle to wait for the last commit.
pub fn start(
    state: State,
    config: WriterConfig,
    clock: Clock,
    committed: Option<tokio::sync::watch::Sender<u64>>,
) -> (Writer, std::thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(config.queue.max(1));
    let handle = std::thread::Builder::new()
        .name("minutely-writer".into())
        .spawn(move || {
            let mut state = state;
            // The server's writer lives long and commits often: its commits leave the WAL's
            // checkpoints to a thread of their own. (One-shot commands keep SQLite's own.)
            if let Err(e) = state.store.checkpoint_in_background() {
                tracing::warn!(error = %e, "checkpoints stay inside commits");
            }
            writer_loop(state, rx, config, clock, committed)
        })
        .expect("the writer thread starts");
    (Writer { tx }, handle)
}

/// Carries `command` out as the writer would, in the caller's thread, on `state` (which the
/// caller loaded with the store's owner lock held: the command line, with no server running).
/// With `durable` the command's batch is committed exactly as a server commits it; without, it
/// is applied in memory only (a dry run: the store is left as it was, and C24 is still checked
/// on what the command changed). `state` is consumed so that memory which ran ahead of the
/// disk is never used again.
pub fn execute_once(
    mut state: State,
    config: &WriterConfig,
    clock: &Clock,
    command: Command,
    durable: bool,
) -> ServiceResult<Answer> {
    if durable {
        let (tx, mut rx) = oneshot::channel();
        let mut batch = vec![Message::Command(command, tx)];
        apply_batch(&mut state, &mut batch, config, clock);
        return rx.try_recv().map_err(|_| {
            ServiceError::internal("the writer gave no answer to a command it carried out")
        })?;
    }
    let mut work = BatchWork::default();
    let mut ctx = work.ctx(&mut state, config, clock);
    let answer = guarded(|| command.execute(&mut ctx));
    // The same checks as before a commit (C24 on every wallet changed), with nothing written.
    changes_of(&state.books, &state.written, work.changes);
    answer
}

fn writer_loop(
    mut state: State,
    mut rx: mpsc::Receiver<Message>,
    config: WriterConfig,
    clock: Clock,
    committed: Option<tokio::sync::watch::Sender<u64>>,
) {
    let mut batches: u64 = 0;
    let mut batch: Vec<Message> = Vec::with_capacity(config.max_batch);
    let mut stopping = false;
    while !stopping {
        let Some(first) = rx.blocking_recv() else {
            break;
        };
        batch.push(first);
        while batch.len() < config.max_batch {
            match rx.try_recv() {
                Ok(message) => batch.push(message),
                Err(_) => break,
            }
        }
        if let Some(at) = batch.iter().position(|m| matches!(m, Message::Stop)) {
            // Whatever was queued after the stop is dropped unanswered (its callers see
            // `unavailable`); nothing of it was applied.
            batch.truncate(at);
            stopping = true;
        }
        let jobs = batch.len();
        let started = Instant::now();
        apply_batch(&mut state, &mut batch, &config, &clock);
        record_batch(jobs, started.elapsed());
        batches += 1;
        if let Some(tx) = &committed {
            let _ = tx.send(batches);
        }
    }
    rx.close();
    tracing::info!(batches, "writer stopped: queue drained");
}

fn apply_batch(state: &mut State, batch: &mut Vec<Message>, config: &WriterConfig, clock: &Clock) {
    let mut work = BatchWork::default();
    let mut replies: Vec<Reply> = Vec::with_capacity(batch.len());
    let mut owns = Vec::new();
    let mut ctx = work.ctx(state, config, clock);
    for message in batch.drain(..) {
        match message {
            Message::Command(command, tx) => {
                let result = guarded(|| command.execute(&mut ctx));
                replies.push(Box::new(move |failure: Option<ServiceError>| {
                    let _ = tx.send(match failure {
                        Some(error) => Err(error),
                        None => result,
                    });
                }));
            }
            Message::Job(job) => replies.push(guarded(|| job(&mut ctx))),
            Message::Tick => expire_all(&mut ctx),
            Message::Own(own, tx) => owns.push((own, tx)),
            Message::Stop => {}
        }
    }
    let (tenant_changes, stored) = changes_of(&state.books, &state.written, work.changes);
    let failure = if tenant_changes.is_empty() && work.audit.is_empty() {
        None
    } else {
        commit(state, &tenant_changes, &work.audit)
    };
    if failure.is_none() {
        for (c, stored) in tenant_changes.iter().zip(stored) {
            state.written.committed(&c.tenant_id, stored);
        }
    }
    // C23 needs only the ids of the batch at hand in memory: the rest is on disk.
    for c in &tenant_changes {
        if let Some(book) = state.books.get_mut(&c.tenant_id) {
            book.seen.clear();
        }
    }
    for reply in replies {
        reply(failure.clone());
    }
    publish(state, &tenant_changes);
    for (own, tx) in owns {
        let _ = tx.send(apply_own(state, own));
    }
}

/// Takes or drops a tenant on a node of several (after the batch's commit).
fn apply_own(state: &mut State, own: Own) -> ServiceResult<()> {
    match own {
        Own::Adopt { tenant, epoch } => {
            state.written.forget(&tenant);
            state.store.fence_tenant(&tenant, Some(epoch));
            let loaded = state.store.load_book(&tenant).map_err(ServiceError::from);
            match loaded {
                Ok(Some(book)) => {
                    if let Err(e) = book.wallet.check_invariant() {
                        state.store.fence_tenant(&tenant, None);
                        return Err(ServiceError::internal(format!("tenant {tenant}: {e}")));
                    }
                    state.books.insert(tenant, book);
                }
                Ok(None) => {
                    state.books.remove(&tenant);
                }
                Err(e) => {
                    state.store.fence_tenant(&tenant, None);
                    state.books.remove(&tenant);
                    return Err(e);
                }
            }
            Ok(())
        }
        Own::Release { tenant } => {
            state.store.fence_tenant(&tenant, None);
            state.written.forget(&tenant);
            state.books.remove(&tenant);
            Ok(())
        }
    }
}

/// What the batch changed, tenant by tenant, as the store writes it, with the fingerprints of
/// each tenant's wallet and scheduled fundings once written. C24 is checked on every wallet
/// touched: a ledger that does not add up is never made durable (the process stops and the
/// restart rebuilds from what was committed). The wallet and the scheduled fundings are left
/// out when the store already holds exactly them (`written`); never with journal entries, nor
/// for a tenant whose directory is written.
fn changes_of(
    books: &BTreeMap<String, TenantBook>,
    written: &Written,
    changes: BTreeMap<String, Pending>,
) -> (Vec<TenantChanges>, Vec<Stored>) {
    changes
        .into_iter()
        .filter_map(|(id, pending)| {
            let book = books.get(&id)?;
            if let Err(e) = book.wallet.check_invariant() {
                tracing::error!(tenant = %id, error = %e, "C24 broken in memory; stopping");
                std::process::abort();
            }
            let known = if pending.directory {
                None
            } else {
                written.get(&id)
            };
            let mut c = pending.changes;
            c.reservations_put = pending.holds.put;
            c.reservations_drop = pending.holds.dropped;
            if pending.directory {
                c.directory = Some(book.tenant.clone());
            }
            let wallet = book.wallet.snapshot();
            let stored = Stored::of(&wallet, &book.scheduled);
            let same = |of: fn(&Stored) -> u128| known.as_ref().map(of) == Some(of(&stored));
            if !same(|s| s.wallet) || !c.commit.entries.is_empty() {
                c.wallet = Some(wallet);
            }
            if !same(|s| s.scheduled) {
                c.scheduled = Some(book.scheduled.clone());
            }
            c.pool = book.pool_used.clone();
            if book.guard.is_on() {
                c.guard_state = Some(minutely_store::guard_image::to_bytes(&book.guard.state));
            }
            Some((c, stored))
        })
        .unzip()
}

/// Commits the batch in one transaction; when that fails, reloads the tenants it touched (memory
/// never runs ahead of the disk) and answers every caller `unavailable`.
fn commit(
    state: &mut State,
    tenant_changes: &[TenantChanges],
    audit: &[AuditEntry],
) -> Option<ServiceError> {
    let error = state
        .store
        .commit_batch_audited(tenant_changes, audit)
        .err()?;
    tracing::error!(%error, "batch commit failed; reloading the tenants it touched");
    if let minutely_store::StoreError::Fenced { tenant } = &error {
        // Another node took the tenant: this node drops it and stops answering for it.
        state.store.fence_tenant(tenant, None);
        state.written.forget(tenant);
        state.books.remove(tenant);
        if let Some(cluster) = &state.cluster {
            cluster.let_go(tenant, true);
        }
    }
    let fenced = match &error {
        minutely_store::StoreError::Fenced { tenant } => Some(tenant.clone()),
        _ => None,
    };
    for c in tenant_changes
        .iter()
        .filter(|c| Some(&c.tenant_id) != fenced.as_ref())
    {
        state.written.forget(&c.tenant_id);
        match reload(&state.store, &c.tenant_id) {
            Some(book) => {
                state.books.insert(c.tenant_id.clone(), book);
            }
            None => {
                state.books.remove(&c.tenant_id);
            }
        }
    }
    Some(ServiceError::unavailable(
        "the change could not be made durable; nothing was changed, try again",
    ))
}

/// How long a reload after a failed commit waits for a store it cannot reach (a database
/// restarting) before the process stops.
const RELOAD_PATIENCE: Duration = Duration::from_secs(60);

/// A tenant as stored (`None`: not stored), read again after a failed commit. A store that
/// cannot be reached is tried again, with pauses growing to a second, for `RELOAD_PATIENCE`:
/// the writer waits, and so do the requests queued behind it. Past that, or on any other
/// error, the process stops: memory must never run ahead of the disk, and a restart rebuilds
/// every tenant from what was committed.
fn reload(store: &Store, tenant: &str) -> Option<TenantBook> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(50);
    loop {
        match store.load_book(tenant) {
            Ok(book) => return book,
            Err(error) if error.is_unreachable() && started.elapsed() < RELOAD_PATIENCE => {
                tracing::warn!(%error, tenant, "the store cannot be reached; trying again");
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_secs(1));
            }
            Err(error) => {
                tracing::error!(%error, tenant, "cannot reload a tenant after a failed commit; stopping");
                std::process::abort();
            }
        }
    }
}

/// The gauges of live reservations and of the balances the batch touched.
fn publish(state: &mut State, tenant_changes: &[TenantChanges]) {
    // Summing every tenant's holds costs a walk over all tenants: at most every 200 ms.
    if state
        .live_gauge_at
        .is_none_or(|at| at.elapsed() >= LIVE_GAUGE_EVERY)
    {
        let live: usize = state.books.values().map(|b| b.live().holds().live()).sum();
        metrics::gauge!("minutely_live_reservations").set(live as f64);
        state.live_gauge_at = Some(Instant::now());
    }
    for c in tenant_changes {
        if let Some(book) = state.books.get(&c.tenant_id) {
            metrics::gauge!("minutely_wallet_balance", "tenant" => c.tenant_id.clone())
                .set(decimal_gauge(book.wallet.balance()));
        }
    }
}

/// Runs one command or job of a batch. A panic here means an invariant broke (C24 is asserted
/// in the core): a wrong balance is worse than a crash, so the process stops and the restart
/// rebuilds from what was committed.
fn guarded<T>(f: impl FnOnce() -> T) -> T {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(out) => out,
        Err(_) => {
            tracing::error!("a job panicked in the writer; stopping");
            std::process::abort();
        }
    }
}

/// A balance as a gauge value (metrics are floats; money is never computed from them).
fn decimal_gauge(d: rust_decimal::Decimal) -> f64 {
    d.to_string().parse().unwrap_or(0.0)
}

/// C27: lapses every reservation that is due, in every tenant.
fn expire_all(ctx: &mut Ctx<'_>) {
    let now = ctx.now;
    let ids: Vec<String> = ctx.books.keys().cloned().collect();
    for id in ids {
        if ctx.may_serve(&id).is_err() {
            // A tenant whose lease is in doubt is left to the node that holds it.
            continue;
        }
        let changes = ctx.books.get_mut(&id).expect("listed").expire(now);
        if !changes.is_empty() {
            ctx.holds(&id, changes);
        }
    }
}
