//! Parameter sweeps and their expansion.
//!
//! A swept parameter is written `key = { sweep = [v1, v2, ...] }`. The
//! explicit table keeps list-valued parameters unambiguous: `hidden = [512,
//! 256]` is one value, `hidden = { sweep = [[512, 256], [256, 128]] }` is two.
//! A section with several swept keys expands to their Cartesian product.

use super::error::KeyError;

/// One concrete variant of a named section: every sweep replaced by one value.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    pub table: toml::Table,
    /// The swept keys and the value this variant takes, in key order.
    pub swept: Vec<(String, toml::Value)>,
}

impl Variant {
    /// `name[key=value,...]`, or `name` when nothing is swept. Only swept keys
    /// appear, so an id does not change when unrelated settings change.
    pub fn label(&self, name: &str) -> String {
        if self.swept.is_empty() {
            return name.to_string();
        }
        let parts: Vec<String> = self
            .swept
            .iter()
            .map(|(k, v)| format!("{k}={}", compact(v)))
            .collect();
        format!("{name}[{}]", parts.join(","))
    }
}

/// Expands the sweeps of one section (`path` is its dotted location, for errors).
pub fn expand(table: &toml::Table, path: &[String]) -> Result<Vec<Variant>, KeyError> {
    let mut axes: Vec<(String, Vec<toml::Value>)> = Vec::new();
    for (key, value) in table {
        if let Some(values) = sweep_values(value, &child(path, key))? {
            axes.push((key.clone(), values));
        }
    }
    let mut variants = vec![Variant {
        table: table.clone(),
        swept: Vec::new(),
    }];
    for (key, values) in &axes {
        let mut next = Vec::with_capacity(variants.len() * values.len());
        for v in &variants {
            for value in values {
                let mut table = v.table.clone();
                table.insert(key.clone(), value.clone());
                let mut swept = v.swept.clone();
                swept.push((key.clone(), value.clone()));
                next.push(Variant { table, swept });
            }
        }
        variants = next;
    }
    Ok(variants)
}

/// `Some(values)` when `value` is a sweep, checking its form.
fn sweep_values(
    value: &toml::Value,
    path: &[String],
) -> Result<Option<Vec<toml::Value>>, KeyError> {
    let Some(t) = value.as_table() else {
        return Ok(None);
    };
    let Some(sweep) = t.get("sweep") else {
        return Ok(None);
    };
    if t.len() != 1 {
        let extra: Vec<&str> = t
            .keys()
            .filter(|k| *k != "sweep")
            .map(|k| k.as_str())
            .collect();
        return Err(KeyError::new(
            path,
            format!(
                "a sweep table takes only `sweep`, found also {}",
                extra.join(", ")
            ),
        ));
    }
    let Some(values) = sweep.as_array() else {
        return Err(KeyError::new(
            path,
            format!(
                "`sweep` must be a list of values, e.g. {{ sweep = [1, 4] }}, not {}",
                type_name(sweep)
            ),
        ));
    };
    if values.is_empty() {
        return Err(KeyError::new(
            path,
            "`sweep` is empty: give at least one value",
        ));
    }
    for (i, a) in values.iter().enumerate() {
        if values[..i].contains(a) {
            return Err(KeyError::new(
                path,
                format!("`sweep` lists {} twice", compact(a)),
            ));
        }
        if a.as_table().is_some_and(|t| t.contains_key("sweep")) {
            return Err(KeyError::new(path, "sweeps cannot be nested"));
        }
    }
    Ok(Some(values.clone()))
}

fn child(path: &[String], key: &str) -> Vec<String> {
    let mut p = path.to_vec();
    p.push(key.to_string());
    p
}

pub fn type_name(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date",
        toml::Value::Array(_) => "a list",
        toml::Value::Table(_) => "a table",
    }
}

/// A short, stable rendering of a value for cell ids: strings unquoted, lists
/// in brackets without spaces.
pub fn compact(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Array(a) => {
            format!("[{}]", a.iter().map(compact).collect::<Vec<_>>().join(","))
        }
        toml::Value::Table(t) => format!(
            "{{{}}}",
            t.iter()
                .map(|(k, v)| format!("{k}={}", compact(v)))
                .collect::<Vec<_>>()
                .join(",")
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(s: &str) -> toml::Table {
        s.parse().unwrap()
    }

    #[test]
    fn cartesian_product_of_sweeps() {
        let t = table("beta = { sweep = [1, 4, 8] }\nlatent_dim = { sweep = [8, 16] }\nepochs = 5");
        let v = expand(&t, &["models".into(), "vae".into()]).unwrap();
        assert_eq!(v.len(), 6);
        assert_eq!(v[0].label("vae"), "vae[beta=1,latent_dim=8]");
        assert_eq!(v[5].label("vae"), "vae[beta=8,latent_dim=16]");
        assert!(v.iter().all(|x| x.table["epochs"].as_integer() == Some(5)));
    }

    #[test]
    fn lists_are_values_not_sweeps() {
        let t = table("hidden = [512, 256]");
        let v = expand(&t, &[]).unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].label("vae"), "vae");
        let t = table("hidden = { sweep = [[512, 256], [64]] }");
        let v = expand(&t, &[]).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].label("vae"), "vae[hidden=[512,256]]");
        assert!(v[1].table["hidden"].is_array());
    }

    #[test]
    fn malformed_sweeps_are_errors() {
        let p = vec!["models".to_string(), "vae".to_string()];
        for (src, needle) in [
            ("beta = { sweep = 4 }", "must be a list"),
            ("beta = { sweep = [] }", "empty"),
            ("beta = { sweep = [1, 1] }", "twice"),
            ("beta = { sweep = [1], step = 2 }", "only `sweep`"),
        ] {
            let e = expand(&table(src), &p).unwrap_err();
            assert!(e.message.contains(needle), "{src}: {}", e.message);
            assert_eq!(e.dotted(), "models.vae.beta");
        }
    }
}
