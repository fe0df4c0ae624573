//! The condition language: lexer and parser to an AST.
//!
//! ```text
//! expr     := or
//! or       := and ("or" and)*
//! and      := unary ("and" unary)*
//! unary    := "not" unary | primary
//! primary  := "(" expr ")"
//!           | FIELD "exists"
//!           | FIELD OP value
//!           | MACRO
//! OP       := = | == | != | < | <= | > | >= | in | intersects | contains
//!           | icontains | startswith | endswith | glob | regex | cidr
//! value    := STRING | NUMBER | WORD | LIST_NAME | "(" value ("," value)* ")"
//! ```
//!
//! A field is a dotted path (`objectRef.resource`), may carry a bracketed key
//! (`annotations[authorization.k8s.io/decision]`) and `[]` to fan out over
//! arrays (`requestObject.subjects[].kind`). A bare word that names a list is
//! that list; any other bare word is a string (`create`, `system:anonymous`).

use std::fmt;

/// A position in the condition text (byte offset).
pub type Pos = usize;

/// A parse error at a byte offset of the condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub pos: Pos,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at offset {})", self.message, self.pos)
    }
}

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Intersects,
    Contains,
    IContains,
    StartsWith,
    EndsWith,
    Glob,
    Regex,
    Cidr,
}

impl Op {
    fn from_word(w: &str) -> Option<Op> {
        Some(match w {
            "in" => Op::In,
            "intersects" => Op::Intersects,
            "contains" => Op::Contains,
            "icontains" => Op::IContains,
            "startswith" => Op::StartsWith,
            "endswith" => Op::EndsWith,
            "glob" => Op::Glob,
            "regex" => Op::Regex,
            "cidr" => Op::Cidr,
            _ => return None,
        })
    }

    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::In => "in",
            Op::Intersects => "intersects",
            Op::Contains => "contains",
            Op::IContains => "icontains",
            Op::StartsWith => "startswith",
            Op::EndsWith => "endswith",
            Op::Glob => "glob",
            Op::Regex => "regex",
            Op::Cidr => "cidr",
        }
    }
}

/// A literal in a condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Lit {
    Str(String),
    Num(f64),
    /// A bare word: a string, unless it names a list.
    Word(String),
    List(Vec<Lit>),
}

/// The condition AST.
#[derive(Clone, Debug, PartialEq)]
pub enum Ast {
    And(Vec<Ast>),
    Or(Vec<Ast>),
    Not(Box<Ast>),
    Cmp { field: String, op: Op, value: Lit, pos: Pos },
    Exists { field: String, pos: Pos },
    Macro { name: String, pos: Pos },
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    LParen,
    RParen,
    Comma,
    Sym(Op),
    Str(String),
    Word(String),
}

fn is_word_char(c: char) -> bool {
    !c.is_whitespace() && !matches!(c, '(' | ')' | ',' | '=' | '!' | '<' | '>' | '"' | '\'')
}

fn lex(src: &str) -> Result<Vec<(Tok, Pos)>, ParseError> {
    let mut out = Vec::new();
    let b = src.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i] as char;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        match c {
            '(' => {
                out.push((Tok::LParen, i));
                i += 1;
            }
            ')' => {
                out.push((Tok::RParen, i));
                i += 1;
            }
            ',' => {
                out.push((Tok::Comma, i));
                i += 1;
            }
            '=' => {
                i += if b.get(i + 1) == Some(&b'=') { 2 } else { 1 };
                out.push((Tok::Sym(Op::Eq), start));
            }
            '!' if b.get(i + 1) == Some(&b'=') => {
                i += 2;
                out.push((Tok::Sym(Op::Ne), start));
            }
            '<' | '>' => {
                let eq = b.get(i + 1) == Some(&b'=');
                let op = match (c, eq) {
                    ('<', false) => Op::Lt,
                    ('<', true) => Op::Le,
                    ('>', false) => Op::Gt,
                    _ => Op::Ge,
                };
                i += if eq { 2 } else { 1 };
                out.push((Tok::Sym(op), start));
            }
            '"' | '\'' => {
                let quote = c;
                i += 1;
                let mut s = String::new();
                loop {
                    let Some(ch) = src[i..].chars().next() else {
                        return Err(ParseError { pos: start, message: "unterminated string".into() });
                    };
                    i += ch.len_utf8();
                    if ch == quote {
                        break;
                    }
                    if ch == '\\' {
                        let Some(e) = src[i..].chars().next() else {
                            return Err(ParseError { pos: start, message: "unterminated string".into() });
                        };
                        i += e.len_utf8();
                        // Only quotes, backslash, \n and \t are escapes; any other
                        // backslash is kept, so regexes like '^10\.' mean what they say.
                        match e {
                            'n' => s.push('\n'),
                            't' => s.push('\t'),
                            '\\' | '\'' | '"' => s.push(e),
                            other => {
                                s.push('\\');
                                s.push(other);
                            }
                        }
                    } else {
                        s.push(ch);
                    }
                }
                out.push((Tok::Str(s), start));
            }
            _ => {
                // A word; brackets may hold any text (annotation keys with `/`).
                let mut depth = 0usize;
                while i < b.len() {
                    let ch = src[i..].chars().next().unwrap_or(' ');
                    if ch == '[' {
                        depth += 1;
                    } else if ch == ']' {
                        depth = depth.saturating_sub(1);
                    } else if depth == 0 && !is_word_char(ch) {
                        break;
                    }
                    i += ch.len_utf8();
                }
                if depth != 0 {
                    return Err(ParseError { pos: start, message: "unclosed `[` in field name".into() });
                }
                if i == start {
                    return Err(ParseError { pos: start, message: format!("unexpected character `{c}`") });
                }
                out.push((Tok::Word(src[start..i].to_string()), start));
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, Pos)>,
    i: usize,
    end: Pos,
    depth: usize,
}

const MAX_DEPTH: usize = 64;

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i).map(|(t, _)| t)
    }
    fn pos(&self) -> Pos {
        self.toks.get(self.i).map(|(_, p)| *p).unwrap_or(self.end)
    }
    fn err<T>(&self, msg: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError { pos: self.pos(), message: msg.into() })
    }
    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x == w)
    }

    fn or(&mut self) -> Result<Ast, ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err("condition nested too deeply");
        }
        let mut items = vec![self.and()?];
        while self.is_word("or") {
            self.i += 1;
            items.push(self.and()?);
        }
        self.depth -= 1;
        Ok(if items.len() == 1 { items.pop().unwrap_or(Ast::And(vec![])) } else { Ast::Or(items) })
    }

    fn and(&mut self) -> Result<Ast, ParseError> {
        let mut items = vec![self.unary()?];
        while self.is_word("and") {
            self.i += 1;
            items.push(self.unary()?);
        }
        Ok(if items.len() == 1 { items.pop().unwrap_or(Ast::And(vec![])) } else { Ast::And(items) })
    }

    fn unary(&mut self) -> Result<Ast, ParseError> {
        if self.is_word("not") {
            self.i += 1;
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return self.err("condition nested too deeply");
            }
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Ast::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Ast, ParseError> {
        let pos = self.pos();
        match self.peek().cloned() {
            Some(Tok::LParen) => {
                self.i += 1;
                let e = self.or()?;
                if self.peek() != Some(&Tok::RParen) {
                    return self.err("expected `)`");
                }
                self.i += 1;
                Ok(e)
            }
            Some(Tok::Word(w)) => {
                if matches!(w.as_str(), "and" | "or" | "in" | "exists") {
                    return self.err(format!("expected a field or macro, found `{w}`"));
                }
                self.i += 1;
                match self.peek().cloned() {
                    Some(Tok::Sym(op)) => {
                        self.i += 1;
                        let value = self.value()?;
                        Ok(Ast::Cmp { field: w, op, value, pos })
                    }
                    Some(Tok::Word(x)) if x == "exists" => {
                        self.i += 1;
                        Ok(Ast::Exists { field: w, pos })
                    }
                    Some(Tok::Word(x)) if Op::from_word(&x).is_some() => {
                        self.i += 1;
                        let op = Op::from_word(&x).unwrap_or(Op::Eq);
                        let value = self.value()?;
                        Ok(Ast::Cmp { field: w, op, value, pos })
                    }
                    _ => Ok(Ast::Macro { name: w, pos }),
                }
            }
            Some(Tok::Str(s)) => self.err(format!("expected a field or macro, found string \"{s}\"")),
            Some(t) => self.err(format!("unexpected {t:?}")),
            None => self.err("unexpected end of condition"),
        }
    }

    fn value(&mut self) -> Result<Lit, ParseError> {
        match self.peek().cloned() {
            Some(Tok::Str(s)) => {
                self.i += 1;
                Ok(Lit::Str(s))
            }
            Some(Tok::Word(w)) => {
                self.i += 1;
                match w.parse::<f64>() {
                    Ok(n) if w.chars().all(|c| c.is_ascii_digit() || c == '.' || c == '-') => Ok(Lit::Num(n)),
                    _ => Ok(Lit::Word(w)),
                }
            }
            Some(Tok::LParen) => {
                self.i += 1;
                let mut items = Vec::new();
                if self.peek() == Some(&Tok::RParen) {
                    self.i += 1;
                    return Ok(Lit::List(items));
                }
                loop {
                    items.push(self.value()?);
                    match self.peek() {
                        Some(Tok::Comma) => self.i += 1,
                        Some(Tok::RParen) => {
                            self.i += 1;
                            return Ok(Lit::List(items));
                        }
                        _ => return self.err("expected `,` or `)` in a list"),
                    }
                }
            }
            _ => self.err("expected a value"),
        }
    }
}

/// Parse a condition.
pub fn parse(src: &str) -> Result<Ast, ParseError> {
    let toks = lex(src)?;
    if toks.is_empty() {
        return Err(ParseError { pos: 0, message: "empty condition".into() });
    }
    let mut p = Parser { toks, i: 0, end: src.len(), depth: 0 };
    let ast = p.or()?;
    if p.i < p.toks.len() {
        return p.err("unexpected text after the condition (missing `and`/`or`?)");
    }
    Ok(ast)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_precedence_and_lists() {
        let a = parse("verb in (create, 'update') and not user.username = system:anonymous or x").unwrap();
        let Ast::Or(items) = a else { panic!("{a:?}") };
        assert_eq!(items.len(), 2);
        let Ast::And(parts) = &items[0] else { panic!() };
        assert_eq!(
            parts[0],
            Ast::Cmp {
                field: "verb".into(),
                op: Op::In,
                value: Lit::List(vec![Lit::Word("create".into()), Lit::Str("update".into())]),
                pos: 0
            }
        );
        assert!(matches!(&parts[1], Ast::Not(_)));
        assert_eq!(items[1], Ast::Macro { name: "x".into(), pos: 71 });
    }

    #[test]
    fn bracketed_fields_and_numbers() {
        let a = parse("annotations[authorization.k8s.io/decision] = allow and responseStatus.code >= 400").unwrap();
        let Ast::And(parts) = a else { panic!() };
        assert!(matches!(&parts[0], Ast::Cmp { field, .. } if field == "annotations[authorization.k8s.io/decision]"));
        assert!(matches!(&parts[1], Ast::Cmp { op: Op::Ge, value: Lit::Num(n), .. } if *n == 400.0));
    }

    #[test]
    fn regression_unknown_escapes_keep_their_backslash() {
        let Ast::Cmp { value, .. } = parse(r#"sourceIP regex '^10\.0\.' "#).unwrap() else { panic!() };
        assert_eq!(value, Lit::Str(r"^10\.0\.".into()));
        let Ast::Cmp { value, .. } = parse(r#"a = 'it\'s \\ "q" \n'"#).unwrap() else { panic!() };
        assert_eq!(value, Lit::Str("it's \\ \"q\" \n".into()));
    }

    #[test]
    fn errors_have_positions() {
        assert_eq!(parse("verb = ").unwrap_err().pos, 7);
        assert_eq!(parse("(verb = get").unwrap_err().message, "expected `)`");
        assert_eq!(parse("verb = get get").unwrap_err().pos, 11);
        assert_eq!(parse("a = 'x").unwrap_err().message, "unterminated string");
        let deep = format!("{}a{}", "(".repeat(100), ")".repeat(100));
        assert!(parse(&deep).is_err());
    }
}
