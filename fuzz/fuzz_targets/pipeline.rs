//! Normalize + detect with the built-in pack, stateful rules included.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| kaudit_tests::contract::pipeline(data));
