//! `minutely-tools gen ...`: realistic sample data for tests, demos and benchmarks (the
//! generators themselves are `minutely_cli::generate`, which `minutely demo` and `minutely serve
//! --demo` use too). Deterministic: the same arguments and seed always give the same bytes.

use anyhow::{Context, Result};
use clap::Subcommand;
use minutely_cli::generate::{CallSpec, generate_calls, sample_rates};
use minutely_cli::output::{emit, read_file};
use minutely_core::money::Currency;
use minutely_formats::{countries, instant};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum GenCommand {
    /// Call records for the tenant of a tenant file: dial-in to its toll and toll-free numbers
    /// and dial-out to many countries, with a long tail of durations.
    ///
    /// Example: minutely-tools gen calls --tenant-file examples/tenant.toml --count 100000 --seed 7 > calls.csv
    Calls {
        #[arg(long)]
        tenant_file: PathBuf,
        #[arg(long)]
        count: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The first call's start (RFC 3339).
        #[arg(long, default_value = "2026-01-05T00:00:00Z")]
        start: String,
        /// Days the calls spread over.
        #[arg(long, default_value_t = 28)]
        days: u32,
        /// Distinct external numbers (callers and destinations) to draw from.
        #[arg(long, default_value_t = 20000)]
        population: usize,
        /// Write to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// A sample rate card (SAMPLE PRICES, not a tariff) covering every country of the country
    /// table: dial-out fixed and mobile prefixes, premium prefixes, toll and toll-free dial-in.
    ///
    /// Example: minutely-tools gen rates --currency USD > rates.csv
    Rates {
        #[arg(long)]
        currency: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Extra, longer dial-out prefixes to add (for rate cards of thousands of prefixes).
        #[arg(long, default_value_t = 0)]
        extra_prefixes: usize,
        /// When the card takes effect (RFC 3339).
        #[arg(long, default_value = "2025-01-01T00:00:00Z")]
        effective_from: String,
    },
    /// A valid tenant file of many users (for load benchmarks): pay-per-minute and per-user
    /// subscription users, service numbers, a wallet and its past fundings.
    ///
    /// Example: minutely-tools gen tenant --users 100000 --seed 1 > big-tenant.toml
    Tenant {
        #[arg(long)]
        users: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

pub fn run(command: GenCommand) -> Result<()> {
    match command {
        GenCommand::Calls {
            tenant_file,
            count,
            seed,
            start,
            days,
            population,
            out,
        } => {
            let start = instant::parse(&start).map_err(anyhow::Error::msg)?;
            let text = String::from_utf8(read_file(&tenant_file)?)
                .context("the tenant file is not UTF-8")?;
            let spec = CallSpec {
                count,
                seed,
                start,
                days,
                population,
            };
            match out {
                Some(path) => {
                    let file = std::fs::File::create(&path)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    generate_calls(&text, &spec, &mut std::io::BufWriter::new(file))
                }
                None => generate_calls(&text, &spec, &mut std::io::stdout().lock()),
            }
        }
        GenCommand::Rates {
            currency,
            seed,
            extra_prefixes,
            effective_from,
        } => {
            let currency = Currency::parse(&currency)?;
            let at = instant::parse(&effective_from).map_err(anyhow::Error::msg)?;
            emit(&sample_rates(
                &countries::shipped(),
                currency,
                seed,
                extra_prefixes,
                at,
            ))
        }
        GenCommand::Tenant { users, seed } => emit(&tenant_file(users, seed)),
    }
}

/// A small deterministic generator (SplitMix64), so that the same seed gives the same file.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const FIRST_NAMES: [&str; 12] = [
    "ana", "bruno", "chloe", "david", "emma", "farid", "greta", "hugo", "ines", "jonas", "kenji",
    "lea",
];
const LAST_NAMES: [&str; 10] = [
    "silva", "martin", "bernard", "roux", "petit", "haddad", "berg", "moreau", "costa", "sato",
];
const LOCATIONS: [&str; 7] = ["FR", "FR", "DE", "GB", "US", "PT", "ES"];
const POLICIES: [&str; 3] = [
    "Global",
    "DialoutCPCandPSTNDomestic",
    "DialoutCPCZoneAPSTNDomestic",
];

/// The text of a valid tenant file of `users` users (French, euros, volume licensing). About
/// two users in three hold pay-per-minute and the others the subscription (half of them with
/// Communications Credits); some have their own usage location or dial-out policy. The service
/// numbers are those of the benchmark tenant; there is one declared funding per 1,000 users.
pub fn tenant_file(users: usize, seed: u64) -> String {
    use std::fmt::Write;
    let mut mix = Mix(seed);
    let mut plans = Vec::with_capacity(users);
    let mut counts = [0usize; 3];
    for _ in 0..users {
        let plan = match mix.next() % 6 {
            0 => 1,
            1 => 2,
            _ => 0,
        };
        counts[plan] += 1;
        plans.push(plan);
    }
    let (ppm, subscription, credits) = (counts[0], counts[1] + counts[2], counts[2]);
    let mut text = format!(
        "# Generated by `minutely-tools gen tenant --users {users} --seed {seed}`.\n\n\
         id = \"generated\"\nname = \"Generated SA\"\ncountry = \"FR\"\ncurrency = \"EUR\"\n\
         timezone = \"Europe/Paris\"\nagreement = \"volume_licensing\"\n\
         default_dial_out_policy = \"Global\"\n\n[licenses]\nMCOMEETACPEA = {ppm}\n\
         MCOMEETADD = {subscription}\nMCOPSTNPP = {credits}\n\n[wallet]\n\
         low_balance_thresholds = [500, 100]\n"
    );
    for i in 0..users / 1000 + 1 {
        let amount = 100 * (1 + mix.next() % 50);
        let day = 1 + i % 28;
        let _ = write!(
            text,
            "\n[[wallet.fundings]]\nreference = \"GEN-{i:06}\"\namount = {amount}\n\
             at = \"2025-12-{day:02}T09:00:00Z\"\n"
        );
    }
    for (number, kind, extra) in [
        (
            "+33 1 86 95 00 00",
            "toll",
            "shared = true\nbridge_default = true\n",
        ),
        ("+44 20 7946 0000", "toll", ""),
        ("+49 30 901820", "toll", ""),
        ("+1 212 555 0199", "toll", ""),
        ("+33 805 98 00 00", "toll_free", ""),
        ("+44 800 098 0000", "toll_free", ""),
    ] {
        let _ = write!(
            text,
            "\n[[numbers]]\nnumber = \"{number}\"\nkind = \"{kind}\"\n{extra}"
        );
    }
    for (i, plan) in plans.into_iter().enumerate() {
        write_user(&mut text, &mut mix, i, plan);
    }
    text
}

/// One `[[users]]` table: plan 0 is pay-per-minute, 1 the subscription, 2 the subscription with
/// Communications Credits.
fn write_user(text: &mut String, mix: &mut Mix, i: usize, plan: usize) {
    use std::fmt::Write;
    let (first, last) = (mix.pick(&FIRST_NAMES), mix.pick(&LAST_NAMES));
    let licenses = match plan {
        0 => "\"MCOMEETACPEA\"",
        1 => "\"MCOMEETADD\"",
        _ => "\"MCOMEETADD\", \"MCOPSTNPP\"",
    };
    let _ = write!(
        text,
        "\n[[users]]\nupn = \"{first}.{last}.{i}@generated.example\"\n\
         display_name = \"{} {}\"\nlicenses = [{licenses}]\n",
        capitalized(first),
        capitalized(last)
    );
    if mix.next().is_multiple_of(4) {
        let _ = writeln!(text, "usage_location = \"{}\"", mix.pick(&LOCATIONS));
    }
    if mix.next().is_multiple_of(8) {
        let _ = writeln!(text, "dial_out_policy = \"{}\"", mix.pick(&POLICIES));
    }
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_ascii_uppercase().to_string() + chars.as_str()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use minutely_core::directory::{AmountRules, Sku};
    use minutely_core::numbers::{E164, NumberPlan, PlanAnswer, PlanCache};
    use minutely_formats::tenant_file::{TenantFile, apply};
    use std::collections::BTreeSet;

    fn load(text: &str) -> minutely_formats::tenant_file::Applied {
        let file = TenantFile::parse(text).expect("a generated tenant file parses");
        apply(
            &file,
            None,
            &countries::shipped(),
            &AmountRules::default(),
            &BTreeSet::new(),
        )
        .expect("a generated tenant file applies")
    }

    #[test]
    fn a_generated_tenant_file_is_deterministic_and_applies() {
        assert_eq!(tenant_file(50, 3), tenant_file(50, 3));
        assert_ne!(tenant_file(50, 3), tenant_file(50, 4));
        let applied = load(&tenant_file(50, 3));
        let tenant = &applied.book.tenant;
        assert_eq!(tenant.users().count(), 50);
        assert_eq!(tenant.numbers().count(), 6);
        assert_eq!(applied.funding_refs.len(), 1);
        for sku in [Sku::PayPerMinute, Sku::Subscription, Sku::Credits] {
            assert!(tenant.assigned(sku) > 0, "{sku:?}");
            assert_eq!(tenant.assigned(sku), tenant.purchases().current(sku));
        }
    }

    /// Generated files of several seeds and sizes are read by the tenant file's fast reader,
    /// which gives the very value the `toml` crate gives for each.
    #[test]
    fn the_fast_reader_reads_generated_files_as_toml_does() {
        for users in [0, 1, 7, 1_000, 5_000] {
            for seed in [1, 7, 42] {
                let text = tenant_file(users, seed);
                assert_eq!(
                    minutely_formats::tenant_file::fast_reader_agrees(&text),
                    Ok(true),
                    "{users} users, seed {seed}"
                );
            }
        }
    }

    /// The largest file the format allows (`MAX_ITEMS` users) loads; its time is measured by the
    /// benchmark (`minutely-tools gen tenant --users 100000`), not here.
    #[test]
    fn a_tenant_file_of_the_most_users_loads() {
        let users = minutely_formats::tenant_file::MAX_ITEMS;
        let applied = load(&tenant_file(users, 1));
        let tenant = &applied.book.tenant;
        assert_eq!(tenant.users().count(), users);
        let held = tenant.assigned(Sku::PayPerMinute) + tenant.assigned(Sku::Subscription);
        assert_eq!(
            held as usize, users,
            "every user holds one conferencing license"
        );
    }

    /// E.164 numbers written in a text (`+` then digits, with the separators C8 allows).
    fn numbers_in(text: &str, into: &mut BTreeSet<E164>) {
        for (start, _) in text.match_indices('+') {
            let tail = &text[start + 1..];
            let end = tail
                .find(|c: char| !(c.is_ascii_digit() || matches!(c, ' ' | '-' | '.')))
                .unwrap_or(tail.len());
            let candidate = text[start..start + 1 + end].trim_end_matches([' ', '-', '.']);
            if let Some(number) = E164::parse(candidate) {
                into.insert(number);
            }
        }
    }

    /// Every file under `dir` (but build output and version control) with one of `extensions`.
    fn files_under(dir: &std::path::Path, extensions: &[&str], into: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if path.is_dir() && !matches!(name.to_str(), Some("target" | ".git" | "node_modules")) {
                files_under(&path, extensions, into);
            } else if path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| extensions.contains(&e))
            {
                into.push(path);
            }
        }
    }

    /// C8: every number the call generator draws (several seeds and populations) and every E.164
    /// number written in the repository's tests, examples, fixtures and benchmarks gets the same
    /// answer from the plan as compiled at once, from the lazily compiled plan and from the
    /// bounded memo that offline rating uses (small here, so that it is cleared many times).
    #[test]
    fn c8_every_generated_and_written_number_classifies_alike_on_every_path() {
        let tenant = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/tenant.toml"),
        )
        .unwrap();
        let mut generated = BTreeSet::new();
        for (seed, population) in [(7, 20_000), (1, 500), (42, 3_000)] {
            let spec = CallSpec {
                count: 40_000,
                seed,
                start: instant::parse("2026-01-05T00:00:00Z").unwrap(),
                days: 28,
                population,
            };
            let mut csv = Vec::new();
            generate_calls(&tenant, &spec, &mut csv).unwrap();
            numbers_in(&String::from_utf8(csv).unwrap(), &mut generated);
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut files = Vec::new();
        for dir in ["crates", "examples", "bench", "e2e", "fuzz", "data"] {
            files_under(
                &root.join(dir),
                &["rs", "toml", "csv", "json", "py", "sql", "txt", "xml"],
                &mut files,
            );
        }
        let mut written = BTreeSet::new();
        for file in &files {
            if let Ok(text) = std::fs::read_to_string(file) {
                numbers_in(&text, &mut written);
            }
        }
        assert!(generated.len() > 15_000, "{}", generated.len());
        assert!(written.len() > 100, "{}", written.len());
        let eager = NumberPlan::compiled_eagerly();
        let mut memo = PlanCache::new(1_000);
        for number in generated.iter().chain(&written) {
            let expected = eager.classify(*number);
            assert_eq!(NumberPlan::global().classify(*number), expected, "{number}");
            assert_eq!(memo.classify(*number), expected, "{number} (memo)");
        }
        for number in &generated {
            assert!(
                matches!(eager.classify(*number), PlanAnswer::Country(_)),
                "the generator draws valid geographic numbers: {number}"
            );
        }
    }
}
