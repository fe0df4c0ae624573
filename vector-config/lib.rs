//! Test-only crate: see tests/vrl_export.rs and README.md.
