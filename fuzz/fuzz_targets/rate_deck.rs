#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| minutely_fuzz::imports::rate_deck(data));
