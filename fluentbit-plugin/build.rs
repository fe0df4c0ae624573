//! Export wasi-libc's `malloc` and `free` from the wasm module, so that
//! Fluent Bit (WAMR) copies tag and record through the guest allocator
//! instead of its small fixed app heap (fluentbit.md §6).
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-cdylib-link-arg=--export=malloc");
        println!("cargo:rustc-cdylib-link-arg=--export=free");
    }
}
