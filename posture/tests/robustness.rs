//! Bad input never panics: every fixture cut at many points, and with bytes flipped, goes
//! through `iac::check` and `inventory::read` and yields findings or an error.

mod common;

use common::{files, rel};
use kaudit_posture::iac::{self, Options};
use kaudit_posture::inventory;

#[test]
fn truncated_and_mangled_fixtures_do_not_panic() {
    let mut n = 0;
    for dir in ["synthetic", "upstream", "kaudit-synthetic", "inventory"] {
        for p in files(dir) {
            let name = rel(&p);
            let src = std::fs::read_to_string(&p).unwrap();
            let len = src.len();
            let step = (len / 40).max(1);
            let mut cut = 0;
            while cut < len {
                if src.is_char_boundary(cut) {
                    let s = &src[..cut];
                    let _ = iac::check(&name, s, &Options::default());
                    let _ = inventory::read(&name, s);
                    // Same prefix with one structural character swapped.
                    let mangled = s.replacen('{', "[", 1).replacen(':', ",", 1);
                    let _ = iac::check(&name, &mangled, &Options::default());
                    let _ = inventory::read(&name, &mangled);
                    n += 1;
                }
                cut += step;
            }
        }
    }
    assert!(n > 1000, "{n}");
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep_yaml = format!("{}x{}", "[".repeat(5000), "]".repeat(5000));
    assert!(iac::check("deep.yaml", &deep_yaml, &Options::default()).is_err());
    let deep_json = format!("{}1{}", "[".repeat(5000), "]".repeat(5000));
    assert!(iac::check("deep.json", &deep_json, &Options::default()).is_err());
}

#[test]
fn deep_hcl_nesting_is_an_error_not_a_crash() {
    let deep = format!("resource \"aws_eks_cluster\" \"x\" {{\n  a = {}1{}\n}}\n", "[".repeat(5000), "]".repeat(5000));
    assert!(iac::check("deep.tf", &deep, &Options::default()).is_err());
}
