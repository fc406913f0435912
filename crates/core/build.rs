//! Extracts the numbering plan from the libphonenumber metadata (as the `phonenumber` crate ships
//! it) into static tables: every calling code with its regions in the order libphonenumber tries
//! them, and for each region its leading-digit pattern, its general pattern and the patterns of
//! its number types (white space removed), with their possible lengths, and its example numbers.
//! At run time the plan reads these tables and compiles a pattern only when a number needs it,
//! so the metadata database itself (whose loading parses every pattern) is never loaded.

use std::fmt::Write;

fn squeeze(pattern: &str) -> String {
    pattern.chars().filter(|c| !c.is_whitespace()).collect()
}

fn pattern(out: &mut String, desc: &phonenumber::metadata::Descriptor) {
    let _ = write!(
        out,
        "PatternData {{ source: {:?}, lengths: &{:?} }}",
        squeeze(desc.national_number().as_str()),
        desc.possible_length()
    );
}

fn region(out: &mut String, meta: &phonenumber::metadata::Metadata) {
    let d = meta.descriptors();
    let types = [
        d.premium_rate(),
        d.toll_free(),
        d.shared_cost(),
        d.voip(),
        d.personal_number(),
        d.pager(),
        d.uan(),
        d.voicemail(),
        d.fixed_line(),
        d.mobile(),
    ];
    let example = |desc: Option<&phonenumber::metadata::Descriptor>| {
        desc.and_then(|x| x.example()).map(str::to_string)
    };
    let _ = write!(
        out,
        "RegionData {{ id: {:?}, leading_digits: {:?}, general: ",
        meta.id(),
        meta.leading_digits().map(|r| squeeze(r.as_str()))
    );
    pattern(out, d.general());
    out.push_str(", types: &[");
    for desc in types.into_iter().flatten() {
        pattern(out, desc);
        out.push_str(", ");
    }
    let _ = writeln!(
        out,
        "], fixed_example: {:?}, mobile_example: {:?} }},",
        example(d.fixed_line()),
        example(d.mobile())
    );
}

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let database = &*phonenumber::metadata::DATABASE;
    let mut out = String::from("static PLAN_TABLES: &[CodeData] = &[\n");
    // Country calling codes have one to three digits; non-geographic entities share the id
    // "001", so the codes are enumerated rather than read off the ids.
    for code in 1u16..=999 {
        let Some(ids) = database.region(&code) else {
            continue;
        };
        // The database lists the regions of a code with the main country first, which is the
        // order in which libphonenumber tries them.
        let mut metas = database.by_code(&code).unwrap_or_default();
        metas.sort_by_key(|meta| ids.iter().position(|id| *id == meta.id()));
        let _ = writeln!(out, "CodeData {{ code: {code}, regions: &[");
        for meta in metas {
            region(&mut out, meta);
        }
        out.push_str("] },\n");
    }
    out.push_str("];\n");
    let dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(std::path::Path::new(&dir).join("plan_tables.rs"), out)
        .expect("OUT_DIR is writable");
}
