//! Ingesting call records: each record rated against the tenant's book in canonical order
//! (C22), idempotently (C23). One rule decides what is stored, for the API, the call-control
//! end report and the command line alike: a first result is stored; a replay, or a reused id
//! (answered `call_id_reused`, never stored), changes nothing and the first submission stays
//! the record.

use crate::error::ServiceResult;
use crate::writer::Ctx;
use minutely_core::Reason;
use minutely_core::engine::{Mode, Outcome, Processed, canonical_cmp};
use minutely_core::money::Currency;
use minutely_core::rating::CallRecord;

/// True when a processed call's result is to be stored: a first result, not a replay and not a
/// refused reuse of an id (C23).
pub fn is_stored(processed: &Processed) -> bool {
    !processed.replay && processed.outcome.reason() != Some(Reason::CallIdReused)
}

/// One record's answer, in the order the records were given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    pub call_id: String,
    pub outcome: Outcome,
    /// True when the id was seen with the same content: `outcome` is the first result.
    pub replay: bool,
}

/// Rates a batch of records for `tenant` in the writer: in canonical order (C22, C37: within
/// one batch the first record in that order is the first submission), every id looked up in
/// the store at once (C23). Returns each record's answer in the order given, and the tenant's
/// currency.
pub fn ingest_in_writer(
    ctx: &mut Ctx<'_>,
    tenant: &str,
    records: Vec<CallRecord>,
) -> ServiceResult<(Vec<Ingested>, Currency)> {
    let mut order: Vec<usize> = (0..records.len()).collect();
    order.sort_by(|&a, &b| canonical_cmp(&records[a], &records[b]));
    let ids: Vec<&str> = records.iter().map(|r| r.call_id.as_str()).collect();
    ctx.load_seen(tenant, &ids)?;
    let (book, catalogue) = ctx.book_and_catalogue(tenant)?;
    let currency = book.tenant.currency;
    // The core refuses a record carrying a live call's id (C23, C27).
    let all_processed: Vec<Processed> = catalogue.with_rater(currency, |rater| {
        order
            .iter()
            .map(|&i| book.process_call(rater, &records[i], Mode::Bulk))
            .collect()
    });
    ctx.touched(tenant);
    let mut answers: Vec<Option<Ingested>> = vec![None; records.len()];
    for (&i, processed) in order.iter().zip(all_processed) {
        let call = &records[i];
        answers[i] = Some(Ingested {
            call_id: call.call_id.clone(),
            outcome: processed.outcome.clone(),
            replay: processed.replay,
        });
        if is_stored(&processed) {
            ctx.call(tenant, call.clone(), processed.outcome);
        }
        ctx.effects(tenant, processed.effects);
    }
    let answers = answers
        .into_iter()
        .map(|a| a.expect("every record has an answer"))
        .collect();
    Ok((answers, currency))
}
