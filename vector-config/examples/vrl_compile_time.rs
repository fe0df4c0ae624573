//! How long the pinned VRL takes to compile a program (the checked-in
//! `kaudit.vrl` by default): `cargo run -p kaudit-vector-tests --example
//! vrl_compile_time [-- FILE]`. A measuring aid, not a test.

use std::time::Instant;

fn main() {
    let path =
        std::env::args().nth(1).unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/kaudit.vrl").to_string());
    let src = match std::fs::read_to_string(&path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
    };
    let fns = vrl::stdlib::all();
    let t = Instant::now();
    let r = vrl::compiler::compile(&src, &fns);
    let ms = t.elapsed().as_millis();
    match r {
        Ok(_) => println!("{path}: compiled in {ms} ms ({} lines)", src.lines().count()),
        Err(d) => {
            println!("{path}: does not compile ({ms} ms):\n{}", vrl::diagnostic::Formatter::new(&src, d));
            std::process::exit(1);
        }
    }
}
