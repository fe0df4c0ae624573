//! An annotation literal answered from the first member of the
//! annotations' JSON text: every audit log writes the authorizer's
//! decision first (`{"authorization.k8s.io/decision":"allow",…`), so the
//! value an index key on the decision looks for is ruled out by a compare
//! at the start of the text instead of a search through all of it.

/// A key and the values it must take, judged from the text's first member.
#[derive(Debug)]
pub(super) struct Leading {
    /// `{"KEY":"`: the text's start when KEY is its first member's key and
    /// the value a string.
    prefix: Box<[u8]>,
    values: Vec<Box<[u8]>>,
}

/// How far the first member's value is looked at for its end: a longer
/// value is left to the caller's other checks.
const SHORT: usize = 64;

impl Leading {
    /// For `key` and its `values`; `None` when the key holds a character
    /// JSON escapes (its text then never starts the object verbatim).
    pub(super) fn new(key: &str, values: &[&str]) -> Option<Leading> {
        if key.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
            return None;
        }
        let prefix = [b"{\"", key.as_bytes(), b"\":\""].concat().into_boxed_slice();
        Some(Leading { prefix, values: values.iter().map(|v| v.as_bytes().into()).collect() })
    }

    /// `true` only when the annotations' JSON `text` certainly gives the
    /// key none of the values: its first member is the key with a string
    /// value free of escapes (so its text is the value) that is none of
    /// them. Reading the annotations finds the key's first member (or
    /// nothing at all, if the text turns out not to be JSON).
    pub(super) fn rules_out(&self, text: &[u8]) -> bool {
        let Some(rest) = text.strip_prefix(&*self.prefix) else { return false };
        // The value's end: its first quote, with no backslash before it.
        let mut end = 0;
        loop {
            if end >= SHORT {
                return false;
            }
            match rest.get(end) {
                Some(b'"') => break,
                Some(b'\\') | None => return false,
                Some(_) => end += 1,
            }
        }
        let value = rest.get(..end).unwrap_or_default();
        !self.values.iter().any(|v| **v == *value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What reading the text gives for the key: its first member's string
    /// value (serde_json; `None` where absent, not a string, or the text
    /// is not JSON).
    fn truth(text: &str, key: &str) -> Option<String> {
        let m = serde_json::from_str::<crate::json::Members<'_>>(text).ok()?;
        serde_json::from_str::<String>(m.get(key)?.get()).ok()
    }

    #[test]
    fn the_first_member_rules_a_value_out_only_when_it_is_certainly_another() {
        let key = "authorization.k8s.io/decision";
        let Some(l) = Leading::new(key, &["forbid", "é"]) else { panic!("a plain key") };
        let cases: &[(&str, bool)] = &[
            (r#"{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":""}"#, true),
            (r#"{"authorization.k8s.io/decision":"allow"}"#, true),
            (r#"{"authorization.k8s.io/decision":""}"#, true),
            (r#"{"authorization.k8s.io/decision":"forbid","x":"y"}"#, false),
            (r#"{"authorization.k8s.io/decision":"é"}"#, false),
            (r#"{"authorization.k8s.io/decision":"forbidden"}"#, true),
            (r#"{"authorization.k8s.io/decision":"forbi"}"#, true),
            // Escapes may spell a value: not ruled out.
            (r#"{"authorization.k8s.io/decision":"\u0066orbid"}"#, false),
            (r#"{"authorization.k8s.io/decision":"allow\"","a":"b"}"#, false),
            // Not the first member, whitespace, another value, a longer
            // value, a cut text: not ruled out.
            (r#"{"a":"b","authorization.k8s.io/decision":"allow"}"#, false),
            (r#"{ "authorization.k8s.io/decision":"allow"}"#, false),
            (r#"{"authorization.k8s.io/decision": "allow"}"#, false),
            (r#"{"authorization.k8s.io/decision":1}"#, false),
            (r#"{"authorization.k8s.io\/decision":"allow"}"#, false),
            (r#"{"authorization.k8s.io/decision":"allow"#, false),
            (r#"{"authorization.k8s.io/decision":""#, false),
            (r#"{"authorization.k8s.io/decision":"#, false),
            ("", false),
        ];
        for (text, out) in cases {
            assert_eq!(l.rules_out(text.as_bytes()), *out, "{text}");
            if *out {
                let v = truth(text, key);
                assert!(v.as_deref().is_none_or(|v| v != "forbid" && v != "é"), "{text}");
            }
        }
        let long = format!(r#"{{"{key}":"{}"}}"#, "a".repeat(SHORT));
        assert!(!l.rules_out(long.as_bytes()));
        let just = format!(r#"{{"{key}":"{}"}}"#, "a".repeat(SHORT - 1));
        assert!(l.rules_out(just.as_bytes()));
    }

    #[test]
    fn the_first_member_rules_out_only_what_reading_the_text_rules_out() {
        // Every prefix and one-byte change of hostile texts.
        let key = "k";
        let Some(l) = Leading::new(key, &["forbid"]) else { panic!("a plain key") };
        let mut ruled = 0;
        for t in [r#"{"k":"forbid","k":"allow"}"#, r#"{"k":"allow","k":"forbid"}"#, r#"{"k":"a\\","x":"forbid"}"#] {
            let b = t.as_bytes();
            for n in 0..=b.len() {
                let mut variants = vec![b[..n].to_vec()];
                for c in [b'"', b'\\', b'}', b',', b'x', b'f'] {
                    let mut v = b.to_vec();
                    if let Some(x) = v.get_mut(n) {
                        *x = c;
                    }
                    variants.push(v);
                }
                for v in variants {
                    let Ok(s) = std::str::from_utf8(&v) else { continue };
                    if l.rules_out(&v) {
                        ruled += 1;
                        assert_ne!(truth(s, key).as_deref(), Some("forbid"), "{s}");
                    }
                }
            }
        }
        assert!(ruled > 10, "{ruled}");
    }

    #[test]
    fn keys_json_must_escape_have_no_leading_check() {
        assert!(Leading::new("a\"b", &["x"]).is_none());
        assert!(Leading::new("a\\b", &["x"]).is_none());
        assert!(Leading::new("a\nb", &["x"]).is_none());
        assert!(Leading::new("a/b", &[]).is_some());
    }
}
