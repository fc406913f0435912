//! The sample rate card and tenant file the black-box tests load (through the API, the command
//! line or a file), written once.

/// A rate-card CSV: the header, then the rows given (each ending with a newline), as one string
/// literal usable in a `const`.
#[macro_export]
macro_rules! rate_card {
    ($rows:literal) => {
        concat!(
            "kind,key,origin,name,country,premium,rate_per_minute,connection_fee,first_block_s,increment_s,effective_from\n",
            $rows
        )
    };
}

/// The sample rate card of the tests (EUR).
pub const RATES: &str = rate_card!(
    "\
dial_out,+33,,France,FR,false,0.0240,0,60,60,2026-01-01T00:00:00Z
dial_out,+336,,France mobile,FR,false,0.1100,0,60,60,2026-01-01T00:00:00Z
dial_out,+49,,Germany,DE,false,0.0300,0,60,60,2026-01-01T00:00:00Z
dial_out,+1,,North America,US,false,0.0100,0,60,60,2026-01-01T00:00:00Z
dial_out,+81,,Japan,JP,false,0.0900,0,60,60,2026-01-01T00:00:00Z
dial_out,+8190,,Japan premium,JP,true,0.9000,0.10,60,60,2026-01-01T00:00:00Z
dial_in_toll,FR,,France toll,FR,false,0.0300,0,60,60,2026-01-01T00:00:00Z
dial_in_toll_free,FR,*,France toll-free,FR,false,0.0500,0,60,60,2026-01-01T00:00:00Z
dial_in_toll_free,US,*,United States toll-free,US,false,0.0400,0,60,60,2026-01-01T00:00:00Z
"
);

/// A tenant file: a French volume-licensing tenant with a wallet (no auto-recharge), one
/// subscription user with credits, one pay-per-minute user, a toll and a toll-free number.
pub fn tenant_file(id: &str) -> String {
    format!(
        r#"
id = "{id}"
name = "Tenant {id}"
country = "FR"
currency = "EUR"
timezone = "Europe/Paris"
agreement = "volume_licensing"

[licenses]
MCOMEETADD = 5
MCOMEETACPEA = 5
MCOPSTNPP = 5

[wallet]

[[numbers]]
number = "+33 1 86 95 00 00"
kind = "toll"

[[numbers]]
number = "+33 805 98 00 00"
kind = "toll_free"

[[users]]
upn = "sub@{id}.example"
display_name = "Sub User"
licenses = ["MCOMEETADD", "MCOPSTNPP"]

[[users]]
upn = "ppm@{id}.example"
display_name = "PPM User"
licenses = ["MCOMEETACPEA"]
"#
    )
}

/// The repository's example tenant file (`examples/tenant.toml`), as the README uses it.
pub fn example_tenant_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/tenant.toml")
}

/// The text of the example tenant file.
pub fn example_tenant() -> String {
    std::fs::read_to_string(example_tenant_path()).expect("the example tenant file")
}
