//! The rule-file compiler: YAML, lists, macros, the condition language.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| kaudit_tests::contract::rule_file(data));
