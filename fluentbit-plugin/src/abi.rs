//! The Fluent Bit `filter_wasm` ABI.
//!
//! `fn(tag, tag_len, time_sec, time_nsec, record, record_len) -> *const u8`:
//! the record is the JSON body (`event_format json`); the result is a
//! NUL-terminated JSON object in a module-owned buffer that stays valid until
//! the next call of the same export (Fluent Bit copies it and never frees
//! it), or `""` to drop.
//!
//! The three exports share one body ([`call`]) and differ only in their
//! [`Mode`]. They compile natively too, so the fuzz target and the contract
//! check (`kaudit_tests::contract::fluentbit`) call exactly this code; the
//! wasmtime harness (`tests/harness.rs`) calls it inside the module.
//!
//! State lives in `Cell`s that are *taken* for the duration of a call and put
//! back before returning, never borrowed: if a call ever trapped, the next
//! call would start from a fresh engine instead of failing forever (the
//! `RefCell` pitfall of fluentbit.md §7).

use std::cell::Cell;
use std::io::Write;

use crate::config::{self, Setup};
use crate::engine::{Engine, Mode};

thread_local! {
    static SETUP: Cell<Option<&'static Setup>> = const { Cell::new(None) };
    static ENGINES: [Cell<Option<Box<Engine<'static>>>>; 3] = const { [Cell::new(None), Cell::new(None), Cell::new(None)] };
}

/// The instance's setup: [`config::CONFIG_PATH`] read once (per thread, so
/// once per wasm instance), then kept for the instance's life.
pub fn setup() -> &'static Setup {
    if let Some(s) = SETUP.with(Cell::get) {
        return s;
    }
    // Leaked on purpose: one per instance, referenced by its engines forever.
    let s: &'static Setup = Box::leak(Box::new(config::load(&mut config::read_fs)));
    if let Some(e) = &s.error {
        // Once per instance; every record also carries it.
        let _ = writeln!(std::io::stderr(), "[kaudit] configuration not used, running the built-in rules: {e}");
    }
    SETUP.with(|c| c.set(Some(s)));
    s
}

/// The body of every export: run `mode`'s engine on the record and return
/// its NUL-terminated output buffer.
///
/// # Safety
///
/// As for the exports: `record` is null or valid for `record_len` bytes.
unsafe fn call(mode: Mode, record: *const u8, record_len: u32) -> *const u8 {
    let input: &[u8] = if record.is_null() || record_len == 0 {
        &[]
    } else {
        // SAFETY: the caller's contract (Fluent Bit copied `record_len` bytes,
        // plus a NUL, into our memory at `record` and keeps them alive for
        // the call; native callers pass a live slice).
        unsafe { std::slice::from_raw_parts(record, record_len as usize) }
    };
    let slot = mode as usize;
    let mut engine = match ENGINES.with(|e| e[slot].take()) {
        Some(e) => e,
        None => Box::new(Engine::new(setup(), mode)),
    };
    engine.process(input);
    let ptr = engine.output_ptr();
    ENGINES.with(|e| e[slot].set(Some(engine)));
    ptr
}

/// One export: the ABI's signature around [`call`] with a fixed mode.
macro_rules! export {
    ($(#[$doc:meta])* $name:ident => $mode:expr) => {
        $(#[$doc])*
        ///
        /// # Safety
        ///
        /// `record` is null or points to `record_len` readable bytes that stay
        /// alive for the call (Fluent Bit guarantees it; the tag is unused).
        #[no_mangle]
        pub unsafe extern "C" fn $name(
            _tag: *const u8,
            _tag_len: u32,
            _time_sec: u32,
            _time_nsec: u32,
            record: *const u8,
            record_len: u32,
        ) -> *const u8 {
            // SAFETY: this function's own contract, passed on.
            unsafe { call($mode, record, record_len) }
        }
    };
}

export!(
    /// Normalize + detect: the canonical event with `kaudit.detections`.
    kaudit_filter => Mode::Filter
);
export!(
    /// The canonical event only.
    kaudit_normalize => Mode::Normalize
);
export!(
    /// The annotated event when a rule fired, else `""` (drop).
    kaudit_alerts => Mode::Alerts
);

/// An export's signature.
pub type ExportFn = unsafe extern "C" fn(*const u8, u32, u32, u32, *const u8, u32) -> *const u8;

/// The export of a mode (what Fluent Bit resolves by name).
pub fn export_fn(mode: Mode) -> ExportFn {
    match mode {
        Mode::Filter => kaudit_filter,
        Mode::Normalize => kaudit_normalize,
        Mode::Alerts => kaudit_alerts,
    }
}
