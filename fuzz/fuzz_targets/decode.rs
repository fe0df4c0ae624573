//! Record decode of every shape: any bytes, framed and decoded.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| kaudit_tests::contract::decode(data));
