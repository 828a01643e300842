//! Where configuration comes from (file < `RUNNER_*` environment < `--set`),
//! merged with figment, and how a dotted key is traced back to its origin so
//! that an error can say `experiments/hard.toml:14` or `--set models.vae.beta=x`.

use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;

use super::error::SpecError;

/// Environment variables that override keys: `RUNNER_MODELS__VAE__BETA=4`
/// sets `models.vae.beta`. Only names with a `__` section separator count, so
/// unrelated variables that happen to start with `RUNNER_` (CI systems set
/// `RUNNER_OS`, `RUNNER_TEMP`, ...) are never read as configuration.
pub const ENV_PREFIX: &str = "RUNNER_";

pub struct Sources {
    pub file: PathBuf,
    text: String,
    doc: toml_edit::ImDocument<String>,
    overrides: Vec<(String, String)>,
    env: Vec<(String, String)>,
}

impl Sources {
    /// Reads and parses the file (syntax errors are reported here with line
    /// and column) and remembers the overrides for locating keys later.
    pub fn load(file: &Path, overrides: &[String]) -> Result<(Self, toml::Value), SpecError> {
        let at_file = |message: String| SpecError {
            location: file.display().to_string(),
            key: String::new(),
            message,
        };
        let text = std::fs::read_to_string(file)
            .map_err(|e| at_file(format!("cannot read experiment file: {e}")))?;
        let doc = toml_edit::ImDocument::parse(text.clone()).map_err(|e| {
            let (line, col) = e.span().map(|s| line_col(&text, s.start)).unwrap_or((0, 0));
            SpecError {
                location: format!("{}:{line}:{col}", file.display()),
                key: String::new(),
                message: format!("TOML syntax error: {}", e.message()),
            }
        })?;

        let mut parsed_overrides = Vec::new();
        // The text already read, not the file again: a pipe (/dev/stdin)
        // can be read only once.
        let mut figment = Figment::new().merge(Toml::string(&text));
        let env: Vec<(String, String)> = std::env::vars()
            .filter_map(|(k, v)| {
                let rest = k.strip_prefix(ENV_PREFIX)?;
                let key = rest
                    .contains("__")
                    .then(|| rest.to_ascii_lowercase().replace("__", "."))?;
                Some((key, format!("{k}={v}")))
            })
            .collect();
        figment = figment.merge(
            Env::prefixed(ENV_PREFIX)
                .filter(|k| k.as_str().contains("__"))
                .split("__"),
        );
        for raw in overrides {
            let (key, value) = raw.split_once('=').ok_or_else(|| SpecError {
                location: format!("--set {raw}"),
                key: String::new(),
                message: "expected KEY=VALUE, e.g. --set models.vae.beta=4".into(),
            })?;
            let key = key.trim();
            if key.is_empty() || key.split('.').any(|p| p.is_empty()) {
                return Err(SpecError {
                    location: format!("--set {raw}"),
                    key: key.into(),
                    message: "the key must be a dotted path such as models.vae.beta".into(),
                });
            }
            let value = parse_override_value(value.trim());
            figment = figment.merge(Serialized::default(key, value));
            parsed_overrides.push((key.to_string(), raw.clone()));
        }
        let merged: toml::Value = figment.extract().map_err(|e| at_file(e.to_string()))?;
        Ok((
            Sources {
                file: file.to_path_buf(),
                text,
                doc,
                overrides: parsed_overrides,
                env,
            },
            merged,
        ))
    }

    /// Describes where the key at `path` was set: the last `--set` or
    /// environment variable that covers it, else its line in the file (or the
    /// line of the nearest enclosing table when the key is missing).
    pub fn locate(&self, path: &[String]) -> String {
        let dotted = path.join(".");
        let covers = |k: &str| dotted == k || dotted.starts_with(&format!("{k}."));
        if let Some((_, raw)) = self.overrides.iter().rev().find(|(k, _)| covers(k)) {
            return format!("--set {raw}");
        }
        if let Some((_, raw)) = self.env.iter().find(|(k, _)| covers(k)) {
            return format!("environment {raw}");
        }
        match self.line_of(path) {
            Some(line) => format!("{}:{line}", self.file.display()),
            None => self.file.display().to_string(),
        }
    }

    fn line_of(&self, path: &[String]) -> Option<usize> {
        let mut table: &dyn toml_edit::TableLike = self.doc.as_table();
        let mut best = None;
        for part in path {
            let Some((key, item)) = table.get_key_value(part) else {
                break;
            };
            if let Some(span) = key.span().or_else(|| item.span()) {
                best = Some(line_col(&self.text, span.start).0);
            }
            match item.as_table_like() {
                Some(t) => table = t,
                None => break,
            }
        }
        best
    }

    pub fn error(&self, e: super::error::KeyError) -> SpecError {
        SpecError {
            location: self.locate(&e.path),
            key: e.dotted(),
            message: e.message,
        }
    }
}

/// `--set` values are TOML values (`4`, `[512, 256]`, `{ sweep = [1, 4] }`,
/// `"text"`); anything that does not parse as one is taken as a bare string,
/// so `--set dataset.path=data/gtzan` needs no quotes.
pub fn parse_override_value(raw: &str) -> toml::Value {
    match format!("v = {raw}").parse::<toml::Table>() {
        Ok(mut t) => t.remove("v").unwrap_or(toml::Value::String(raw.into())),
        Err(_) => toml::Value::String(raw.to_string()),
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn override_values_are_toml_or_strings() {
        assert_eq!(parse_override_value("4"), toml::Value::Integer(4));
        assert_eq!(
            parse_override_value("data/gtzan"),
            toml::Value::String("data/gtzan".into())
        );
        assert!(parse_override_value("[1, 2]").is_array());
        assert!(parse_override_value("{ sweep = [1, 2] }").is_table());
    }

    #[test]
    fn line_and_column_are_one_based() {
        assert_eq!(line_col("a\nbc\n", 3), (2, 2));
        assert_eq!(line_col("abc", 0), (1, 1));
    }
}
