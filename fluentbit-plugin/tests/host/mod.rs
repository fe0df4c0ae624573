//! A wasmtime host that calls the module the way Fluent Bit's `filter_wasm`
//! does (`src/wasm/flb_wasm.c`, v4.2.0 – v5.1.1; fluentbit.md §1–§2, §6):
//!
//! * one persistent instance per filter (per export here);
//! * tag and record are copied into guest memory with `len + 1` bytes (the
//!   JSON record NUL-terminated) through the module's exported `malloc`
//!   (WAMR's `wasm_runtime_module_dup_data` uses the guest allocator when
//!   the module exports `malloc`/`free`), and freed with its `free` after
//!   the call;
//! * the export is called with `(tag, tag_len, time_sec, time_nsec, record,
//!   record_len)`; the result must be a NUL-terminated string inside linear
//!   memory, which the host copies and **never frees**; `""` (or address 0)
//!   is a drop; a trap drops the record too.
//!
//! WASI preview 1 is a minimal shim of the calls the module imports (the
//! full `wasmtime-wasi` pulls in the component model and tokio): no argv,
//! no environment (as WAMR), stdout/stderr captured, and at most one
//! preopened directory, read-only, as Fluent Bit's `accessible_paths`.

#![allow(dead_code)]

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use wasmtime::{Caller, Engine, Extern, Linker, Memory, Module, Store, TypedFunc};

/// The module, built by cargo into a target directory of its own (the outer
/// `cargo test` holds the lock of the usual one), once per test binary.
pub fn module_path() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let workspace = manifest.parent().expect("the plugin lives in the workspace");
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fluentbit-wasm");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(workspace)
            .args(["build", "--quiet", "-p", "kaudit-fluentbit", "--target", "wasm32-wasip1", "--profile", "wasm"])
            .arg("--target-dir")
            .arg(&target)
            .status()
            .expect("run cargo to build the wasm module");
        assert!(status.success(), "building the wasm module failed (is the wasm32-wasip1 target installed?)");
        target.join("wasm32-wasip1/wasm/kaudit_fluentbit.wasm")
    })
}

/// The compiled module, shared by every instance of a test binary.
pub fn module() -> &'static (Engine, Module) {
    static M: OnceLock<(Engine, Module)> = OnceLock::new();
    M.get_or_init(|| {
        // `KAUDIT_WASM_PERFMAP=1` writes /tmp/perf-<pid>.map so that `perf
        // report` names the module's functions (BENCHMARKS.md, profiling the
        // wasm module).
        let mut config = wasmtime::Config::new();
        if std::env::var_os("KAUDIT_WASM_PERFMAP").is_some() {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config).expect("a wasmtime engine");
        let module = Module::from_file(&engine, module_path()).expect("compile the module");
        (engine, module)
    })
}

/// Host-side state of one instance.
#[derive(Default)]
pub struct Wasi {
    /// (host directory, guest path) of the preopened directory, if any.
    preopen: Option<(PathBuf, String)>,
    files: Vec<Option<File>>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    rng: u64,
}

const PREOPEN_FD: i32 = 3;
const ESUCCESS: i32 = 0;
const EBADF: i32 = 8;
const EINVAL: i32 = 28;
const EIO: i32 = 29;
const ENOENT: i32 = 44;
const EFAULT: i32 = 21;

fn mem<'a>(c: &'a mut Caller<'_, Wasi>) -> (&'a mut [u8], &'a mut Wasi) {
    match c.get_export("memory") {
        Some(Extern::Memory(m)) => m.data_and_store_mut(c),
        _ => panic!("the module exports no memory"),
    }
}

fn get<const N: usize>(m: &[u8], at: i32) -> Option<[u8; N]> {
    let at = usize::try_from(at).ok()?;
    m.get(at..at.checked_add(N)?)?.try_into().ok()
}

fn put(m: &mut [u8], at: i32, bytes: &[u8]) -> bool {
    let Ok(at) = usize::try_from(at) else { return false };
    match m.get_mut(at..at + bytes.len()) {
        Some(dst) => {
            dst.copy_from_slice(bytes);
            true
        }
        None => false,
    }
}

fn u32_at(m: &[u8], at: i32) -> Option<u32> {
    get::<4>(m, at).map(u32::from_le_bytes)
}

/// The iovecs `(ptr, len)` at `iovs`.
fn iovecs(m: &[u8], iovs: i32, n: i32) -> Option<Vec<(usize, usize)>> {
    (0..n)
        .map(|i| {
            let base = iovs.checked_add(i.checked_mul(8)?)?;
            Some((u32_at(m, base)? as usize, u32_at(m, base + 4)? as usize))
        })
        .collect()
}

fn file_index(fd: i32) -> Option<usize> {
    usize::try_from(fd).ok()?.checked_sub(PREOPEN_FD as usize + 1)
}

fn add_wasi(linker: &mut Linker<Wasi>) -> wasmtime::Result<()> {
    let m = "wasi_snapshot_preview1";
    linker.func_wrap(m, "environ_sizes_get", |mut c: Caller<'_, Wasi>, count: i32, size: i32| -> i32 {
        let (mem, _) = mem(&mut c);
        if put(mem, count, &0u32.to_le_bytes()) && put(mem, size, &0u32.to_le_bytes()) {
            ESUCCESS
        } else {
            EFAULT
        }
    })?;
    linker.func_wrap(m, "environ_get", |_: Caller<'_, Wasi>, _: i32, _: i32| -> i32 { ESUCCESS })?;
    linker.func_wrap(m, "proc_exit", |_: Caller<'_, Wasi>, code: i32| -> wasmtime::Result<()> {
        Err(wasmtime::Error::msg(format!("proc_exit({code})")))
    })?;
    linker.func_wrap(m, "random_get", |mut c: Caller<'_, Wasi>, buf: i32, len: i32| -> i32 {
        let (mem, st) = mem(&mut c);
        let mut bytes = vec![0u8; len.max(0) as usize];
        for b in &mut bytes {
            // xorshift64: deterministic, enough for HashMap seeds.
            st.rng ^= st.rng << 13;
            st.rng ^= st.rng >> 7;
            st.rng ^= st.rng << 17;
            *b = st.rng as u8;
        }
        if put(mem, buf, &bytes) {
            ESUCCESS
        } else {
            EFAULT
        }
    })?;
    linker.func_wrap(m, "fd_write", |mut c: Caller<'_, Wasi>, fd: i32, iovs: i32, n: i32, written: i32| -> i32 {
        let (mem, st) = mem(&mut c);
        let Some(v) = iovecs(mem, iovs, n) else { return EFAULT };
        let mut total = Vec::new();
        for (p, l) in v {
            match mem.get(p..p + l) {
                Some(s) => total.extend_from_slice(s),
                None => return EFAULT,
            }
        }
        match fd {
            1 => st.stdout.extend_from_slice(&total),
            2 => st.stderr.extend_from_slice(&total),
            _ => return EBADF,
        }
        if put(mem, written, &(total.len() as u32).to_le_bytes()) {
            ESUCCESS
        } else {
            EFAULT
        }
    })?;
    linker.func_wrap(m, "fd_read", |mut c: Caller<'_, Wasi>, fd: i32, iovs: i32, n: i32, read: i32| -> i32 {
        let (mem, st) = mem(&mut c);
        let Some(v) = iovecs(mem, iovs, n) else { return EFAULT };
        let Some(Some(f)) = file_index(fd).and_then(|i| st.files.get_mut(i)) else { return EBADF };
        let mut total = 0u32;
        for (p, l) in v {
            let Some(dst) = mem.get_mut(p..p + l) else { return EFAULT };
            match f.read(dst) {
                Ok(k) => {
                    total += k as u32;
                    if k < l {
                        break;
                    }
                }
                Err(_) => return EIO,
            }
        }
        if put(mem, read, &total.to_le_bytes()) {
            ESUCCESS
        } else {
            EFAULT
        }
    })?;
    linker.func_wrap(m, "fd_close", |mut c: Caller<'_, Wasi>, fd: i32| -> i32 {
        let (_, st) = mem(&mut c);
        match file_index(fd).and_then(|i| st.files.get_mut(i)) {
            Some(slot @ Some(_)) => {
                *slot = None;
                ESUCCESS
            }
            _ => EBADF,
        }
    })?;
    linker.func_wrap(m, "fd_prestat_get", |mut c: Caller<'_, Wasi>, fd: i32, buf: i32| -> i32 {
        let (mem, st) = mem(&mut c);
        match (&st.preopen, fd) {
            (Some((_, guest)), PREOPEN_FD) => {
                let mut b = [0u8; 8];
                b[4..].copy_from_slice(&(guest.len() as u32).to_le_bytes());
                if put(mem, buf, &b) {
                    ESUCCESS
                } else {
                    EFAULT
                }
            }
            _ => EBADF,
        }
    })?;
    linker.func_wrap(m, "fd_prestat_dir_name", |mut c: Caller<'_, Wasi>, fd: i32, buf: i32, len: i32| -> i32 {
        let (mem, st) = mem(&mut c);
        match (&st.preopen, fd) {
            (Some((_, guest)), PREOPEN_FD) if guest.len() <= len as usize => {
                if put(mem, buf, guest.as_bytes()) {
                    ESUCCESS
                } else {
                    EFAULT
                }
            }
            (Some(_), PREOPEN_FD) => EINVAL,
            _ => EBADF,
        }
    })?;
    linker.func_wrap(m, "fd_fdstat_get", |mut c: Caller<'_, Wasi>, fd: i32, buf: i32| -> i32 {
        let (mem, st) = mem(&mut c);
        let filetype: u8 = match fd {
            0..=2 => 2, // character device
            PREOPEN_FD if st.preopen.is_some() => 3,
            _ if file_index(fd).and_then(|i| st.files.get(i)).is_some_and(Option::is_some) => 4,
            _ => return EBADF,
        };
        let mut b = [0u8; 24];
        b[0] = filetype;
        b[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        b[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
        if put(mem, buf, &b) {
            ESUCCESS
        } else {
            EFAULT
        }
    })?;
    linker.func_wrap(m, "fd_filestat_get", |mut c: Caller<'_, Wasi>, fd: i32, buf: i32| -> i32 {
        let (mem, st) = mem(&mut c);
        let Some(Some(f)) = file_index(fd).and_then(|i| st.files.get(i)) else { return EBADF };
        let Ok(md) = f.metadata() else { return EIO };
        let mut b = [0u8; 64];
        b[16] = if md.is_dir() { 3 } else { 4 };
        b[24..32].copy_from_slice(&1u64.to_le_bytes());
        b[32..40].copy_from_slice(&md.len().to_le_bytes());
        if put(mem, buf, &b) {
            ESUCCESS
        } else {
            EFAULT
        }
    })?;
    linker.func_wrap(
        m,
        "path_open",
        |mut c: Caller<'_, Wasi>,
         dirfd: i32,
         _dirflags: i32,
         path: i32,
         path_len: i32,
         oflags: i32,
         _rights: i64,
         _inherit: i64,
         _fdflags: i32,
         opened: i32|
         -> i32 {
            let (mem, st) = mem(&mut c);
            let Some((host, _)) = st.preopen.clone().filter(|_| dirfd == PREOPEN_FD) else { return EBADF };
            if oflags != 0 {
                return EINVAL; // read-only: no create, truncate, exclusive or directory opens
            }
            let Some(rel) = usize::try_from(path).ok().and_then(|p| mem.get(p..p + path_len.max(0) as usize)) else {
                return EFAULT;
            };
            let Ok(rel) = std::str::from_utf8(rel) else { return EINVAL };
            if rel.split('/').any(|c| c == "..") {
                return EINVAL;
            }
            let file = match File::open(host.join(rel)) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return ENOENT,
                Err(_) => return EIO,
            };
            let idx = match st.files.iter().position(Option::is_none) {
                Some(i) => i,
                None => {
                    st.files.push(None);
                    st.files.len() - 1
                }
            };
            st.files[idx] = Some(file);
            let fd = (idx as u32) + PREOPEN_FD as u32 + 1;
            if put(mem, opened, &fd.to_le_bytes()) {
                ESUCCESS
            } else {
                EFAULT
            }
        },
    )?;
    Ok(())
}

type FilterFn = TypedFunc<(i32, i32, i32, i32, i32, i32), i32>;

/// One instance of the module, called like Fluent Bit calls a filter.
pub struct Host {
    store: Store<Wasi>,
    memory: Memory,
    malloc: TypedFunc<i32, i32>,
    free: TypedFunc<i32, ()>,
    func: FilterFn,
}

/// What the filter made of a record.
#[derive(Debug, PartialEq, Eq)]
pub enum Out {
    Record(Vec<u8>),
    Drop,
    Trap(String),
}

impl Host {
    /// An instance whose `function_name` is `export`, with `accessible_paths`
    /// = `preopen` (host directory, guest path).
    pub fn new(export: &str, preopen: Option<(&Path, &str)>) -> Host {
        let (engine, module) = module();
        let mut linker = Linker::new(engine);
        add_wasi(&mut linker).expect("define the WASI shim");
        let wasi = Wasi {
            preopen: preopen.map(|(h, g)| (h.to_path_buf(), g.to_string())),
            rng: 0x9e37_79b9_7f4a_7c15,
            ..Wasi::default()
        };
        let mut store = Store::new(engine, wasi);
        let instance = linker.instantiate(&mut store, module).expect("instantiate (unknown import?)");
        let memory = instance.get_memory(&mut store, "memory").expect("export memory");
        let malloc = instance.get_typed_func(&mut store, "malloc").expect("export malloc");
        let free = instance.get_typed_func(&mut store, "free").expect("export free");
        let func = instance.get_typed_func(&mut store, export).expect("export the filter function");
        Host { store, memory, malloc, free, func }
    }

    fn dup(&mut self, bytes: &[u8]) -> i32 {
        let len = i32::try_from(bytes.len() + 1).expect("record under 2 GiB");
        let p = self.malloc.call(&mut self.store, len).expect("malloc");
        assert_ne!(p, 0, "guest malloc failed for {len} bytes");
        let m = self.memory.data_mut(&mut self.store);
        m[p as usize..p as usize + bytes.len()].copy_from_slice(bytes);
        m[p as usize + bytes.len()] = 0;
        p
    }

    /// `flb_wasm_call_function_format_json`: copy in, call, copy out, free the copies.
    pub fn call(&mut self, tag: &str, time: (u32, u32), record: &[u8]) -> Out {
        let t = self.dup(tag.as_bytes());
        let r = self.dup(record);
        let args = (t, tag.len() as i32, time.0 as i32, time.1 as i32, r, record.len() as i32);
        let out = match self.func.call(&mut self.store, args) {
            Err(e) => Out::Trap(format!("{e:?}")),
            Ok(0) => Out::Drop,
            Ok(p) => {
                let m = self.memory.data(&self.store);
                let start = p as u32 as usize;
                let tail = m.get(start..).expect("returned pointer inside linear memory");
                // Fluent Bit takes the length with C's (vectorized) strlen.
                let n = memchr::memchr(0, tail).expect("returned string is NUL-terminated");
                if n == 0 {
                    Out::Drop
                } else {
                    Out::Record(tail[..n].to_vec())
                }
            }
        };
        self.free.call(&mut self.store, r).expect("free record");
        self.free.call(&mut self.store, t).expect("free tag");
        out
    }

    /// Linear memory size in 64 KiB pages.
    pub fn pages(&self) -> u64 {
        self.memory.size(&self.store)
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.store.data().stderr).into_owned()
    }
}
