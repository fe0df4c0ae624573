//! Piece extraction: what it finds, where it must give up, and that every
//! match contains a piece (random regexes and texts).

use super::*;

fn pieces(p: &str) -> Option<Vec<String>> {
    Pieces::of_regex(p).map(|x| x.list().iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect())
}

fn some(xs: &[&str]) -> Option<Vec<String>> {
    Some(xs.iter().map(|s| s.to_string()).collect())
}

#[test]
fn pack_regexes_give_pieces_within_one_token() {
    assert_eq!(pieces(r#""hostProcess":true"#), some(&["hostProcess"]));
    assert_eq!(
        pieces(
            r#""(seccompProfile|appArmorProfile)":[{][^{}]*"type":"Unconfined"|"procMount":"Unmasked"|"seLinuxOptions":[{][^{}]*"type":"(spc_t|unconfined_t)"|(seccomp[.]security[.]alpha|apparmor[.]security[.]beta)[.]kubernetes[.]io/[^"]*":"unconfined""#
        ),
        // Values rather than the (common) keys before them.
        some(&[
            "Unconfined",
            "Unmasked",
            "apparmor.security.beta.kubernetes.io/",
            "seccomp.security.alpha.kubernetes.io/",
            "spc_t",
            "unconfined_t"
        ])
    );
    assert_eq!(
        pieces(r#"(?:"failurePolicy":"Ignore")|(?:"path":"/spec/failurePolicy","value":"Ignore")"#),
        some(&["/spec/failurePolicy", "Ignore"])
    );
    // Glob, as the builder writes it.
    assert_eq!(pieces(r"^(?:.*apparmor\.io/.*)$"), some(&["apparmor.io/"]));
}

#[test]
fn gives_up_where_no_piece_is_certain() {
    for p in [
        ".*",
        "[a-z]+",
        "(abcdef)?",
        "x*",
        "abcdef|",
        "abcdef|.*",
        "abcdef|[0-9]+",
        r"\d{3}",
        "^$",
        r"\bword\b|\w+",
        // Nothing but JSON structure, or too short or too common to help.
        r#"":""#,
        r#"[{]"a":1[}]"#,
        "ab",
        "true",
        r#""x":null"#,
        "12345",
        "(?i)k",
        // Classes too large to expand.
        "[a-f]bc",
        "(?s)a.b",
        // Not a regex.
        "(",
    ] {
        assert_eq!(pieces(p), None, "{p}");
    }
}

#[test]
fn pieces_stop_at_json_structure_whitespace_and_escapes() {
    assert_eq!(pieces(r#""a b":"cdef""#), some(&["cdef"]));
    assert_eq!(pieces(r"\{xyz\}"), some(&["xyz"]));
    assert_eq!(pieces(r#"abc,"def"#), some(&["abc"]));
    assert_eq!(pieces(r"abc\\def\tghij"), some(&["ghij"]));
    assert_eq!(pieces(r"\[one\]two\[three\]"), some(&["three"]));
    for p in pieces(r#""(seccompProfile|appArmorProfile)":[{][^{}]*"type":"Unconfined""#).unwrap_or_default() {
        assert!(p.bytes().all(token_byte), "{p}");
    }
}

#[test]
fn exact_runs_products_and_alternatives() {
    assert_eq!(pieces("(foo|bar)baz"), some(&["barbaz", "foobaz"]));
    // A run of exact parts between parts that are not.
    assert_eq!(pieces("[0-9]+x(ab|cd)yz.*"), some(&["xabyz", "xcdyz"]));
    // A repetition needs its part at least once.
    assert_eq!(pieces("(?:hostProcess)+"), some(&["hostProcess"]));
    assert_eq!(pieces("(?:hostProcess){2,}"), some(&["hostProcess"]));
    // Each branch contributes its best piece.
    assert_eq!(pieces("abc[0-9]*defgh|xyzw"), some(&["defgh", "xyzw"]));
    // Anchors and word boundaries match nothing: transparent.
    assert_eq!(pieces(r"^\bspc_t\b$"), some(&["spc_t"]));
    // Case-insensitive letters expand, in runs the set size allows.
    let ci = pieces("(?i)abcd").unwrap_or_default();
    assert_eq!(ci.len(), 16, "{ci:?}");
    assert!(ci.contains(&"aBcD".to_string()), "{ci:?}");
    // Non-ASCII literals are kept whole.
    assert_eq!(pieces("ünconfiné"), some(&["ünconfiné"]));
}

#[test]
fn needles_give_their_best_piece() {
    let p = |ns: &[&str]| {
        let ns: Vec<String> = ns.iter().map(|s| s.to_string()).collect();
        Pieces::of_needles(&ns)
            .map(|x| x.list().iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect::<Vec<_>>())
    };
    assert_eq!(p(&[r#""hostPID":true"#, "validationActions"]), some(&["hostPID", "validationActions"]));
    assert_eq!(p(&["require&pool"]), some(&["require&pool"]));
    assert_eq!(p(&["abcdef", "ab"]), None, "one needle too short: every text would pass");
    assert_eq!(p(&["abcdef", ""]), None, "the empty needle matches everywhere");
    assert_eq!(p(&[]), None);
}

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn atom(r: &mut Rng, depth: u32) -> String {
    let base = match r.below(if depth > 2 { 5 } else { 6 }) {
        0..=2 => regex::escape(r.pick(&["abc", "bcd", "xyz", "a", "b", "c", r#""x":"#, "b:c", "{a}", "zz y", "ü"])),
        3 => r.pick(&["[ab]", "[a-c]", ".", "[^a]", r"\b", "^", "$", "(?i)b", "(?i:abc)"]).to_string(),
        4 => regex::escape(r.pick(&["abcxyz", "xyzabc", "cab", r#""bca","#])),
        _ => format!("(?:{})", alt(r, depth + 1)),
    };
    let rep = r.pick(&["", "", "", "?", "*", "+", "{2}", "{1,3}", "{0,2}"]);
    format!("{base}{rep}")
}

fn alt(r: &mut Rng, depth: u32) -> String {
    let n = 1 + r.below(3);
    let branches: Vec<String> = (0..n)
        .map(|_| {
            let k = 1 + r.below(4);
            (0..k).map(|_| atom(r, depth)).collect::<String>()
        })
        .collect();
    branches.join("|")
}

fn hay(r: &mut Rng) -> String {
    let n = r.below(14);
    (0..n)
        .map(|_| {
            r.pick(&["a", "b", "c", "x", "y", "z", "ab", "abc", "bcd", "xyz", "B", "\"", ":", "{", "}", ",", " ", "ü"])
        })
        .collect()
}

/// Soundness: wherever a regex matches, one of its pieces occurs (in any
/// text, JSON or not: each piece is a substring of a string one of which
/// every match contains).
#[test]
fn every_match_contains_a_piece() {
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut with_pieces, mut matched) = (0, 0);
    for _ in 0..4000 {
        let p = alt(&mut r, 0);
        let Ok(re) = Regex::new(&p) else { continue };
        let Some(ps) = Pieces::of_regex(&p) else { continue };
        with_pieces += 1;
        for _ in 0..100 {
            let h = hay(&mut r);
            if re.is_match(&h) {
                matched += 1;
                assert!(ps.any_in(h.as_bytes()), "{p} matches {h:?} but no piece of {:?} occurs", ps.list());
            }
        }
    }
    assert!(with_pieces > 500, "{with_pieces}");
    assert!(matched > 2000, "{matched}");
}
