//! A statement as localized text, laid out as titled tables: what the HTML and PDF renderers
//! both draw, so the two always say the same thing.

use crate::locale::Formats;
use crate::model::Statement;
use crate::strings::{Text, text};
use crate::{Lang, StatementError};
use minutely_core::rating::Category;

/// One table of the statement.
pub(crate) struct Section {
    pub title: String,
    /// Column labels; `true` for a right-aligned (numeric) column.
    pub columns: Vec<(String, bool)>,
    pub rows: Vec<Vec<String>>,
    /// The total row, when the table has one.
    pub total: Option<Vec<String>>,
    /// Shown instead of the rows when there are none.
    pub empty: String,
}

/// The whole statement as text.
pub(crate) struct View {
    pub lang: Lang,
    pub title: String,
    /// The month, with "to date" when provisional.
    pub subtitle: String,
    pub provisional: Option<String>,
    /// Label and value pairs at the top.
    pub facts: Vec<(String, String)>,
    pub sections: Vec<Section>,
    pub identity: String,
}

fn category_text(category: Category) -> Text {
    match category {
        Category::DialInToll => Text::DialInToll,
        Category::DialInTollFree => Text::DialInTollFree,
        Category::DialOut => Text::DialOut,
    }
}

impl View {
    pub fn new(statement: &Statement, lang: Lang) -> Result<View, StatementError> {
        let f = Formats::new(lang, statement.currency)?;
        let t = |key: Text| text(key, lang).to_string();
        let period = &statement.period;
        let month = f.month(period.month);
        let subtitle = if period.provisional {
            format!("{month} ({})", t(Text::ToDate))
        } else {
            month
        };
        let first = period.month.first_day();
        let last = first.last_of_month();
        let as_of = period
            .as_of
            .to_zoned_datetime(
                jiff::tz::TimeZone::get(&statement.timezone).unwrap_or(jiff::tz::TimeZone::UTC),
            )
            .datetime();
        let tenant = if statement.tenant_name.is_empty() {
            statement.tenant.clone()
        } else {
            format!("{} ({})", statement.tenant_name, statement.tenant)
        };
        let facts = vec![
            (t(Text::Tenant), tenant),
            (
                t(Text::Period),
                format!("{} – {}", f.date(first), f.date(last)),
            ),
            (t(Text::TimeZone), statement.timezone.clone()),
            (t(Text::Currency), statement.currency.code().to_string()),
            (
                t(Text::AsOf),
                format!("{} {}", f.date(as_of.date()), as_of.strftime("%H:%M")),
            ),
        ];
        let amount_col = (t(Text::Amount), true);
        let summary = Section {
            title: t(Text::Summary),
            columns: vec![(String::new(), false), amount_col.clone()],
            rows: vec![
                vec![t(Text::Opening), f.amount(statement.opening)],
                vec![
                    format!("+ {}", t(Text::Fundings)),
                    f.amount(statement.fundings_total),
                ],
                vec![
                    format!("+ {}", t(Text::Refunds)),
                    f.amount(statement.refunds_total),
                ],
                vec![
                    format!("− {}", t(Text::Usage)),
                    f.amount(statement.usage.amount),
                ],
                vec![
                    format!("− {}", t(Text::Forfeits)),
                    f.amount(statement.forfeits_total),
                ],
            ],
            total: Some(vec![t(Text::Closing), f.amount(statement.closing)]),
            empty: String::new(),
        };
        let fundings = Section {
            title: t(Text::FundingsSection),
            columns: vec![
                (t(Text::Date), false),
                (t(Text::Kind), false),
                (t(Text::Reference), false),
                amount_col.clone(),
            ],
            rows: statement
                .fundings
                .iter()
                .map(|l| {
                    vec![
                        f.date(l.date),
                        t(if l.recharge {
                            Text::Recharge
                        } else {
                            Text::Funding
                        }),
                        l.reference.clone(),
                        f.amount(l.amount),
                    ]
                })
                .collect(),
            total: Some(vec![
                t(Text::Total),
                String::new(),
                String::new(),
                f.amount(statement.fundings_total),
            ]),
            empty: t(Text::NothingThisMonth),
        };
        let usage_columns = |first: Text| {
            vec![
                (t(first), false),
                (t(Text::Calls), true),
                (t(Text::Minutes), true),
                amount_col.clone(),
            ]
        };
        let usage_total = Some(vec![
            t(Text::Total),
            f.count(statement.usage.calls),
            f.number(statement.usage.minutes),
            f.amount(statement.usage.amount),
        ]);
        let by_category = Section {
            title: t(Text::UsageByCategory),
            columns: usage_columns(Text::Category),
            rows: statement
                .by_category
                .iter()
                .map(|(c, u)| {
                    vec![
                        t(category_text(*c)),
                        f.count(u.calls),
                        f.number(u.minutes),
                        f.amount(u.amount),
                    ]
                })
                .collect(),
            total: usage_total.clone(),
            empty: t(Text::NothingThisMonth),
        };
        let by_country = Section {
            title: t(Text::UsageByCountry),
            columns: usage_columns(Text::Country),
            rows: statement
                .by_country
                .iter()
                .map(|(code, u)| {
                    let name = if code.is_empty() {
                        t(Text::UnknownCountry)
                    } else {
                        format!("{} ({code})", f.country(code))
                    };
                    vec![
                        name,
                        f.count(u.calls),
                        f.number(u.minutes),
                        f.amount(u.amount),
                    ]
                })
                .collect(),
            total: usage_total,
            empty: t(Text::NothingThisMonth),
        };
        let forfeits = Section {
            title: t(Text::ForfeitsSection),
            columns: vec![(t(Text::Date), false), (t(Text::Lot), false), amount_col],
            rows: statement
                .forfeits
                .iter()
                .map(|l| vec![f.date(l.date), l.lot.clone(), f.amount(l.amount)])
                .collect(),
            total: Some(vec![
                t(Text::Total),
                String::new(),
                f.amount(statement.forfeits_total),
            ]),
            empty: t(Text::NothingThisMonth),
        };
        let refunds = Section {
            title: t(Text::RefundsSection),
            columns: vec![
                (t(Text::Date), false),
                (t(Text::Call), false),
                (t(Text::Reference), false),
                (t(Text::Amount), true),
            ],
            rows: statement
                .refunds
                .iter()
                .map(|l| {
                    vec![
                        f.date(l.date),
                        l.call_id.clone(),
                        l.run.clone(),
                        f.amount(l.amount),
                    ]
                })
                .collect(),
            total: Some(vec![
                t(Text::Total),
                String::new(),
                String::new(),
                f.amount(statement.refunds_total),
            ]),
            empty: t(Text::NothingThisMonth),
        };
        Ok(View {
            lang,
            title: t(Text::Title),
            subtitle,
            provisional: period.provisional.then(|| t(Text::ProvisionalNote)),
            facts,
            sections: vec![
                summary,
                fundings,
                refunds,
                by_category,
                by_country,
                forfeits,
            ],
            identity: t(Text::Identity),
        })
    }
}
