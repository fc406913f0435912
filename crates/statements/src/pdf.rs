//! The statement as a PDF (A4), drawn with krilla. Text is shaped here (rustybuzz, the shaper
//! krilla itself uses) so that columns can be measured and amounts right-aligned; every glyph
//! carries its text, so the PDF's text can be extracted and searched. The font is embedded
//! (subset): see [`crate::fonts`].

use crate::fonts;
use crate::view::{Section, View};
use crate::{Lang, Statement, StatementError};
use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::text::{Font, GlyphId, KrillaGlyph};
use rustybuzz::{Face, UnicodeBuffer};
use std::path::Path;
use std::sync::Arc;

const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN: f32 = 48.0;
const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN;
const BODY: f32 = 9.0;
const ROW: f32 = 14.0;
const CELL_PAD: f32 = 8.0;
/// The longest cell text drawn; longer text is cut (the HTML page shows it whole).
const MAX_CELL_CHARS: usize = 120;
/// The most pages one statement draws.
const MAX_PAGES: usize = 500;

/// The statement as a PDF in `lang`, with the font found by [`fonts::find`] (`font` first).
pub fn render(
    statement: &Statement,
    lang: Lang,
    font: Option<&Path>,
) -> Result<Vec<u8>, StatementError> {
    let view = View::new(statement, lang)?;
    let regular_path = fonts::find(font)?;
    let regular = fonts::load(&regular_path)?;
    let bold = match fonts::bold_of(&regular_path) {
        Some(path) => fonts::load(&path).ok(),
        None => None,
    };
    draw(&view, regular, bold)
}

/// A font as both the shaper and krilla see it.
struct Styled<'a> {
    face: Face<'a>,
    font: Font,
}

impl<'a> Styled<'a> {
    fn new(data: &'a Arc<Vec<u8>>, lang: Lang) -> Result<Styled<'a>, StatementError> {
        let index = fonts::face_index(data, lang);
        let bad = || StatementError::Font(format!("face {index} of the font cannot be used"));
        let face = Face::from_slice(data, index).ok_or_else(bad)?;
        let font = Font::new(data.clone().into(), index).ok_or_else(bad)?;
        Ok(Styled { face, font })
    }
}

/// A line of text, shaped.
struct Shaped {
    text: String,
    glyphs: Vec<KrillaGlyph>,
    /// Width at size 1.
    em_width: f32,
}

/// Replaces the spaces a font lacks (narrow and no-break spaces) with a plain space.
fn drawable(face: &Face, text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_whitespace() && c != ' ' && face.glyph_index(c).is_none() {
                ' '
            } else {
                c
            }
        })
        .collect()
}

fn shape(face: &Face, text: &str) -> Shaped {
    let text = drawable(face, text);
    let mut buffer = UnicodeBuffer::new();
    buffer.push_str(&text);
    buffer.set_direction(rustybuzz::Direction::LeftToRight);
    let output = rustybuzz::shape(face, &[], buffer);
    let upem = face.units_per_em() as f32;
    let infos = output.glyph_infos();
    let positions = output.glyph_positions();
    let mut glyphs = Vec::with_capacity(infos.len());
    let mut em_width = 0.0;
    for (i, (info, pos)) in infos.iter().zip(positions).enumerate() {
        let start = info.cluster as usize;
        let end = infos[i + 1..]
            .iter()
            .map(|next| next.cluster as usize)
            .find(|&c| c != start)
            .unwrap_or(text.len());
        let advance = pos.x_advance as f32 / upem;
        em_width += advance;
        glyphs.push(KrillaGlyph::new(
            GlyphId::new(info.glyph_id),
            advance,
            pos.x_offset as f32 / upem,
            pos.y_offset as f32 / upem,
            pos.y_advance as f32 / upem,
            start..end.max(start),
            None,
        ));
    }
    Shaped {
        text,
        glyphs,
        em_width,
    }
}

/// Shaped text that fits in `max` points at `size`, cut with an ellipsis when it does not.
fn fitted(face: &Face, text: &str, size: f32, max: f32) -> Shaped {
    let mut chars: Vec<char> = text.chars().take(MAX_CELL_CHARS).collect();
    let cut = chars.len() < text.chars().count();
    let mut shaped = shape(face, &with_ellipsis(&chars, cut));
    while shaped.em_width * size > max && !chars.is_empty() {
        chars.pop();
        shaped = shape(face, &with_ellipsis(&chars, true));
    }
    shaped
}

fn with_ellipsis(chars: &[char], cut: bool) -> String {
    let mut s: String = chars.iter().collect();
    if cut {
        s.push('…');
    }
    s
}

/// Breaks text into lines of at most `max` points, at spaces when there are any (CJK text
/// breaks between characters).
fn wrap(face: &Face, text: &str, size: f32, max: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for c in text.chars() {
        line.push(c);
        if shape(face, &line).em_width * size <= max {
            continue;
        }
        line.pop();
        let carry = match line.rfind(' ') {
            Some(at) if at > 0 => {
                let rest = line[at + 1..].to_string();
                line.truncate(at);
                rest
            }
            _ => String::new(),
        };
        lines.push(std::mem::take(&mut line));
        line = carry;
        line.push(c);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[derive(Clone, Copy)]
enum Ink {
    Text,
    Muted,
    Accent,
}

impl Ink {
    fn color(self) -> rgb::Color {
        match self {
            Ink::Text => rgb::Color::new(27, 31, 36),
            Ink::Muted => rgb::Color::new(90, 96, 104),
            Ink::Accent => rgb::Color::new(150, 90, 0),
        }
    }
}

enum Op {
    Text {
        x: f32,
        y: f32,
        size: f32,
        bold: bool,
        ink: Ink,
        shaped: Shaped,
    },
    Rule {
        y: f32,
        x1: f32,
        x2: f32,
        width: f32,
    },
}

/// Lays the view out page by page.
struct Layout<'f> {
    regular: &'f Face<'f>,
    bold: &'f Face<'f>,
    pages: Vec<Vec<Op>>,
    y: f32,
}

impl<'f> Layout<'f> {
    fn face(&self, bold: bool) -> &'f Face<'f> {
        if bold { self.bold } else { self.regular }
    }

    fn page(&mut self) -> &mut Vec<Op> {
        self.pages.last_mut().expect("a page is open")
    }

    /// Makes room for `height` more points, starting a page when needed.
    fn room(&mut self, height: f32) -> Result<bool, StatementError> {
        if self.y + height <= PAGE_H - MARGIN - 16.0 {
            return Ok(false);
        }
        if self.pages.len() >= MAX_PAGES {
            return Err(StatementError::Pdf(format!(
                "the statement needs more than {MAX_PAGES} pages"
            )));
        }
        self.pages.push(Vec::new());
        self.y = MARGIN;
        Ok(true)
    }

    #[allow(clippy::too_many_arguments)]
    fn text(&mut self, x: f32, size: f32, bold: bool, ink: Ink, text: &str, max: f32, right: bool) {
        let shaped = fitted(self.face(bold), text, size, max);
        let width = shaped.em_width * size;
        let x = if right { x + max - width } else { x };
        let y = self.y;
        self.page().push(Op::Text {
            x,
            y,
            size,
            bold,
            ink,
            shaped,
        });
    }

    fn rule(&mut self, width: f32) {
        let y = self.y;
        self.page().push(Op::Rule {
            y,
            x1: MARGIN,
            x2: PAGE_W - MARGIN,
            width,
        });
    }

    /// Column x positions and widths: numeric and leading text columns take their natural
    /// width; the last text column takes what is left.
    fn columns(&self, s: &Section) -> Vec<(f32, f32)> {
        let natural: Vec<f32> = s
            .columns
            .iter()
            .enumerate()
            .map(|(i, (label, _))| {
                let cells = s
                    .rows
                    .iter()
                    .chain(s.total.iter())
                    .filter_map(|row| row.get(i));
                std::iter::once(label)
                    .chain(cells)
                    .map(|t| {
                        let t: String = t.chars().take(MAX_CELL_CHARS).collect();
                        shape(self.bold, &t).em_width * BODY
                    })
                    .fold(0.0, f32::max)
                    + CELL_PAD
            })
            .collect();
        let flexible = s.columns.iter().rposition(|(_, numeric)| !numeric);
        let fixed: f32 = natural
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != flexible)
            .map(|(_, w)| w.min(CONTENT_W * 0.4))
            .sum();
        let mut x = MARGIN;
        natural
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let width = if Some(i) == flexible {
                    (CONTENT_W - fixed).max(60.0)
                } else {
                    w.min(CONTENT_W * 0.4)
                };
                let at = (x, width - CELL_PAD);
                x += width;
                at
            })
            .collect()
    }

    fn row(&mut self, cells: &[String], cols: &[(f32, f32)], s: &Section, bold: bool, ink: Ink) {
        for ((cell, (x, w)), (_, numeric)) in cells.iter().zip(cols).zip(&s.columns) {
            self.text(*x, BODY, bold, ink, cell, *w, *numeric);
        }
    }

    fn section(&mut self, s: &Section) -> Result<(), StatementError> {
        // Keep the title with the header and the first row.
        self.room(22.0 + 3.0 * ROW)?;
        self.y += 22.0;
        self.text(MARGIN, 12.0, true, Ink::Text, &s.title, CONTENT_W, false);
        self.y += 4.0;
        if s.rows.is_empty() && !s.empty.is_empty() {
            self.y += ROW;
            self.text(MARGIN, BODY, false, Ink::Muted, &s.empty, CONTENT_W, false);
            return Ok(());
        }
        let cols = self.columns(s);
        let labels: Vec<String> = s.columns.iter().map(|(l, _)| l.clone()).collect();
        let header = |layout: &mut Layout| {
            layout.y += ROW;
            layout.row(&labels, &cols, s, true, Ink::Muted);
            layout.y += 4.0;
            layout.rule(0.6);
        };
        header(self);
        for cells in &s.rows {
            if self.room(ROW)? {
                header(self);
            }
            self.y += ROW;
            self.row(cells, &cols, s, false, Ink::Text);
        }
        if let Some(total) = &s.total {
            self.room(ROW + 4.0)?;
            self.y += 4.0;
            self.rule(0.6);
            self.y += ROW;
            self.row(total, &cols, s, true, Ink::Text);
        }
        Ok(())
    }
}

fn lay_out(view: &View, regular: &Face, bold: &Face) -> Result<Vec<Vec<Op>>, StatementError> {
    let mut l = Layout {
        regular,
        bold,
        pages: vec![Vec::new()],
        y: MARGIN,
    };
    l.y += 18.0;
    l.text(MARGIN, 18.0, true, Ink::Text, &view.title, CONTENT_W, false);
    l.y += 20.0;
    l.text(
        MARGIN,
        13.0,
        false,
        Ink::Muted,
        &view.subtitle,
        CONTENT_W,
        false,
    );
    if let Some(note) = &view.provisional {
        l.y += 6.0;
        for line in wrap(regular, note, BODY, CONTENT_W) {
            l.y += ROW;
            l.text(MARGIN, BODY, false, Ink::Accent, &line, CONTENT_W, false);
        }
    }
    l.y += 8.0;
    let label_w = view
        .facts
        .iter()
        .map(|(label, _)| shape(regular, label).em_width * BODY)
        .fold(0.0, f32::max)
        + 12.0;
    for (label, value) in &view.facts {
        l.y += ROW;
        l.text(MARGIN, BODY, false, Ink::Muted, label, label_w, false);
        l.text(
            MARGIN + label_w,
            BODY,
            false,
            Ink::Text,
            value,
            CONTENT_W - label_w,
            false,
        );
    }
    for s in &view.sections {
        l.section(s)?;
    }
    l.room(ROW * 2.0)?;
    l.y += ROW * 2.0;
    l.text(
        MARGIN,
        8.0,
        false,
        Ink::Muted,
        &view.identity,
        CONTENT_W,
        false,
    );
    Ok(l.pages)
}

fn fill(ink: Ink) -> Fill {
    Fill {
        paint: ink.color().into(),
        opacity: NormalizedF32::ONE,
        rule: Default::default(),
    }
}

fn draw(
    view: &View,
    regular: Arc<Vec<u8>>,
    bold: Option<Arc<Vec<u8>>>,
) -> Result<Vec<u8>, StatementError> {
    let regular = Styled::new(&regular, view.lang)?;
    let bold_data = bold;
    let bold = match &bold_data {
        Some(data) => Some(Styled::new(data, view.lang)?),
        None => None,
    };
    let bold = bold.as_ref().unwrap_or(&regular);
    let pages = lay_out(view, &regular.face, &bold.face)?;
    let count = pages.len();
    let mut document = Document::new();
    document.set_metadata(
        Metadata::new()
            .title(format!("{} — {}", view.title, view.subtitle))
            .language(view.lang.tag().to_string()),
    );
    let settings = PageSettings::from_wh(PAGE_W, PAGE_H)
        .ok_or_else(|| StatementError::Pdf("bad page size".into()))?;
    for (number, ops) in pages.into_iter().enumerate() {
        let mut page = document.start_page_with(settings.clone());
        let mut surface = page.surface();
        for op in ops {
            match op {
                Op::Text {
                    x,
                    y,
                    size,
                    bold: is_bold,
                    ink,
                    shaped,
                } => {
                    let font = if is_bold { &bold.font } else { &regular.font };
                    surface.set_fill(Some(fill(ink)));
                    surface.draw_glyphs(
                        Point::from_xy(x, y),
                        &shaped.glyphs,
                        font.clone(),
                        &shaped.text,
                        size,
                        false,
                    );
                }
                Op::Rule { y, x1, x2, width } => {
                    let mut pb = PathBuilder::new();
                    pb.move_to(x1, y);
                    pb.line_to(x2, y);
                    if let Some(path) = pb.finish() {
                        surface.set_fill(None);
                        surface.set_stroke(Some(Stroke {
                            paint: rgb::Color::new(150, 150, 150).into(),
                            width,
                            ..Default::default()
                        }));
                        surface.draw_path(&path);
                        surface.set_stroke(None);
                    }
                }
            }
        }
        // The page number, bottom right.
        let folio = shape(&regular.face, &format!("{} / {count}", number + 1));
        surface.set_fill(Some(fill(Ink::Muted)));
        surface.draw_glyphs(
            Point::from_xy(
                PAGE_W - MARGIN - folio.em_width * 8.0,
                PAGE_H - MARGIN + 14.0,
            ),
            &folio.glyphs,
            regular.font.clone(),
            &folio.text,
            8.0,
            false,
        );
        surface.finish();
        page.finish();
    }
    document
        .finish()
        .map_err(|e| StatementError::Pdf(format!("{e:?}")))
}
