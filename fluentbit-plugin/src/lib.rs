//! kaudit-fluentbit: kaudit's normalize + detect as a Fluent Bit
//! `filter_wasm` module (`wasm32-wasip1`, Fluent Bit ≥ 4.2.0).
//!
//! * [`config`]: the optional configuration file at [`CONFIG_PATH`].
//! * [`engine`]: one record in, one JSON object (or a drop) out, using the
//!   core's `Normalizer` / `Scanner`; compiles natively too (tests, benches).
//! * `abi` (wasm32 only): the exports `kaudit_filter`, `kaudit_normalize`,
//!   `kaudit_alerts`. `malloc`/`free` are wasi-libc's, exported by the linker
//!   (`build.rs`), so Fluent Bit copies records through the guest allocator.
//!
//! See `fluentbit-plugin/README.md` for the build command and the output contract.

pub mod config;
pub mod engine;

#[cfg(target_arch = "wasm32")]
mod abi;

pub use config::{Setup, CONFIG_PATH};
pub use engine::{Engine, Mode, CONFIG_ERROR_KEY, EVENTS_KEY};
