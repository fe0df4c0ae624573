//! The Fluent Bit `filter_wasm` ABI (wasm32 only).
//!
//! `fn(tag, tag_len, time_sec, time_nsec, record, record_len) -> *const u8`:
//! the record is the JSON body (`event_format json`); the result is a
//! NUL-terminated JSON object in a module-owned buffer that stays valid until
//! the next call (Fluent Bit copies it and never frees it), or `""` to drop.
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

fn setup() -> &'static Setup {
    if let Some(s) = SETUP.with(Cell::get) {
        return s;
    }
    let s: &'static Setup = Box::leak(Box::new(config::load(&mut config::read_fs)));
    if let Some(e) = &s.error {
        // Once per instance; every record also carries it.
        let _ = writeln!(std::io::stderr(), "[kaudit] configuration not used, running the built-in rules: {e}");
    }
    SETUP.with(|c| c.set(Some(s)));
    s
}

fn call(mode: Mode, record: *const u8, record_len: u32) -> *const u8 {
    let input: &[u8] = if record.is_null() || record_len == 0 {
        &[]
    } else {
        // SAFETY: Fluent Bit copied `record_len` bytes (plus a NUL) into our
        // memory at `record` and keeps them alive for the duration of the call.
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

/// Normalize + detect: the canonical event with `kaudit.detections`.
#[no_mangle]
pub extern "C" fn kaudit_filter(
    _tag: *const u8,
    _tag_len: u32,
    _time_sec: u32,
    _time_nsec: u32,
    record: *const u8,
    record_len: u32,
) -> *const u8 {
    call(Mode::Filter, record, record_len)
}

/// The canonical event only.
#[no_mangle]
pub extern "C" fn kaudit_normalize(
    _tag: *const u8,
    _tag_len: u32,
    _time_sec: u32,
    _time_nsec: u32,
    record: *const u8,
    record_len: u32,
) -> *const u8 {
    call(Mode::Normalize, record, record_len)
}

/// The annotated event when a rule fired, else `""` (drop).
#[no_mangle]
pub extern "C" fn kaudit_alerts(
    _tag: *const u8,
    _tag_len: u32,
    _time_sec: u32,
    _time_nsec: u32,
    record: *const u8,
    record_len: u32,
) -> *const u8 {
    call(Mode::Alerts, record, record_len)
}
