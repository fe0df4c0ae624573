//! The one error type of the core: small, opaque, classified.
//!
//! Like `serde_json::Error`, callers do not match on variants; they ask
//! [`Error::classify`] for the category and [`Error::at`] for the place in the
//! record (a JSON path such as `properties.log` or `awslogs.data`).

use std::fmt;

/// What kind of problem made a record undecodable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Category {
    /// The bytes are not valid JSON (or not UTF-8) where JSON was required.
    Syntax,
    /// Valid JSON, but a field has the wrong type or a required shape is absent.
    Data,
    /// A transport encoding failed: base64 or gzip.
    Encoding,
    /// A configured limit was exceeded (record size, nesting of envelopes).
    Limit,
}

impl Category {
    /// Stable lower-case name used in the error envelope.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Syntax => "syntax",
            Category::Data => "data",
            Category::Encoding => "encoding",
            Category::Limit => "limit",
        }
    }
}

/// A decode error: a category, the place in the record, and a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    category: Category,
    at: String,
    message: String,
}

impl Error {
    pub(crate) fn new(category: Category, at: impl Into<String>, message: impl Into<String>) -> Self {
        Error { category, at: at.into(), message: message.into() }
    }

    /// Wrap a serde_json error found while reading the value at `at`.
    pub(crate) fn json(at: impl Into<String>, err: &serde_json::Error) -> Self {
        let category = match err.classify() {
            serde_json::error::Category::Data => Category::Data,
            _ => Category::Syntax,
        };
        Error::new(category, at, err.to_string())
    }

    /// The category of the error.
    pub fn classify(&self) -> Category {
        self.category
    }

    /// Where in the record the error was found, as a dotted JSON path
    /// (`$` is the record itself).
    pub fn at(&self) -> &str {
        &self.at
    }

    /// A human-readable description (no path prefix).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} error at {}: {}", self.category.as_str(), self.at, self.message)
    }
}

impl std::error::Error for Error {}
