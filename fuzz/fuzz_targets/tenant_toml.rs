#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| minutely_fuzz::formats::tenant_toml(data));
