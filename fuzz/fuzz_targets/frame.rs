//! Framing is independent of how the stream is cut into reads. The first
//! byte says how many cut points follow (0–7), each one byte scaled to the
//! length of the rest, which is the stream.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else { return };
    let k = ((n % 8) as usize).min(rest.len());
    let (cuts, stream) = rest.split_at(k);
    let cuts: Vec<usize> = cuts.iter().map(|&c| c as usize * (stream.len() + 1) / 256).collect();
    kaudit_tests::contract::frame_chunks(stream, &cuts);
});
