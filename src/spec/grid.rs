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

/// The sweeps of one section, not yet expanded: variants are made one at a
/// time ([`Grid::iter`]), so a huge grid can be counted ([`Grid::len`])
/// and refused without ever being held in memory.
#[derive(Debug, Clone)]
pub struct Grid {
    base: toml::Table,
    /// Swept keys and their values, in key order; the last varies fastest.
    axes: Vec<(String, Vec<toml::Value>)>,
}

impl Grid {
    /// Reads and checks the sweeps of a section (`path` is its dotted
    /// location, for errors). Linear in the number of swept values.
    pub fn new(table: &toml::Table, path: &[String]) -> Result<Grid, KeyError> {
        let mut axes = Vec::new();
        for (key, value) in table {
            if let Some(values) = sweep_values(value, &child(path, key))? {
                axes.push((key.clone(), values));
            }
        }
        Ok(Grid {
            base: table.clone(),
            axes,
        })
    }

    /// The number of variants (the product of the sweep lengths),
    /// saturating rather than overflowing.
    pub fn len(&self) -> u128 {
        self.axes
            .iter()
            .fold(1u128, |n, (_, v)| n.saturating_mul(v.len() as u128))
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The variants in order: the first swept key varies slowest.
    pub fn iter(&self) -> impl Iterator<Item = Variant> + '_ {
        let lens: Vec<usize> = self.axes.iter().map(|(_, v)| v.len()).collect();
        let mut digits = vec![0usize; lens.len()];
        let mut done = false;
        std::iter::from_fn(move || {
            if done {
                return None;
            }
            let mut table = self.base.clone();
            let mut swept = Vec::with_capacity(self.axes.len());
            for ((key, values), &d) in self.axes.iter().zip(&digits) {
                table.insert(key.clone(), values[d].clone());
                swept.push((key.clone(), values[d].clone()));
            }
            // Odometer step: the last axis turns fastest.
            done = true;
            for i in (0..digits.len()).rev() {
                digits[i] += 1;
                if digits[i] < lens[i] {
                    done = false;
                    break;
                }
                digits[i] = 0;
            }
            Some(Variant { table, swept })
        })
    }
}

/// Expands the sweeps of one section (`path` is its dotted location, for errors).
pub fn expand(table: &toml::Table, path: &[String]) -> Result<Vec<Variant>, KeyError> {
    Ok(Grid::new(table, path)?.iter().collect())
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
    // Duplicates are found by the value's cell-id rendering, which also
    // catches two distinct values (1 and "1") that would give one id.
    let mut seen = std::collections::HashSet::with_capacity(values.len());
    for a in values {
        if a.as_table().is_some_and(|t| t.contains_key("sweep")) {
            return Err(KeyError::new(path, "sweeps cannot be nested"));
        }
        let label = compact(a);
        if !seen.insert(label.clone()) {
            return Err(KeyError::new(
                path,
                format!("`sweep` lists {label} twice (cell ids would repeat)"),
            ));
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
    fn grids_count_without_expanding_and_iterate_in_order() {
        let t = table("a = { sweep = [1, 2, 3] }\nb = { sweep = [\"x\", \"y\"] }");
        let g = Grid::new(&t, &[]).unwrap();
        assert_eq!(g.len(), 6);
        let labels: Vec<String> = g.iter().map(|v| v.label("m")).collect();
        assert_eq!(labels[0], "m[a=1,b=x]");
        assert_eq!(labels[1], "m[a=1,b=y]");
        assert_eq!(labels[5], "m[a=3,b=y]");
        assert_eq!(labels.len(), 6);
        // No sweep: one variant, the table itself.
        let g = Grid::new(&table("a = 1"), &[]).unwrap();
        assert_eq!((g.len(), g.iter().count()), (1, 1));
        // Huge products saturate instead of overflowing.
        let big: Vec<String> = (0..1000).map(|i| i.to_string()).collect();
        let src: String = (0..20)
            .map(|k| format!("k{k} = {{ sweep = [{}] }}\n", big.join(",")))
            .collect();
        assert_eq!(Grid::new(&table(&src), &[]).unwrap().len(), u128::MAX);
    }

    #[test]
    fn a_long_sweep_is_checked_in_linear_time() {
        // 200 000 distinct values: the old pairwise duplicate check took
        // minutes here; a linear one takes well under a second.
        let vals: Vec<String> = (0..200_000).map(|i| i.to_string()).collect();
        let t = table(&format!("latent_dim = {{ sweep = [{}] }}", vals.join(",")));
        let started = std::time::Instant::now();
        assert_eq!(Grid::new(&t, &[]).unwrap().len(), 200_000);
        assert!(started.elapsed().as_secs_f64() < 5.0);
    }

    #[test]
    fn malformed_sweeps_are_errors() {
        let p = vec!["models".to_string(), "vae".to_string()];
        for (src, needle) in [
            ("beta = { sweep = 4 }", "must be a list"),
            ("beta = { sweep = [] }", "empty"),
            ("beta = { sweep = [1, 1] }", "twice"),
            ("beta = { sweep = [1], step = 2 }", "only `sweep`"),
            ("beta = { sweep = [1, \"1\"] }", "twice"),
        ] {
            let e = expand(&table(src), &p).unwrap_err();
            assert!(e.message.contains(needle), "{src}: {}", e.message);
            assert_eq!(e.dotted(), "models.vae.beta");
        }
    }
}
