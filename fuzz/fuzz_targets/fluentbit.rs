//! The Fluent Bit filter exports through their ABI: the bytes are one
//! record, passed by pointer and length to `kaudit_filter`,
//! `kaudit_normalize` and `kaudit_alerts`; each returned buffer is read back
//! and checked (`kaudit_tests::contract::fluentbit`).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| kaudit_tests::contract::fluentbit(data));
