//! The pure parts of statements: building from journal entries (C24's identity, categories,
//! countries, month edges in the tenant's time zone), the month and its refusals, locale
//! formatting per language, the string table, and the rendered HTML and PDF (text extracted with
//! `pdftotext` from poppler-utils).

use jiff::Timestamp;
use jiff::tz::TimeZone;
use minutely_core::ledger::{Account, Entry, EntryKind, Posting};
use minutely_core::money::Currency;
use minutely_core::rating::Category;
use minutely_statements::locale::Formats;
use minutely_statements::strings::{Text, text, texts};
use minutely_statements::{
    Builder, CallFacts, Lang, Month, Period, Statement, StatementError, html, pdf,
};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::process::Command;
use std::str::FromStr;

fn d(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn eur() -> Currency {
    Currency::parse("EUR").unwrap()
}

fn paris() -> TimeZone {
    TimeZone::get("Europe/Paris").unwrap()
}

/// A journal written the way the wallet writes it: each entry's postings balance and its
/// `balance_after` runs on from the one before.
struct Journal {
    entries: Vec<Entry>,
    balance: Decimal,
}

impl Journal {
    fn new() -> Journal {
        Journal {
            entries: Vec::new(),
            balance: Decimal::ZERO,
        }
    }

    fn push(
        &mut self,
        at: &str,
        kind: EntryKind,
        amount: &str,
        call: Option<&str>,
        reference: Option<&str>,
    ) {
        let amount = d(amount);
        let (wallet, other) = match kind {
            EntryKind::Funding | EntryKind::Recharge => (amount, Account::Payments),
            EntryKind::Debit => (-amount, Account::Usage),
            EntryKind::Refund => (amount, Account::Usage),
            EntryKind::Forfeit => (-amount, Account::Forfeits),
        };
        self.balance += wallet;
        self.entries.push(Entry {
            seq: self.entries.len() as u64 + 1,
            at: ts(at),
            kind,
            amount,
            call_id: call.map(str::to_string),
            reference: reference.map(str::to_string),
            postings: vec![
                Posting {
                    account: Account::Lot(1),
                    amount: wallet,
                },
                Posting {
                    account: other,
                    amount: -wallet,
                },
            ],
            balance_after: self.balance,
        });
    }
}

fn facts(category: Category, country: &str, minutes: &str) -> CallFacts {
    CallFacts {
        category,
        country: country.to_string(),
        minutes: d(minutes),
    }
}

/// February to April 2026 in Paris: a funding in February, calls and a recharge in March
/// (one on the first night of March, which is still February in UTC), a forfeit in April.
fn sample() -> (Journal, BTreeMap<&'static str, CallFacts>) {
    let mut j = Journal::new();
    j.push(
        "2026-02-10T10:00:00Z",
        EntryKind::Funding,
        "100",
        None,
        Some("PO-1"),
    );
    j.push(
        "2026-02-20T10:00:00Z",
        EntryKind::Debit,
        "2.40",
        Some("feb"),
        None,
    );
    // 00:30 in Paris on 1 March.
    j.push(
        "2026-02-28T23:30:00Z",
        EntryKind::Debit,
        "0.30",
        Some("night"),
        None,
    );
    j.push(
        "2026-03-03T10:00:00Z",
        EntryKind::Debit,
        "12.83",
        Some("de"),
        None,
    );
    j.push(
        "2026-03-04T10:00:00Z",
        EntryKind::Debit,
        "0.60",
        Some("toll"),
        None,
    );
    j.push(
        "2026-03-05T10:00:00Z",
        EntryKind::Debit,
        "0.15",
        Some("free"),
        None,
    );
    j.push(
        "2026-03-05T10:00:00Z",
        EntryKind::Recharge,
        "50",
        Some("free"),
        None,
    );
    j.push(
        "2026-03-31T21:59:59Z",
        EntryKind::Debit,
        "1.05",
        Some("late"),
        None,
    );
    j.push(
        "2026-04-10T10:00:00Z",
        EntryKind::Forfeit,
        "3.00",
        None,
        Some("lot 1"),
    );
    let calls = [
        ("feb", facts(Category::DialOut, "DE", "80")),
        ("night", facts(Category::DialOut, "FR", "10")),
        ("de", facts(Category::DialOut, "DE", "427.5")),
        ("toll", facts(Category::DialInToll, "FR", "20")),
        ("free", facts(Category::DialInTollFree, "FR", "3")),
        ("late", facts(Category::DialOut, "", "35")),
    ]
    .into_iter()
    .collect();
    (j, calls)
}

fn build(month: &str, now: &str) -> Result<Statement, StatementError> {
    let (journal, calls) = sample();
    let period = Period::new(Month::parse(month)?, &paris(), ts(now))?;
    let mut b = Builder::new("acme", "Acme", eur(), "Europe/Paris", paris(), period);
    for e in &journal.entries {
        b.add(e, |id| Ok(calls[id].clone()))?;
    }
    b.finish()
}

#[test]
fn a_rerate_shows_the_refund_and_the_new_charge_and_the_identity_holds() {
    let (mut journal, mut calls) = sample();
    // In April the "de" call of March is rerated: 12.83 refunded, 6.40 charged.
    journal.push(
        "2026-04-12T10:00:00Z",
        EntryKind::Refund,
        "12.83",
        Some("de"),
        Some("rr-1"),
    );
    journal.push(
        "2026-04-12T10:00:00Z",
        EntryKind::Debit,
        "6.40",
        Some("de"),
        Some("rr-1"),
    );
    calls.insert("de", facts(Category::DialOut, "DE", "427.5"));
    let period = Period::new(
        Month::parse("2026-04").unwrap(),
        &paris(),
        ts("2026-05-01T00:00:00Z"),
    )
    .unwrap();
    let mut b = Builder::new("acme", "Acme", eur(), "Europe/Paris", paris(), period);
    for e in &journal.entries {
        b.add(e, |id| Ok(calls[id].clone())).unwrap();
    }
    let s = b.finish().unwrap();
    assert_eq!(s.refunds_total, d("12.83"));
    assert_eq!(
        (s.refunds[0].call_id.as_str(), s.refunds[0].run.as_str()),
        ("de", "rr-1")
    );
    assert_eq!(s.usage.amount, d("6.40"));
    // 132.67 - 3.00 forfeited + 12.83 - 6.40.
    assert_eq!(s.closing, d("136.10"));
    assert!(s.balances());
}

#[test]
fn c24_identity_and_month_edges_in_the_tenant_time_zone() {
    let s = build("2026-03", "2026-05-01T00:00:00Z").unwrap();
    // Opening: 100 - 2.40 (the night call belongs to March in Paris).
    assert_eq!(s.opening, d("97.60"));
    assert_eq!(s.fundings_total, d("50"));
    assert_eq!(s.fundings.len(), 1);
    assert!(s.fundings[0].recharge);
    assert_eq!(s.fundings[0].reference, "free");
    // 0.30 + 12.83 + 0.60 + 0.15 + 1.05 (the last second of March in Paris).
    assert_eq!(s.usage.amount, d("14.93"));
    assert_eq!(s.usage.calls, 5);
    assert_eq!(s.forfeits_total, Decimal::ZERO);
    assert_eq!(s.closing, d("132.67"));
    assert!(s.balances());
    assert_eq!(
        s.opening + s.fundings_total - s.usage.amount - s.forfeits_total,
        s.closing
    );
    assert!(!s.period.provisional);
    assert_eq!(s.period.start, ts("2026-02-28T23:00:00Z"));
    assert_eq!(s.period.end, ts("2026-03-31T22:00:00Z"));
    // The closing balance is the running balance of the month's last entry.
    assert_eq!(s.closing, sample().0.entries[7].balance_after);

    let april = build("2026-04", "2026-05-01T00:00:00Z").unwrap();
    assert_eq!(april.opening, s.closing);
    assert_eq!(april.forfeits_total, d("3.00"));
    assert_eq!(april.forfeits[0].lot, "lot 1");
    assert_eq!(april.forfeits[0].date, jiff::civil::date(2026, 4, 10));
    assert_eq!(april.closing, d("129.67"));
    assert!(april.balances());

    let january = build("2026-01", "2026-05-01T00:00:00Z").unwrap();
    assert_eq!(
        (january.opening, january.closing),
        (Decimal::ZERO, Decimal::ZERO)
    );
    assert_eq!(january.entries, 0);
}

#[test]
fn usage_by_category_and_country_with_exact_minutes() {
    let s = build("2026-03", "2026-05-01T00:00:00Z").unwrap();
    let by_category: Vec<(Category, u64, Decimal, Decimal)> = s
        .by_category
        .iter()
        .map(|(c, u)| (*c, u.calls, u.minutes, u.amount))
        .collect();
    assert_eq!(
        by_category,
        vec![
            (Category::DialInToll, 1, d("20"), d("0.60")),
            (Category::DialInTollFree, 1, d("3"), d("0.15")),
            (Category::DialOut, 3, d("472.5"), d("14.18")),
        ]
    );
    let by_country: Vec<(&str, u64, Decimal)> = s
        .by_country
        .iter()
        .map(|(c, u)| (c.as_str(), u.calls, u.amount))
        .collect();
    assert_eq!(
        by_country,
        vec![
            ("", 1, d("1.05")),
            ("DE", 1, d("12.83")),
            ("FR", 3, d("1.05"))
        ]
    );
    let total: Decimal = s.by_category.iter().map(|(_, u)| u.amount).sum();
    assert_eq!(total, s.usage.amount);
    assert_eq!(s.usage.minutes, d("495.5"));
}

#[test]
fn a_month_not_started_is_refused_and_the_current_one_is_provisional() {
    // 23:30 UTC on 31 March is already April in Paris: April is current, May is not started.
    let now = "2026-03-31T23:30:00Z";
    let april = build("2026-04", now).unwrap();
    assert!(april.period.provisional);
    assert_eq!(april.period.as_of, ts(now));
    match build("2026-05", now) {
        Err(e @ StatementError::FutureMonth { .. }) => {
            let message = e.to_string();
            assert!(message.contains("2026-05"), "{message}");
            assert!(message.contains("2026-04"), "{message}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn month_syntax_is_strict_and_errors_name_the_input() {
    assert_eq!(Month::parse("2026-03").unwrap().to_string(), "2026-03");
    assert_eq!(
        Month::parse("0001-12").unwrap().next().unwrap().to_string(),
        "0002-01"
    );
    assert_eq!(Month::parse("9999-12").unwrap().next(), None);
    for bad in [
        "2026-13",
        "2026-00",
        "2026-3",
        "2026/03",
        "+026-03",
        "0000-01",
        "",
        "2026-03-01",
        "２０２６-03",
    ] {
        let e = Month::parse(bad).unwrap_err();
        let message = e.to_string();
        assert!(message.contains(&format!("{bad:?}")), "{message}");
        assert!(message.contains("YYYY-MM"), "{message}");
    }
    // A long input is cut in the message.
    let long = "x".repeat(5000);
    assert!(Month::parse(&long).unwrap_err().to_string().len() < 200);
}

#[test]
fn a_journal_that_does_not_add_up_is_refused() {
    let (mut journal, calls) = sample();
    journal.entries[3].balance_after += d("0.01");
    let period = Period::new(
        Month::parse("2026-03").unwrap(),
        &paris(),
        ts("2026-05-01T00:00:00Z"),
    )
    .unwrap();
    let mut b = Builder::new("acme", "Acme", eur(), "Europe/Paris", paris(), period);
    let mut result = Ok(());
    for e in &journal.entries {
        result = b.add(e, |id| Ok(calls[id].clone()));
        if result.is_err() {
            break;
        }
    }
    assert_eq!(result, Err(StatementError::Ledger { seq: 4 }));
}

/// C24: a journal whose sums leave `Decimal`'s range is a damaged journal: refused as one that
/// does not add up, never a panic.
#[test]
fn a_journal_with_sums_out_of_range_is_refused() {
    let funding = |seq: u64, wallet: Vec<Decimal>, balance_after: Decimal| {
        let total = wallet
            .iter()
            .fold(Decimal::ZERO, |a, b| a.saturating_add(*b));
        let mut postings: Vec<Posting> = wallet
            .iter()
            .enumerate()
            .map(|(i, amount)| Posting {
                account: Account::Lot(i as u64 + 1),
                amount: *amount,
            })
            .collect();
        postings.extend(wallet.iter().map(|amount| Posting {
            account: Account::Payments,
            amount: -*amount,
        }));
        Entry {
            seq,
            at: ts("2026-03-10T12:00:00Z"),
            kind: EntryKind::Funding,
            amount: total,
            call_id: None,
            reference: Some(format!("f{seq}")),
            postings,
            balance_after,
        }
    };
    let big = Decimal::MAX;
    let journals = [
        // The running balance leaves the range at the second entry.
        vec![funding(1, vec![big], big), funding(2, vec![big], big)],
        // One entry's wallet postings leave the range.
        vec![funding(1, vec![big, big], big)],
    ];
    for (i, journal) in journals.iter().enumerate() {
        let period = Period::new(
            Month::parse("2026-03").unwrap(),
            &paris(),
            ts("2026-05-01T00:00:00Z"),
        )
        .unwrap();
        let mut b = Builder::new("acme", "Acme", eur(), "Europe/Paris", paris(), period);
        let result = journal
            .iter()
            .try_for_each(|e| b.add(e, |_| unreachable!("no debits")));
        let seq = journal.last().unwrap().seq;
        assert_eq!(result, Err(StatementError::Ledger { seq }), "journal {i}");
    }
}

#[test]
fn amounts_numbers_and_dates_per_language() {
    let cases = [
        (
            Lang::En,
            "€1,234.56",
            "12,345.5",
            "Mar 5, 2026",
            "March 2026",
        ),
        (Lang::Ja, "€1,234.56", "12,345.5", "2026/03/05", "2026年3月"),
        (
            Lang::ZhCn,
            "€1,234.56",
            "12,345.5",
            "2026年3月5日",
            "2026年3月",
        ),
        (
            Lang::Fr,
            "1\u{202f}234,56\u{a0}€",
            "12\u{202f}345,5",
            "5 mars 2026",
            "mars 2026",
        ),
        (
            Lang::De,
            "1.234,56\u{a0}€",
            "12.345,5",
            "05.03.2026",
            "März 2026",
        ),
    ];
    for (lang, amount, number, date, month) in cases {
        let f = Formats::new(lang, eur()).unwrap();
        assert_eq!(f.amount(d("1234.56")), amount, "{lang:?}");
        assert_eq!(f.number(d("12345.5")), number, "{lang:?}");
        assert_eq!(f.date(jiff::civil::date(2026, 3, 5)), date, "{lang:?}");
        assert_eq!(f.month(Month::parse("2026-03").unwrap()), month, "{lang:?}");
        let group = if lang == Lang::De {
            "."
        } else if lang == Lang::Fr {
            "\u{202f}"
        } else {
            ","
        };
        assert_eq!(f.count(1234), format!("1{group}234"), "{lang:?}");
    }
    // Nothing is rounded: a shorter amount is padded to the minor unit, a longer one is shown
    // whole with its code.
    let en = Formats::new(Lang::En, eur()).unwrap();
    assert_eq!(en.amount(d("12.5")), "€12.50");
    assert_eq!(en.amount(d("0.125")), "0.125 EUR");
    assert_eq!(en.amount(d("-3.00")), "-€3.00");
    assert_eq!(en.number(d("1.000")), "1.000");
    let de = Formats::new(Lang::De, eur()).unwrap();
    assert_eq!(de.amount(d("0.125")), "0,125 EUR");
    // Yen has no minor unit (C7).
    let ja = Formats::new(Lang::Ja, Currency::parse("JPY").unwrap()).unwrap();
    assert_eq!(ja.amount(d("1234")), "￥1,234");
    // Country names come from CLDR in each language.
    assert_eq!(
        Formats::new(Lang::De, eur()).unwrap().country("FR"),
        "Frankreich"
    );
    assert_eq!(
        Formats::new(Lang::Ja, eur()).unwrap().country("DE"),
        "ドイツ"
    );
    assert_eq!(
        Formats::new(Lang::ZhCn, eur()).unwrap().country("JP"),
        "日本"
    );
}

#[test]
fn every_string_exists_in_every_language() {
    for key in Text::ALL {
        let all = texts(key);
        for lang in Lang::ALL {
            let t = text(key, lang);
            assert!(!t.trim().is_empty(), "{key:?} has no {} text", lang.tag());
            assert_eq!(t, all[lang.index()]);
        }
        // Japanese and Chinese texts are written in their scripts.
        for lang in [Lang::Ja, Lang::ZhCn] {
            assert!(
                text(key, lang)
                    .chars()
                    .any(|c| ('\u{3040}'..='\u{9fff}').contains(&c)),
                "{key:?} in {} is not translated",
                lang.tag()
            );
        }
    }
    assert_eq!(text(Text::Title, Lang::Ja), "通信クレジット 明細書");
    assert!(text(Text::Title, Lang::ZhCn).contains("通信点数"));
    assert!(text(Text::Title, Lang::Fr).contains("Crédits de Communications"));
    assert!(text(Text::Title, Lang::De).contains("Kommunikationsguthaben"));
    assert!(text(Text::DialInTollFree, Lang::Fr).contains("numéros d’appel gratuits"));
}

#[test]
fn html_is_one_self_contained_localized_page() {
    let mut s = build("2026-03", "2026-05-01T00:00:00Z").unwrap();
    s.tenant_name = "<Acme & \"Sons\">".into();
    for lang in Lang::ALL {
        let page = html::render(&s, lang).unwrap();
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains(&format!("<html lang=\"{}\">", lang.tag())));
        assert!(page.contains(text(Text::Title, lang)));
        assert!(page.contains("<style>") && page.contains("@media print"));
        assert!(!page.contains("<script") && !page.contains("src=") && !page.contains("href="));
        assert!(
            page.contains("&lt;Acme &amp; &quot;Sons&quot;&gt;"),
            "escaped"
        );
        let f = Formats::new(lang, eur()).unwrap();
        for amount in [s.opening, s.closing, s.usage.amount, s.fundings_total] {
            assert!(page.contains(&f.amount(amount)), "{lang:?} shows {amount}");
        }
    }
    let page = html::render(&build("2026-04", "2026-04-02T00:00:00Z").unwrap(), Lang::En).unwrap();
    assert!(page.contains("April 2026 (to date)"));
    assert!(page.contains("provisional"));
}

/// The text of a PDF, as pdftotext extracts it, with every kind of space made plain.
fn pdf_text(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.pdf");
    std::fs::write(&path, bytes).unwrap();
    let out = Command::new("pdftotext")
        .arg("-enc")
        .arg("UTF-8")
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .chars()
        .map(|c| {
            if c.is_whitespace() && c != '\n' {
                ' '
            } else {
                c
            }
        })
        .collect()
}

fn plain(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .collect()
}

#[test]
fn pdf_text_is_extractable_in_every_language() {
    let s = build("2026-03", "2026-05-01T00:00:00Z").unwrap();
    for lang in Lang::ALL {
        let bytes = pdf::render(&s, lang, None).unwrap();
        assert!(bytes.starts_with(b"%PDF-"));
        let extracted = pdf_text(&bytes);
        let f = Formats::new(lang, eur()).unwrap();
        assert!(
            extracted.contains(text(Text::Title, lang)),
            "{lang:?}: the title is in {extracted}"
        );
        for amount in [s.closing, s.usage.amount] {
            let shown = plain(&f.amount(amount));
            assert!(
                extracted.contains(&shown),
                "{lang:?}: {shown} is in {extracted}"
            );
        }
        assert!(
            extracted.contains(&plain(&f.month(s.period.month))),
            "{lang:?} month"
        );
    }
    // CJK titles come out as CJK text, not as glyph soup.
    let ja = pdf_text(&pdf::render(&s, Lang::Ja, None).unwrap());
    assert!(ja.contains("通信クレジット"), "{ja}");
    assert!(ja.contains("ダイヤルアウト"));
    let zh = pdf_text(&pdf::render(&s, Lang::ZhCn, None).unwrap());
    assert!(zh.contains("通信点数对账单"), "{zh}");
    assert!(zh.contains("拨出"));
}

#[test]
fn a_missing_font_is_a_clear_error() {
    let s = build("2026-03", "2026-05-01T00:00:00Z").unwrap();
    let e = pdf::render(
        &s,
        Lang::En,
        Some(std::path::Path::new("/nonexistent/font.ttc")),
    )
    .unwrap_err();
    let message = e.to_string();
    assert!(message.contains("/nonexistent/font.ttc"), "{message}");
    assert!(message.contains("apt install fonts-noto-cjk"), "{message}");
}
