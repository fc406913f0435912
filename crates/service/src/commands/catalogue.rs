//! The operator's catalogue writes, as commands: the country table, a currency's rate card and
//! the license prices of the plan advisor.
//!
//! Each is written with its audit row in a transaction of its own, in the middle of the batch
//! it joined (`Ctx::outside_batch`): the batch's commit (`Store::commit_batch_audited`) writes
//! tenants' changes and audit rows only, and an import's answer (what was added, or a version
//! conflict) is the store's to give from within its own transaction.

use crate::audit::{Actor, countries_snapshots, rate_card_snapshot};
use crate::commands::{Answer, FromAnswer};
use crate::error::{ServiceError, ServiceResult};
use crate::writer::Ctx;
use minutely_core::advisor::LicensePrices;
use minutely_core::catalogue::{CountryTable, RateCard};
use minutely_store::{ImportSummary, StoreError};

/// A write of the catalogue.
pub enum CatalogueCommand {
    /// Replace the country table (the same table again records nothing).
    ReplaceCountries {
        actor: Actor,
        table: Box<CountryTable>,
    },
    /// Import a currency's rate card: its new versions are added, the known ones must be the
    /// same (`conflict` otherwise).
    ImportRateCard {
        actor: Actor,
        card: Box<RateCard>,
        /// A version with the same `effective_from` and other entries replaces the stored one
        /// (a corrected version, before a rerate) instead of refusing the import.
        replace: bool,
    },
    /// Set the license prices of a currency; `picture` is how the audit rows show them.
    SetLicensePrices {
        actor: Actor,
        prices: LicensePrices,
        picture: fn(&LicensePrices) -> String,
    },
}

/// What a catalogue command did.
#[derive(Debug, Clone)]
pub enum CatalogueAnswer {
    CountriesReplaced,
    RateCardImported(ImportSummary),
    /// The prices as stored.
    LicensePrices(LicensePrices),
}

impl CatalogueCommand {
    /// Carries the command out in the writer.
    pub fn execute(self, ctx: &mut Ctx<'_>) -> ServiceResult<CatalogueAnswer> {
        match self {
            CatalogueCommand::ReplaceCountries { actor, table } => {
                replace_countries(ctx, &actor, *table)
            }
            CatalogueCommand::ImportRateCard {
                actor,
                card,
                replace,
            } => import_rate_card(ctx, &actor, &card, replace),
            CatalogueCommand::SetLicensePrices {
                actor,
                prices,
                picture,
            } => set_license_prices(ctx, &actor, prices, picture),
        }
    }
}

fn replace_countries(
    ctx: &mut Ctx<'_>,
    actor: &Actor,
    table: CountryTable,
) -> ServiceResult<CatalogueAnswer> {
    // The same table again changes nothing, and records nothing.
    let changed = ctx.catalogue.countries != table;
    let (before, after) = countries_snapshots(&ctx.catalogue.countries, &table);
    let entry = actor.entry(
        ctx.now,
        None,
        "countries.replace",
        "countries",
        Some(before),
        Some(after),
    );
    ctx.store.atomically(|store| {
        store.replace_countries(&table)?;
        if changed {
            store.append_audit(&[entry])?;
        }
        Ok::<_, StoreError>(())
    })?;
    ctx.outside_batch = true;
    ctx.catalogue.countries = table;
    Ok(CatalogueAnswer::CountriesReplaced)
}

fn import_rate_card(
    ctx: &mut Ctx<'_>,
    actor: &Actor,
    card: &RateCard,
    replace: bool,
) -> ServiceResult<CatalogueAnswer> {
    let (now, currency) = (ctx.now, card.currency);
    let (summary, stored) = ctx.store.atomically(|store| {
        let before = store.rate_card(currency)?;
        let imported = if replace {
            store.replace_rate_versions(card)
        } else {
            store.import_rate_card(card)
        };
        let summary = imported.map_err(|e| match e {
            StoreError::VersionConflict { .. } => ServiceError::conflict(e.to_string()),
            other => ServiceError::from(other),
        })?;
        if summary.added.is_empty() && summary.replaced.is_empty() {
            // Nothing new: no change, no row.
            return Ok((summary, None));
        }
        let stored = store.rate_card(currency)?;
        store.append_audit(&[actor.entry(
            now,
            None,
            "rate_card.import",
            currency.code(),
            Some(rate_card_snapshot(&before)),
            Some(rate_card_snapshot(&stored)),
        )])?;
        Ok::<_, ServiceError>((summary, Some(stored)))
    })?;
    ctx.outside_batch = true;
    if let Some(stored) = stored {
        // The store holds every version now; rating uses the card as stored.
        ctx.catalogue.cards.insert(currency, stored);
    }
    Ok(CatalogueAnswer::RateCardImported(summary))
}

fn set_license_prices(
    ctx: &mut Ctx<'_>,
    actor: &Actor,
    prices: LicensePrices,
    picture: fn(&LicensePrices) -> String,
) -> ServiceResult<CatalogueAnswer> {
    let (now, currency) = (ctx.now, prices.currency);
    ctx.store.atomically(|store| {
        let before = store.license_prices_of(currency)?;
        if before == prices {
            // The same prices again change nothing and record nothing.
            return Ok::<_, StoreError>(());
        }
        store.set_license_prices(&prices)?;
        store.append_audit(&[actor.entry(
            now,
            None,
            "license_prices.set",
            currency.code(),
            Some(picture(&before)),
            Some(picture(&prices)),
        )])
    })?;
    ctx.outside_batch = true;
    let stored = ctx.store.license_prices_of(currency)?;
    Ok(CatalogueAnswer::LicensePrices(stored))
}

impl FromAnswer for ImportSummary {
    fn from_answer(answer: Answer) -> Option<ImportSummary> {
        match answer {
            Answer::Catalogue(CatalogueAnswer::RateCardImported(s)) => Some(s),
            _ => None,
        }
    }
}

impl FromAnswer for LicensePrices {
    fn from_answer(answer: Answer) -> Option<LicensePrices> {
        match answer {
            Answer::Catalogue(CatalogueAnswer::LicensePrices(p)) => Some(p),
            _ => None,
        }
    }
}

impl FromAnswer for CatalogueAnswer {
    fn from_answer(answer: Answer) -> Option<CatalogueAnswer> {
        match answer {
            Answer::Catalogue(a) => Some(a),
            _ => None,
        }
    }
}
