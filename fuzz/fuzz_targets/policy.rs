//! Audit-policy parsing, validation, simulation and lint.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| kaudit_tests::contract::audit_policy(data));
