//! The statement as one self-contained HTML page: inline CSS, no scripts, no external
//! resources, `lang` set, laid out for the screen and for printing on A4.

use crate::view::{Section, View};
use crate::{Lang, Statement, StatementError};
use std::fmt::Write;

const STYLE: &str = "\
:root{color-scheme:light}\
body{font-family:system-ui,-apple-system,'Segoe UI','Noto Sans','Noto Sans CJK JP','Noto Sans CJK SC',sans-serif;\
color:#1b1f24;margin:2rem auto;max-width:52rem;padding:0 1rem;line-height:1.45}\
h1{font-size:1.5rem;margin:0}\
.month{font-size:1.15rem;color:#444;margin:.2rem 0 1rem}\
.note{border-left:4px solid #c77c02;background:#fff8e6;padding:.5rem .8rem;margin:1rem 0}\
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0 0 1.5rem}\
dl.facts dt{color:#555}dl.facts dd{margin:0}\
h2{font-size:1.05rem;margin:1.6rem 0 .4rem;border-bottom:1px solid #ccc;padding-bottom:.2rem}\
table{border-collapse:collapse;width:100%}\
th,td{padding:.25rem .5rem;text-align:left;vertical-align:top}\
th{font-weight:600;color:#444;border-bottom:1px solid #999}\
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\
tbody tr:nth-child(even){background:#f6f7f9}\
tfoot td{font-weight:600;border-top:1px solid #999}\
p.empty{color:#666;margin:.3rem 0}\
p.identity{color:#555;font-size:.9rem;margin-top:1.5rem}\
@page{size:A4;margin:18mm}\
@media print{body{margin:0;max-width:none;font-size:10pt}tbody tr:nth-child(even){background:none}\
h2{break-after:avoid}tr{break-inside:avoid}.note{background:none}}";

/// Escapes text for HTML content and attribute values.
fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape(text, &mut out);
    out
}

fn section(s: &Section, out: &mut String) {
    let class = |numeric: bool| if numeric { " class=\"n\"" } else { "" };
    let _ = write!(out, "<section><h2>{}</h2>", esc(&s.title));
    if s.rows.is_empty() && !s.empty.is_empty() {
        let _ = write!(out, "<p class=\"empty\">{}</p></section>", esc(&s.empty));
        return;
    }
    out.push_str("<table><thead><tr>");
    for (label, numeric) in &s.columns {
        let _ = write!(out, "<th{}>{}</th>", class(*numeric), esc(label));
    }
    out.push_str("</tr></thead><tbody>");
    for row in &s.rows {
        out.push_str("<tr>");
        for (cell, (_, numeric)) in row.iter().zip(&s.columns) {
            let _ = write!(out, "<td{}>{}</td>", class(*numeric), esc(cell));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody>");
    if let Some(total) = &s.total {
        out.push_str("<tfoot><tr>");
        for (cell, (_, numeric)) in total.iter().zip(&s.columns) {
            let _ = write!(out, "<td{}>{}</td>", class(*numeric), esc(cell));
        }
        out.push_str("</tr></tfoot>");
    }
    out.push_str("</table></section>");
}

/// The statement as an HTML page in `lang`.
pub fn render(statement: &Statement, lang: Lang) -> Result<String, StatementError> {
    let view = View::new(statement, lang)?;
    Ok(page(&view))
}

fn page(v: &View) -> String {
    let mut out = String::with_capacity(16 << 10);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} — {}</title><style>{STYLE}</style></head><body><header><h1>{}</h1>\
         <p class=\"month\">{}</p></header>",
        v.lang.tag(),
        esc(&v.title),
        esc(&v.subtitle),
        esc(&v.title),
        esc(&v.subtitle)
    );
    if let Some(note) = &v.provisional {
        let _ = write!(out, "<p class=\"note\">{}</p>", esc(note));
    }
    out.push_str("<dl class=\"facts\">");
    for (label, value) in &v.facts {
        let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", esc(label), esc(value));
    }
    out.push_str("</dl>");
    for s in &v.sections {
        section(s, &mut out);
    }
    let _ = writeln!(
        out,
        "<p class=\"identity\">{}</p></body></html>",
        esc(&v.identity)
    );
    out
}
