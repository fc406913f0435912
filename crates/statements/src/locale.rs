//! Numbers, dates, months, country names and currency amounts formatted for a language, from
//! ICU4X's compiled CLDR data: `1,234.56` / `1 234,56` / `1.234,56`, `€1,234.56` /
//! `1 234,56 €` / `1.234,56 €`, `Mar 5, 2026` / `2026/03/05` / `5 mars 2026` ...
//!
//! Nothing is rounded: a value is shown with exactly the digits it has. An amount is padded with
//! zeros up to its currency's minor unit (`12.5` shows as `12.50`); an amount with more decimals
//! than its currency has (which the ledger never holds, C7) is shown in full with the ISO code
//! rather than through the currency pattern, which would round it.

use crate::{Lang, StatementError};
use fixed_decimal::Decimal as Fixed;
use icu_calendar::{Date as IcuDate, Gregorian};
use icu_datetime::FixedCalendarDateTimeFormatter;
use icu_datetime::fieldsets::{YM, YMD};
use icu_decimal::DecimalFormatter;
use icu_experimental::dimension::currency::CurrencyType;
use icu_experimental::dimension::currency::formatter::CurrencyFormatter;
use icu_experimental::displaynames::DisplayNamesOptions;
use icu_experimental::displaynames::multi::RegionDisplayNames;
use icu_locale_core::Locale;
use icu_locale_core::subtags::Region;
use jiff::civil::Date;
use minutely_core::money::Currency;
use rust_decimal::Decimal;
use std::str::FromStr;

use crate::model::Month;

/// The locale whose data formats a language.
pub fn locale(lang: Lang) -> Locale {
    let tag = match lang {
        Lang::En => "en",
        Lang::Ja => "ja",
        Lang::ZhCn => "zh-CN",
        Lang::Fr => "fr",
        Lang::De => "de",
    };
    Locale::try_from_str(tag).expect("a valid locale tag")
}

/// The formatters of one language and one currency.
#[derive(Debug)]
pub struct Formats {
    lang: Lang,
    currency: Currency,
    decimal: DecimalFormatter,
    money: CurrencyFormatter<DecimalFormatter>,
    date: FixedCalendarDateTimeFormatter<Gregorian, YMD>,
    month: FixedCalendarDateTimeFormatter<Gregorian, YM>,
    regions: RegionDisplayNames,
}

impl Formats {
    pub fn new(lang: Lang, currency: Currency) -> Result<Formats, StatementError> {
        let locale = locale(lang);
        let fail = |detail: String| StatementError::Locale {
            lang: lang.tag(),
            detail,
        };
        let decimal = DecimalFormatter::try_new((&locale).into(), Default::default())
            .map_err(|e| fail(e.to_string()))?;
        let code = CurrencyType::try_from_str(&currency.code().to_ascii_lowercase())
            .map_err(|e| fail(format!("currency {}: {e:?}", currency.code())))?;
        let money = CurrencyFormatter::try_new_symbol((&locale).into(), code, Default::default())
            .map_err(|e| fail(e.to_string()))?;
        let date = FixedCalendarDateTimeFormatter::try_new((&locale).into(), YMD::medium())
            .map_err(|e| fail(e.to_string()))?;
        let month = FixedCalendarDateTimeFormatter::try_new((&locale).into(), YM::long())
            .map_err(|e| fail(e.to_string()))?;
        let regions = RegionDisplayNames::try_new((&locale).into(), DisplayNamesOptions::default())
            .map_err(|e| fail(e.to_string()))?;
        Ok(Formats {
            lang,
            currency,
            decimal,
            money,
            date,
            month,
            regions,
        })
    }

    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// An exact decimal with the language's separators and digits, every digit kept.
    pub fn number(&self, value: Decimal) -> String {
        self.decimal.format(&fixed(value)).to_string()
    }

    /// A count.
    pub fn count(&self, value: u64) -> String {
        self.decimal.format(&Fixed::from(value)).to_string()
    }

    /// An amount of the statement's currency, with its symbol placed as the language places it.
    pub fn amount(&self, value: Decimal) -> String {
        let minor = self.currency.minor_units();
        if value.scale() > minor {
            return format!("{} {}", self.number(value), self.currency.code());
        }
        let mut padded = value;
        padded.rescale(minor);
        self.money.format_fixed_decimal(&fixed(padded)).to_string()
    }

    /// A civil date (`Mar 5, 2026`, `2026/03/05`, `5 mars 2026`, `05.03.2026`).
    pub fn date(&self, date: Date) -> String {
        match gregorian(date.year(), date.month(), date.day()) {
            Some(d) => self.date.format(&d).to_string(),
            None => date.to_string(),
        }
    }

    /// A month and its year (`March 2026`, `2026年3月`, `mars 2026`, `März 2026`).
    pub fn month(&self, month: Month) -> String {
        match gregorian(month.year(), month.month(), 1) {
            Some(d) => self.month.format(&d).to_string(),
            None => month.to_string(),
        }
    }

    /// The country's name in the language (CLDR), or its code when unknown.
    pub fn country(&self, code: &str) -> String {
        Region::try_from_str(code)
            .ok()
            .and_then(|r| self.regions.of(r))
            .map_or_else(|| code.to_string(), str::to_string)
    }
}

fn gregorian(year: i16, month: i8, day: i8) -> Option<IcuDate<Gregorian>> {
    IcuDate::try_new_gregorian(i32::from(year), month as u8, day as u8).ok()
}

/// The same value as ICU's decimal, digit for digit (trailing zeros kept).
fn fixed(value: Decimal) -> Fixed {
    Fixed::from_str(&value.to_string()).expect("a decimal's text is a valid decimal")
}
