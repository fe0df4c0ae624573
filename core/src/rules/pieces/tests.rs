//! Piece extraction: what it finds, and where it must give up.

use super::*;

fn pieces(p: &str) -> Option<Vec<String>> {
    Pieces::of_regex(p).map(|x| x.list().iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect())
}

#[test]
fn show() {
    for p in [
        r#""hostProcess":true"#,
        r#""(seccompProfile|appArmorProfile)":[{][^{}]*"type":"Unconfined"|"procMount":"Unmasked"|"seLinuxOptions":[{][^{}]*"type":"(spc_t|unconfined_t)"|(seccomp[.]security[.]alpha|apparmor[.]security[.]beta)[.]kubernetes[.]io/[^"]*":"unconfined""#,
        r#"(?:"failurePolicy":"Ignore")|(?:"path":"/spec/failurePolicy","value":"Ignore")"#,
        r#"(?:"pod-security[.]kubernetes[.]io/enforce":(null|"privileged"))|(?:"labels":null)"#,
        r#"(?i)hostprocess"#,
        r#"^(?:*foo*)$"#,
    ] {
        eprintln!("{p} -> {:?}", pieces(p));
    }
}
