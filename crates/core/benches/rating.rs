//! Rating alone, without files: `cargo bench -p minutely-core --bench rating`.
//!
//! A rate card of a few thousand dial-out prefixes, the fixture tenant of the tests, and a mix of
//! dial-in and dial-out calls; measures the prefix lookup, the assessment (every refusal check
//! and the rate) and the whole charge (pool, wallet, journal entry).

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use minutely_core::catalogue::{RateCard, RateEntry, RateKey, RateKind};
use minutely_core::engine::Mode;
use minutely_core::numbers::{E164, region_facts};
use minutely_core::rating::{CallRecord, Rater};
use minutely_testkit::charging::*;
use rust_decimal::Decimal;
use std::hint::black_box;

/// The fixture card plus `extra` longer prefixes spread over the countries of the table.
fn big_card(extra: usize) -> RateCard {
    let mut rows: Vec<(usize, RateEntry)> = std_card().entries().cloned().enumerate().collect();
    let template = rows[0].1.clone();
    let codes: Vec<(u16, minutely_core::numbers::Country)> = countries()
        .rows()
        .filter_map(|r| region_facts(r.country).map(|f| (f.calling_code, r.country)))
        .filter(|(code, _)| *code != 1)
        .collect();
    let mut seen: std::collections::HashSet<String> = rows
        .iter()
        .filter_map(|(_, e)| match &e.key {
            RateKey::Prefix(p) => Some(p.clone()),
            RateKey::Country(_) => None,
        })
        .collect();
    let mut n = 0u64;
    while rows.len() < extra {
        n += 1;
        let (code, country) = codes[(n * 7919 % codes.len() as u64) as usize];
        let prefix = format!("{code}{}", 10 + n % 990);
        if !seen.insert(prefix.clone()) {
            continue;
        }
        let entry = RateEntry {
            kind: RateKind::DialOut,
            key: RateKey::Prefix(prefix),
            country,
            rate_per_minute: Decimal::new(100 + (n % 900) as i64, 4),
            ..template.clone()
        };
        rows.push((rows.len() + 2, entry));
    }
    RateCard::build(template_currency(), rows).expect("a valid card")
}

fn template_currency() -> minutely_core::money::Currency {
    currency("EUR")
}

/// A mix of calls over the fixture tenant's users and numbers.
fn calls(count: usize) -> Vec<CallRecord> {
    let destinations = [
        FR_FIXED, FR_MOBILE, GB_NUM, DE_NUM, IT_NUM, JP_NUM, US_NUM, AE_NUM,
    ];
    let organizers = [SUB, PPM, ADDON, ZONEA];
    (0..count)
        .map(|i| {
            let start = format!("2026-01-{:02}T{:02}:{:02}:00Z", 5 + i % 20, i % 24, i % 60);
            let seconds = (i as i64 * 37) % 3600;
            let id = format!("call-{i:08}");
            match i % 4 {
                0 => dial_in(&id, organizers[i % 4], FR_TOLL, FR_FIXED, &start, seconds),
                1 => dial_in(&id, PPM, FR_TOLL_FREE, GB_NUM, &start, seconds),
                _ => dial_out(
                    &id,
                    organizers[i % 4],
                    destinations[i % destinations.len()],
                    &start,
                    seconds,
                ),
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let card = big_card(4000);
    let version = card
        .version_at(ts("2026-01-10T00:00:00Z"))
        .expect("a version in force");
    let numbers: Vec<E164> = [FR_MOBILE, GB_NUM, DE_NUM, JP_NUM, US_NUM]
        .iter()
        .map(|n| e164(n))
        .collect();
    let mut group = c.benchmark_group("rating");
    group.throughput(Throughput::Elements(numbers.len() as u64));
    group.bench_function("dial_out prefix lookup (4000 prefixes)", |b| {
        b.iter(|| {
            numbers
                .iter()
                .map(|n| version.dial_out(*n).is_some() as u32)
                .sum::<u32>()
        })
    });
    let batch = calls(10_000);
    group.throughput(Throughput::Elements(batch.len() as u64));
    let tenant = std_fx().build();
    group.bench_function("assess 10k calls", |b| {
        let mut rater = Rater::new(countries(), &card);
        b.iter(|| {
            batch
                .iter()
                .filter(|call| rater.assess(&tenant, black_box(call)).is_ok())
                .count()
        })
    });
    group.bench_function("charge 10k calls (bulk)", |b| {
        b.iter_batched(
            || std_fx().book(),
            |mut book| {
                let mut rater = Rater::new(countries(), &card);
                for call in &batch {
                    black_box(book.process_new(&mut rater, call, Mode::Bulk));
                }
                book
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
