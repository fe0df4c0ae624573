//! IaC plans, eksctl/CloudFormation/manifests, and inventory outputs.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| kaudit_tests::contract::iac(data));
