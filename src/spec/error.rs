//! Errors in an experiment file, located by file, line and dotted key.

use std::fmt;

/// A mistake in an experiment: where it is (`file:line`, an environment
/// variable or a `--set` override), the dotted key, and what was expected.
#[derive(Debug, Clone, PartialEq)]
pub struct SpecError {
    pub location: String,
    pub key: String,
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.location, self.message)
        } else {
            write!(f, "{}: {}: {}", self.location, self.key, self.message)
        }
    }
}

impl std::error::Error for SpecError {}

/// An error found while interpreting the merged configuration: it knows the
/// dotted key path, and is located later by [`super::source::Sources`].
#[derive(Debug, Clone, PartialEq)]
pub struct KeyError {
    pub path: Vec<String>,
    pub message: String,
}

impl KeyError {
    pub fn new(path: &[String], message: impl Into<String>) -> Self {
        KeyError {
            path: path.to_vec(),
            message: message.into(),
        }
    }

    pub fn at(path: &[&str], message: impl Into<String>) -> Self {
        KeyError {
            path: path.iter().map(|s| s.to_string()).collect(),
            message: message.into(),
        }
    }

    pub fn dotted(&self) -> String {
        self.path.join(".")
    }
}

pub fn join_path(base: &[String], rest: &[String]) -> Vec<String> {
    base.iter().chain(rest.iter()).cloned().collect()
}
