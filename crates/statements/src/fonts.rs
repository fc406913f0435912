//! The font a PDF statement embeds. Japanese and Chinese need a CJK font; Noto Sans CJK covers
//! Latin too, so one collection serves every language (its Japanese face for ja and the other
//! Latin-script languages, its Simplified Chinese face for zh-CN).
//!
//! Where it is looked for, in order: an explicit path, the `MINUTELY_FONT` environment
//! variable, then the places distributions install Noto Sans CJK. An explicit path or variable
//! that names a missing file is an error (it is not silently replaced by another font).

use crate::{Lang, StatementError};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// The environment variable naming the font file.
pub const FONT_ENV: &str = "MINUTELY_FONT";

/// Where distributions install Noto Sans CJK (regular weight), most common first.
pub const SYSTEM_FONTS: &[&str] = &[
    // Debian, Ubuntu: fonts-noto-cjk.
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    // Fedora: google-noto-sans-cjk-fonts.
    "/usr/share/fonts/google-noto-sans-cjk-fonts/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    // Arch: noto-fonts-cjk.
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    // Alpine: font-noto-cjk.
    "/usr/share/fonts/noto/NotoSansCJK-Regular.ttc",
];

/// The largest font file read (Noto Sans CJK's collection is about 20 MB).
pub const MAX_FONT_BYTES: u64 = 64 << 20;

/// The font file to use: `explicit`, else `$MINUTELY_FONT`, else the first of
/// [`SYSTEM_FONTS`] that exists.
pub fn find(explicit: Option<&Path>) -> Result<PathBuf, StatementError> {
    let named = explicit
        .map(|p| (p.to_path_buf(), "the font path given"))
        .or_else(|| {
            std::env::var_os(FONT_ENV)
                .filter(|v| !v.is_empty())
                .map(|v| (PathBuf::from(v), FONT_ENV))
        });
    if let Some((path, source)) = named {
        if path.is_file() {
            return Ok(path);
        }
        return Err(StatementError::Font(format!(
            "{source} names {}, which is not a readable file; PDF statements need a font with \
             Japanese and Simplified Chinese glyphs, such as NotoSansCJK-Regular.ttc \
             (`apt install fonts-noto-cjk`)",
            path.display()
        )));
    }
    SYSTEM_FONTS
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| {
            StatementError::Font(format!(
                "no font for PDF statements: NotoSansCJK-Regular.ttc was not found (looked in {}). \
                 Install it (`apt install fonts-noto-cjk`) or name a font file with {FONT_ENV}",
                SYSTEM_FONTS.join(", ")
            ))
        })
}

/// The bold companion of a regular font file (`...-Regular.ttc` to `...-Bold.ttc`), if it
/// exists.
pub fn bold_of(regular: &Path) -> Option<PathBuf> {
    let name = regular.file_name()?.to_str()?;
    if !name.contains("Regular") {
        return None;
    }
    let bold = regular.with_file_name(name.replace("Regular", "Bold"));
    bold.is_file().then_some(bold)
}

/// The bytes of a font file, read once per process and shared.
pub fn load(path: &Path) -> Result<Arc<Vec<u8>>, StatementError> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Arc<Vec<u8>>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(data) = cache.lock().ok().and_then(|c| c.get(path).cloned()) {
        return Ok(data);
    }
    let fail = |detail: String| {
        StatementError::Font(format!(
            "the font {} cannot be read: {detail}",
            path.display()
        ))
    };
    let size = std::fs::metadata(path)
        .map_err(|e| fail(e.to_string()))?
        .len();
    if size > MAX_FONT_BYTES {
        return Err(fail(format!(
            "it is larger than {} MiB",
            MAX_FONT_BYTES >> 20
        )));
    }
    let data = Arc::new(std::fs::read(path).map_err(|e| fail(e.to_string()))?);
    if let Ok(mut c) = cache.lock() {
        // A handful of paths at most: the regular and bold faces.
        if c.len() < 8 {
            c.insert(path.to_path_buf(), data.clone());
        }
    }
    Ok(data)
}

/// The face of a collection to use for a language: the one whose family name marks the
/// language's script (`CJK JP`, `CJK SC`), else the first. A single font has one face.
pub fn face_index(data: &[u8], lang: Lang) -> u32 {
    let Some(count) = rustybuzz::ttf_parser::fonts_in_collection(data) else {
        return 0;
    };
    let wanted = match lang {
        Lang::ZhCn => "CJK SC",
        _ => "CJK JP",
    };
    (0..count.min(64))
        .find(|&i| {
            rustybuzz::ttf_parser::Face::parse(data, i)
                .ok()
                .is_some_and(|face| {
                    face.names().into_iter().any(|name| {
                        name.name_id == rustybuzz::ttf_parser::name_id::FULL_NAME
                            && name
                                .to_string()
                                .is_some_and(|n| n.contains(wanted) && !n.contains("Mono"))
                    })
                })
        })
        .unwrap_or(0)
}
