//! ABI conformance: the wasm module under a host that calls it as Fluent
//! Bit's `filter_wasm` does (see `host/mod.rs`), compared with the native core.
//!
//! The module is built by this test (`cargo build -p kaudit-fluentbit
//! --target wasm32-wasip1 --profile wasm`), so `cargo test --workspace`
//! produces and checks it.

mod host;

use std::io::Read;
use std::path::{Path, PathBuf};

use host::{Host, Out};
use kaudit_core::scan::Scanner;
use kaudit_core::{frame, Decoder, Normalizer};
use kaudit_fluentbit::{Mode, Setup, CONFIG_ERROR_KEY, EVENTS_KEY};

const TAG: &str = "kube.audit";
const TIME: (u32, u32) = (1_745_166_599, 995_191_417);

// ---------------------------------------------------------------- native side

/// What the native core writes for each record, packed per the documented
/// contract: one line as is, several under `kaudit_events`, none = the input
/// (or a drop for alerts). Alerts leave error envelopes out.
struct Native<'r> {
    mode: Mode,
    dec: Decoder,
    norm: Normalizer,
    scan: Scanner<'r>,
}

impl<'r> Native<'r> {
    fn new(setup: &'r Setup, mode: Mode) -> Self {
        let o = mode.scan_options(setup);
        Native {
            mode,
            dec: Decoder::default(),
            norm: Normalizer::new(o.normalize),
            scan: Scanner::new(&setup.rules, o),
        }
    }

    fn expect(&mut self, record: &[u8]) -> Out {
        let lines: Vec<u8> = if self.mode == Mode::Normalize {
            self.norm.clear_output();
            self.norm.record(&self.dec, record);
            self.norm.output().to_vec()
        } else {
            self.scan.clear_output();
            self.scan.record(&self.dec, record);
            self.scan.output().to_vec()
        };
        let mut lines: Vec<&[u8]> = lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
        if self.mode == Mode::Alerts {
            lines.retain(|l| !l.starts_with(b"{\"kaudit\":{\"error\""));
        }
        match lines.len() {
            0 if self.mode == Mode::Alerts => Out::Drop,
            0 => Out::Record(record.to_vec()),
            1 => Out::Record(lines[0].to_vec()),
            _ => Out::Record(format!("{{\"{EVENTS_KEY}\":[{}]}}", join(&lines)).into_bytes()),
        }
    }
}

fn join(lines: &[&[u8]]) -> String {
    lines.iter().map(|l| String::from_utf8_lossy(l)).collect::<Vec<_>>().join(",")
}

// ---------------------------------------------------------------- inputs

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").to_path_buf()
}

fn fixture_files() -> Vec<PathBuf> {
    fn walk(p: &Path, out: &mut Vec<PathBuf>) {
        let mut es: Vec<PathBuf> = std::fs::read_dir(p).expect("fixtures dir").flatten().map(|e| e.path()).collect();
        es.sort();
        for e in es {
            if e.is_dir() {
                walk(&e, out);
            } else if !matches!(e.extension().and_then(|x| x.to_str()), Some("md" | "py")) {
                out.push(e);
            }
        }
    }
    let mut out = Vec::new();
    walk(&workspace().join("tests/fixtures"), &mut out);
    assert!(out.len() > 20, "fixtures found: {}", out.len());
    out
}

fn read_fixture(p: &Path) -> Vec<u8> {
    let raw = std::fs::read(p).expect("read fixture");
    if p.extension().is_some_and(|e| e == "gz") {
        let mut s = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..]).read_to_end(&mut s).expect("gunzip fixture");
        s
    } else {
        raw
    }
}

/// The records of a file as Fluent Bit would hand them over one by one.
fn records(buf: &[u8]) -> Vec<&[u8]> {
    frame::records(buf, kaudit_core::Limits::default().max_record_bytes).map(|f| &buf[f.range]).collect()
}

/// Run records through a fresh instance and a fresh native core; compare.
fn compare(mode: Mode, setup: &Setup, preopen: Option<(&Path, &str)>, recs: &[&[u8]], what: &str) -> Vec<Out> {
    let mut host = Host::new(mode.export(), preopen);
    let mut native = Native::new(setup, mode);
    let mut outs = Vec::new();
    for (i, r) in recs.iter().enumerate() {
        let got = host.call(TAG, TIME, r);
        let want = native.expect(r);
        if got != want {
            let show = |o: &Out| match o {
                Out::Record(b) => String::from_utf8_lossy(&b[..b.len().min(600)]).into_owned(),
                other => format!("{other:?}"),
            };
            panic!(
                "{what} record {i} ({}): module and native core differ\nmodule: {}\nnative: {}",
                mode.export(),
                show(&got),
                show(&want)
            );
        }
        if mode != Mode::Alerts {
            assert!(matches!(got, Out::Record(_)), "{what} record {i}: a record was lost");
        }
        outs.push(got);
    }
    outs
}

// ---------------------------------------------------------------- tests

#[test]
fn module_imports_exports_and_no_simd() {
    use wasmparser::{Parser, Payload, TypeRef, Validator, WasmFeatures};
    let bytes = std::fs::read(host::module_path()).expect("read module");
    // WAMR 2.4.1 in Fluent Bit: no SIMD, no threads, no GC, no tail calls, no memory64.
    let features = WasmFeatures::default()
        - WasmFeatures::SIMD
        - WasmFeatures::RELAXED_SIMD
        - WasmFeatures::THREADS
        - WasmFeatures::TAIL_CALL
        - WasmFeatures::GC
        - WasmFeatures::MEMORY64
        - WasmFeatures::EXCEPTIONS;
    Validator::new_with_features(features).validate_all(&bytes).expect("valid under WAMR's feature set (no v128)");

    let mut types = Vec::new();
    let mut func_types = Vec::new(); // type index per function (imports first)
    let mut exports = Vec::new();
    for p in Parser::new(0).parse_all(&bytes) {
        match p.expect("parse module") {
            Payload::TypeSection(r) => {
                for g in r.into_iter_err_on_gc_types() {
                    types.push(g.expect("func type"));
                }
            }
            Payload::ImportSection(r) => {
                for imp in r.into_imports() {
                    let imp = imp.expect("import");
                    assert_eq!(
                        imp.module, "wasi_snapshot_preview1",
                        "import {}::{} is not WASI preview 1",
                        imp.module, imp.name
                    );
                    if let TypeRef::Func(t) = imp.ty {
                        func_types.push(t);
                    }
                }
            }
            Payload::FunctionSection(r) => {
                for t in r {
                    func_types.push(t.expect("function"));
                }
            }
            Payload::ExportSection(r) => {
                for e in r {
                    let e = e.expect("export");
                    exports.push((e.name.to_string(), e.kind, e.index));
                }
            }
            _ => {}
        }
    }
    let sig = |name: &str| {
        let (_, _, idx) = exports.iter().find(|(n, k, _)| n == name && *k == wasmparser::ExternalKind::Func)?;
        let t = &types[func_types[*idx as usize] as usize];
        Some(format!("{:?} -> {:?}", t.params(), t.results()))
    };
    let i32x6 = format!("{:?} -> {:?}", [wasmparser::ValType::I32; 6], [wasmparser::ValType::I32]);
    for m in Mode::ALL {
        assert_eq!(sig(m.export()).as_deref(), Some(i32x6.as_str()), "{}", m.export());
    }
    assert_eq!(sig("malloc").as_deref(), Some("[I32] -> [I32]"));
    assert_eq!(sig("free").as_deref(), Some("[I32] -> []"));
    assert!(exports.iter().any(|(n, k, _)| n == "memory" && *k == wasmparser::ExternalKind::Memory));
}

#[test]
fn every_fixture_matches_the_native_core() {
    let setup = Setup::builtin();
    let files = fixture_files();
    let mut total = [0usize; 3];
    for f in &files {
        let buf = read_fixture(f);
        let recs = records(&buf);
        let what = f.strip_prefix(workspace()).unwrap_or(f).display().to_string();
        for (k, m) in Mode::ALL.into_iter().enumerate() {
            let outs = compare(m, &setup, None, &recs, &what);
            total[k] += outs.iter().filter(|o| matches!(o, Out::Record(_))).count();
        }
    }
    // Records in = records out for filter and normalize; some alerts fire.
    assert_eq!(total[0], total[1]);
    assert!(total[2] > 0 && total[2] < total[0], "alerts: {} of {}", total[2], total[0]);
}

/// A synthetic vanilla event whose requestObject carries `pad` bytes.
fn big_event(pad: usize) -> Vec<u8> {
    let filler = "x".repeat(pad);
    format!(
        concat!(
            r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"big-{}","#,
            r#""stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/configmaps","verb":"create","#,
            r#""user":{{"username":"alice","groups":["system:authenticated"]}},"sourceIPs":["10.0.0.1"],"#,
            r#""objectRef":{{"resource":"configmaps","namespace":"default","name":"big","apiVersion":"v1"}},"#,
            r#""responseStatus":{{"metadata":{{}},"code":201}},"requestObject":{{"data":{{"blob":"{}"}}}},"#,
            r#""requestReceivedTimestamp":"2025-04-20T16:29:59.000000Z","stageTimestamp":"2025-04-20T16:29:59.100000Z"}}"#
        ),
        pad, filler
    )
    .into_bytes()
}

#[test]
fn large_records_256k_and_10m() {
    let setup = Setup::builtin();
    let small = big_event(100);
    for size in [256 << 10, 10 << 20] {
        let big = big_event(size);
        // A record around it, too: the instance keeps working afterwards.
        let recs: Vec<&[u8]> = vec![&small, &big, &small];
        for m in [Mode::Filter, Mode::Normalize] {
            let outs = compare(m, &setup, None, &recs, &format!("{size}-byte event"));
            let Out::Record(o) = &outs[1] else { unreachable!("compare checked it") };
            assert!(o.len() > size, "{}: output shorter than the record", m.export());
        }
    }
}

#[test]
fn malformed_records_pass_through() {
    let setup = Setup::builtin();
    let deep = "[".repeat(100_000);
    let cases: Vec<&[u8]> = vec![
        b"{\"log\":\"not an audit line\"}",
        b"{\"kind\":\"Event\",\"verb\":",
        b"{}",
        b"[1,2,3]",
        b"\"a string\"",
        b"\xff\xfe\x00binary",
        b"",
        b"{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"verb\":42}",
        b"{\"records\":[]}",
        deep.as_bytes(),
        b"{\"records\":[{\"category\":\"kube-audit\",\"properties\":{\"log\":\"{not json\"}}]}",
    ];
    for m in Mode::ALL {
        let outs = compare(m, &setup, None, &cases, "malformed");
        if m == Mode::Alerts {
            assert!(outs.iter().all(|o| *o == Out::Drop), "no alert fires on malformed input");
            continue;
        }
        // The undecodable record comes back unchanged in `raw`, next to the error.
        let Out::Record(o) = &outs[0] else { unreachable!() };
        let v: serde_json::Value = serde_json::from_slice(o).expect("output is JSON");
        assert!(v["kaudit"]["error"].is_object() || v["kaudit"]["skipped"].is_object(), "{v}");
        assert_eq!(v["raw"], "{\"log\":\"not an audit line\"}");
        let Out::Record(o) = &outs[5] else { unreachable!() };
        let v: serde_json::Value = serde_json::from_slice(o).expect("output is JSON");
        assert!(v["raw_base64"].is_string(), "non-UTF-8 input is kept as base64: {v}");
    }
}

#[test]
fn one_million_calls_with_flat_memory() {
    let recs: Vec<Vec<u8>> = {
        let buf = read_fixture(&workspace().join("tests/fixtures/vendors/vanilla/falco-trace-files.jsonl"));
        records(&buf).into_iter().take(8).map(<[u8]>::to_vec).collect()
    };
    let mut host = Host::new(Mode::Filter.export(), None);
    let mut outputs = 0u64;
    let mut pages_after_warmup = 0;
    for i in 0..1_000_000usize {
        if let Out::Record(_) = host.call(TAG, TIME, &recs[i % recs.len()]) {
            outputs += 1;
        }
        if i == 10_000 {
            pages_after_warmup = host.pages();
        }
    }
    assert_eq!(outputs, 1_000_000, "every call returned a record");
    assert_eq!(host.pages(), pages_after_warmup, "linear memory grew after warm-up");
}

// ---------------------------------------------------------------- config

fn config_dir(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fluentbit-config").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("config dir");
    for (n, text) in files {
        let p = d.join(n);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write config");
    }
    d
}

fn sample_records() -> Vec<Vec<u8>> {
    let buf = read_fixture(&workspace().join("tests/fixtures/synthetic/mixed-vendors.jsonl"));
    records(&buf).into_iter().map(<[u8]>::to_vec).collect()
}

const SITE_RULES: &str = r#"
rules:
  - id: site.configmap-create-by-alice
    title: alice created a configmap
    severity: low
    condition: verb = create and objectRef.resource = configmaps and user.username = alice
"#;

#[test]
fn config_absent_runs_the_builtin_pack() {
    let recs = sample_records();
    let refs: Vec<&[u8]> = recs.iter().map(Vec::as_slice).collect();
    let empty = config_dir("absent", &[]);
    // With /etc/kaudit preopened but no file, and with no preopen at all.
    compare(Mode::Filter, &Setup::builtin(), Some((&empty, "/etc/kaudit")), &refs, "config absent");
    let mut h = Host::new(Mode::Filter.export(), None);
    h.call(TAG, TIME, refs[0]);
    assert_eq!(h.stderr(), "", "nothing to report without a config file");
}

#[test]
fn config_present_is_applied() {
    let first_builtin = kaudit_core::rules::RuleSet::builtin().rules()[0].id.clone();
    let cfg = format!(
        "rules: [/etc/kaudit/rules/site.yaml]\ndisabled_rules: [{first_builtin}]\ncluster: prod-eu-1\nmax_state_keys: 1000\n"
    );
    let dir = config_dir("present", &[("kaudit.yaml", &cfg), ("rules/site.yaml", SITE_RULES)]);
    // The native side loads the same files through the same config code.
    let mut read = |p: &str| {
        let rel = p.strip_prefix("/etc/kaudit/").expect("inside /etc/kaudit");
        kaudit_fluentbit::config::read_fs(dir.join(rel).to_str().expect("utf-8 path"))
    };
    let setup = kaudit_fluentbit::config::load(&mut read);
    assert!(setup.error.is_none(), "{:?}", setup.error);
    assert_eq!(setup.cluster.as_deref(), Some("prod-eu-1"));

    let big = big_event(10);
    let mut recs = sample_records();
    recs.push(big);
    let refs: Vec<&[u8]> = recs.iter().map(Vec::as_slice).collect();
    // The core has no cluster override (the plugin's front sink applies it), so
    // the reference here is the plugin's engine compiled natively.
    let mut host = Host::new(Mode::Filter.export(), Some((&dir, "/etc/kaudit")));
    let mut native = kaudit_fluentbit::Engine::new(&setup, Mode::Filter);
    let mut last = Vec::new();
    for (i, r) in refs.iter().enumerate() {
        let Out::Record(got) = host.call(TAG, TIME, r) else { panic!("record {i} lost") };
        assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(native.process(r)), "record {i}");
        last = got;
    }
    assert_eq!(host.stderr(), "");
    let v: serde_json::Value = serde_json::from_slice(&last).expect("JSON");
    assert_eq!(v["kaudit"]["cluster"]["name"], "prod-eu-1", "{v}");
    let fired: Vec<&str> =
        v["kaudit"]["detections"].as_array().expect("detections").iter().filter_map(|d| d["rule"].as_str()).collect();
    assert!(fired.contains(&"site.configmap-create-by-alice"), "{fired:?}");
    assert!(!fired.contains(&first_builtin.as_str()));
}

#[test]
fn broken_config_is_reported_on_every_record_and_once_on_stderr() {
    for (name, cfg) in [
        ("bad-yaml", "rules: [unclosed\n"),
        ("unknown-key", "clusters: prod\n"),
        ("missing-rule-file", "rules: [/etc/kaudit/nope.yaml]\n"),
        ("bad-rule-file", "rules: [/etc/kaudit/bad.yaml]\n"),
    ] {
        let dir =
            config_dir(name, &[("kaudit.yaml", cfg), ("bad.yaml", "rules:\n  - id: x\n    condition: verb = \n")]);
        let recs = sample_records();
        let mut host = Host::new(Mode::Filter.export(), Some((&dir, "/etc/kaudit")));
        let mut native = Native::new(Box::leak(Box::new(Setup::builtin())), Mode::Filter);
        for r in &recs {
            let Out::Record(got) = host.call(TAG, TIME, r) else { panic!("{name}: record lost") };
            let v: serde_json::Value = serde_json::from_slice(&got).expect("JSON");
            let msg = v[CONFIG_ERROR_KEY].as_str().unwrap_or_else(|| panic!("{name}: no config error in {v}"));
            assert!(msg.contains("/etc/kaudit/"), "{name}: {msg}");
            // Apart from the error member, the built-in pack's output.
            let Out::Record(want) = native.expect(r) else { unreachable!() };
            let mut want: serde_json::Value = serde_json::from_slice(&want).expect("JSON");
            want[CONFIG_ERROR_KEY] = serde_json::Value::String(msg.to_string());
            assert_eq!(v, want, "{name}");
        }
        let err = host.stderr();
        assert_eq!(err.matches("[kaudit] configuration not used").count(), 1, "{name}: stderr {err}");
    }
}

// ---------------------------------------------------------------- fuzz

/// Deterministic mutations of fixture records (byte flips, truncation,
/// splices) through the module: never a trap, never a lost record, always
/// what the native core gives.
#[test]
fn mutated_records_never_trap_and_match_native() {
    let setup = Setup::builtin();
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    for f in fixture_files() {
        let buf = read_fixture(&f);
        seeds.extend(records(&buf).into_iter().take(3).map(<[u8]>::to_vec));
    }
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: usize| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % n.max(1) as u64) as usize
    };
    let mut cases = Vec::new();
    for i in 0..3000 {
        let mut r = seeds[i % seeds.len()].clone();
        match next(4) {
            0 => {
                for _ in 0..1 + next(8) {
                    let at = next(r.len());
                    if let Some(b) = r.get_mut(at) {
                        *b = next(256) as u8;
                    }
                }
            }
            1 => r.truncate(next(r.len())),
            2 => {
                let other = &seeds[next(seeds.len())];
                let (a, b) = (next(r.len()), next(other.len()));
                r.splice(a..a, other[b..].iter().copied());
            }
            _ => {
                let at = next(r.len());
                r.splice(at..at, *b"\"\\u0000{[\xc3");
            }
        }
        cases.push(r);
    }
    let refs: Vec<&[u8]> = cases.iter().map(Vec::as_slice).collect();
    for m in Mode::ALL {
        compare(m, &setup, None, &refs, "mutated");
    }
}
