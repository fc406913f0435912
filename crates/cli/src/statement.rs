//! `minutely statement`: the monthly statement of a tenant's Communications Credits wallet,
//! read from the store (works while a server runs), as HTML, PDF or JSON.

use crate::output::{load_book, open_store};
use anyhow::{Context, Result, anyhow};
use clap::{Args, ValueEnum};
use minutely_core::calendar::Month;
use minutely_core::lang::Lang;
use minutely_service::statements::{StatementJson, collect, parse_lang, pdf_file_name};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum StatementFormat {
    Html,
    Pdf,
    Json,
}

#[derive(Args)]
pub struct StatementArgs {
    /// The tenant.
    #[arg(long)]
    tenant: String,
    /// The calendar month, YYYY-MM, in the tenant's time zone (the current month gives a
    /// provisional statement, to date).
    #[arg(long)]
    month: String,
    /// en, ja, zh-CN, fr or de.
    #[arg(long, default_value = "en")]
    lang: String,
    #[arg(long, value_enum, default_value = "html")]
    format: StatementFormat,
    /// The file to write; stdout when absent (a PDF without -o is written to
    /// statement-<tenant>-<month>-<lang>.pdf).
    #[arg(short = 'o', long = "output")]
    output: Option<PathBuf>,
    /// The font for PDF statements (default: $MINUTELY_FONT, then Noto Sans CJK from
    /// fonts-noto-cjk).
    #[arg(long)]
    font: Option<PathBuf>,
}

pub fn run(db: &Path, args: StatementArgs) -> Result<()> {
    let month = Month::parse(&args.month).map_err(|e| anyhow!("--month: {e}"))?;
    let lang: Lang = parse_lang(&args.lang).map_err(|e| anyhow!("--{e}"))?;
    let store = open_store(db)?;
    let book = load_book(&store, &args.tenant)?;
    let statement = collect(&store, &book.tenant, month, jiff::Timestamp::now())
        .map_err(|e| anyhow!("{}", e.detail))?;
    let bytes = match args.format {
        StatementFormat::Json => {
            let mut out = serde_json::to_vec_pretty(&StatementJson::new(&statement))?;
            out.push(b'\n');
            out
        }
        StatementFormat::Html => minutely_statements::html::render(&statement, lang)
            .map_err(|e| anyhow!("{e}"))?
            .into_bytes(),
        StatementFormat::Pdf => {
            minutely_statements::pdf::render(&statement, lang, args.font.as_deref())
                .map_err(|e| anyhow!("{e}"))?
        }
    };
    let output = args.output.or_else(|| {
        matches!(args.format, StatementFormat::Pdf)
            .then(|| PathBuf::from(pdf_file_name(&args.tenant, month, lang)))
    });
    match output {
        Some(path) => {
            std::fs::write(&path, &bytes)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        None => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            lock.write_all(&bytes)?;
            lock.flush()?;
        }
    }
    Ok(())
}
