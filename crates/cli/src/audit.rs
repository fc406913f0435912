//! `minutely audit`: the audit log of administrative changes, read from the store (works while
//! a server runs).

use crate::output::{emit, open_store};
use anyhow::Result;
use clap::Args;
use minutely_formats::instant;
use std::path::Path;

#[derive(Args)]
pub struct AuditArgs {
    /// Only this tenant's changes (operator-wide changes are then left out).
    #[arg(long)]
    tenant: Option<String>,
    /// Start after this sequence number (the `seq` of the last row already read).
    #[arg(long, default_value_t = 0)]
    after: u64,
    /// At most this many rows.
    #[arg(long, default_value_t = 1_000)]
    limit: usize,
}

/// One row per change, oldest first, tab-separated; `-` stands for an empty cell.
pub fn run(db: &Path, args: AuditArgs) -> Result<()> {
    let store = open_store(db)?;
    let rows = store.audit_page(args.tenant.as_deref(), args.after, args.limit)?;
    let mut out =
        String::from("seq\tat\tactor\tkey\ttenant\taction\tobject\tbefore\tafter\trequest_id\n");
    let cell = |text: Option<&str>| text.unwrap_or("-").replace(['\t', '\n', '\r'], " ");
    for row in rows {
        let e = &row.entry;
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            row.seq,
            instant::format(e.at),
            e.actor_kind.as_str(),
            cell(e.actor_key_id.as_deref()),
            cell(e.tenant.as_deref()),
            cell(Some(&e.action)),
            cell(Some(&e.object)),
            cell(e.before.as_deref()),
            cell(e.after.as_deref()),
            cell(e.request_id.as_deref()),
        ));
    }
    emit(&out)
}
