#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| minutely_fuzz::api::api_bodies(data, &|_| {}));
