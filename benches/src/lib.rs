//! The benches' corpora come from `kaudit-gen` (shared with `kaudit gen`);
//! this crate only re-exports it so that the benches read
//! `kaudit_benches::vanilla_corpus` and friends.

pub use kaudit_gen::*;
