//! Framing is independent of how the stream is cut into reads
//! (`kaudit_tests::contract::frame_input` says how the input is read).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| kaudit_tests::contract::frame_input(data));
