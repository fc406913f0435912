#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| minutely_fuzz::formats::call_records_csv(data));
