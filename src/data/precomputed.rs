//! `kind = "precomputed"`: features made by other tools (embeddings from a
//! notebook, openl3, CLAP …), one row per track, from `.npy`, `.csv` or
//! `.parquet`, with labels from a column of the same table or a file of
//! their own. The pipeline skips decoding and extraction and clusters these
//! rows as they are (standardised if the feature set says so).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use ndarray::Array2;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::spec::KeyError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrecomputedSpec {
    pub kind: String,
    /// The feature table: `.npy` (rows × dims, f32 or f64), `.csv` or `.parquet`.
    pub path: PathBuf,
    /// Labels, one per row: a `.txt` (one per line) or a `.csv` (its
    /// `label` column, or its only column). For CSV and Parquet tables a
    /// `label` column in the table itself is used when this is absent.
    #[serde(default)]
    pub labels: Option<PathBuf>,
    /// The label column of a CSV/Parquet table.
    #[serde(default = "d_label")]
    pub label_column: String,
    /// A column of track ids (default: row numbers).
    #[serde(default)]
    pub id_column: Option<String>,
}

fn d_label() -> String {
    "label".into()
}

impl PrecomputedSpec {
    pub fn checked(self, path: &[String]) -> Result<Self, KeyError> {
        let ext = extension(&self.path);
        if !["npy", "csv", "parquet"].contains(&ext.as_str()) {
            return Err(KeyError::new(
                &crate::spec::error::join_path(path, &["path".into()]),
                "expected a .npy, .csv or .parquet file",
            ));
        }
        Ok(self)
    }
}

fn extension(p: &Path) -> String {
    p.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// The loaded table: features, and per row an id and an optional label.
#[derive(Debug)]
pub struct Table {
    pub x: Array2<f32>,
    pub ids: Vec<String>,
    pub labels: Vec<Option<String>>,
}

pub fn load(spec: &PrecomputedSpec) -> Result<Table> {
    let path = &spec.path;
    if !path.is_file() {
        bail!(
            "precomputed features {} do not exist (a .npy, .csv or .parquet with one row per track)",
            path.display()
        );
    }
    let (x, ids, mut labels) = match extension(path).as_str() {
        "npy" => {
            let x = read_npy(path)?;
            let n = x.nrows();
            (x, None, vec![None; n])
        }
        ext => {
            let df = if ext == "csv" {
                CsvReadOptions::default()
                    .with_has_header(true)
                    .try_into_reader_with_file_path(Some(path.clone()))
                    .and_then(|r| r.finish())
            } else {
                std::fs::File::open(path)
                    .map_err(PolarsError::from)
                    .and_then(|f| ParquetReader::new(f).finish())
            }
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            table_columns(&df, spec).with_context(|| path.display().to_string())?
        }
    };
    if let Some(lp) = &spec.labels {
        labels = read_labels(lp)?.into_iter().map(Some).collect();
        if labels.len() != x.nrows() {
            bail!(
                "{} has {} labels for {} rows of {}",
                lp.display(),
                labels.len(),
                x.nrows(),
                path.display()
            );
        }
    }
    if x.nrows() < 2 || x.ncols() == 0 {
        bail!(
            "{}: need at least 2 rows and 1 feature column, got {} × {}",
            path.display(),
            x.nrows(),
            x.ncols()
        );
    }
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        bail!(
            "{}: value {} (row {}) is not finite",
            path.display(),
            i,
            i / x.ncols()
        );
    }
    let ids: Vec<String> =
        ids.unwrap_or_else(|| (0..x.nrows()).map(|i| format!("row{i:05}")).collect());
    let mut seen = std::collections::HashMap::with_capacity(ids.len());
    for (row, id) in ids.iter().enumerate() {
        if let Some(first) = seen.insert(id.as_str(), row) {
            bail!(
                "{}: rows {first} and {row} have the same id `{id}` (column {}); ids must differ",
                path.display(),
                spec.id_column.as_deref().unwrap_or("?")
            );
        }
    }
    // An empty label is a missing one: the row is clustered, and left out
    // of the external metrics.
    let labels = labels
        .into_iter()
        .map(|l| l.filter(|s| !s.trim().is_empty()))
        .collect();
    Ok(Table { x, ids, labels })
}

type Columns = (Array2<f32>, Option<Vec<String>>, Vec<Option<String>>);

/// Numeric columns are features; the label and id columns are text.
fn table_columns(df: &DataFrame, spec: &PrecomputedSpec) -> Result<Columns> {
    let text = |name: &str| -> Result<Vec<Option<String>>> {
        let c = df.column(name)?.cast(&DataType::String)?;
        let c = c.str()?;
        Ok((0..c.len()).map(|i| c.get(i).map(String::from)).collect())
    };
    let mut skip = vec![spec.label_column.clone()];
    let ids = match &spec.id_column {
        Some(c) => {
            skip.push(c.clone());
            Some(
                text(c)?
                    .into_iter()
                    .map(|v| v.unwrap_or_default())
                    .collect(),
            )
        }
        None => None,
    };
    let has_label = df
        .get_column_names()
        .iter()
        .any(|n| n.as_str() == spec.label_column);
    let labels = if has_label {
        text(&spec.label_column)?
    } else {
        vec![None; df.height()]
    };
    let mut cols = Vec::new();
    for c in df.columns() {
        if skip.iter().any(|s| s == c.name().as_str()) {
            continue;
        }
        if !c.dtype().is_primitive_numeric() {
            bail!(
                "column `{}` is {} — feature columns must be numeric (name the label column with \
                 label_column, an id column with id_column)",
                c.name(),
                c.dtype()
            );
        }
        let f = c.cast(&DataType::Float32)?;
        let f = f.f32()?;
        let v: Vec<f32> = (0..f.len()).map(|i| f.get(i).unwrap_or(f32::NAN)).collect();
        cols.push(v);
    }
    let (n, d) = (df.height(), cols.len());
    let x = Array2::from_shape_fn((n, d), |(r, c)| cols[c][r]);
    Ok((x, ids, labels))
}

fn read_npy(path: &Path) -> Result<Array2<f32>> {
    if let Ok(x) = ndarray_npy::read_npy::<_, Array2<f32>>(path) {
        return Ok(x);
    }
    let x: Array2<f64> = ndarray_npy::read_npy(path)
        .with_context(|| format!("{}: not a 2-D float32/float64 .npy", path.display()))?;
    Ok(x.mapv(|v| v as f32))
}

fn read_labels(path: &Path) -> Result<Vec<String>> {
    let body = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read labels {}", path.display()))?;
    if extension(path) == "csv" {
        let mut lines = body.lines();
        let header: Vec<&str> = lines
            .next()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .collect();
        let col = match header.iter().position(|h| *h == "label") {
            Some(i) => i,
            None if header.len() == 1 => 0,
            None => bail!(
                "{}: no `label` column (columns: {})",
                path.display(),
                header.join(", ")
            ),
        };
        return Ok(lines
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.split(',').nth(col).unwrap_or("").trim().to_string())
            .collect());
    }
    Ok(body
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(path: PathBuf) -> PrecomputedSpec {
        PrecomputedSpec {
            kind: "precomputed".into(),
            path,
            labels: None,
            label_column: "label".into(),
            id_column: None,
        }
    }

    #[test]
    fn reads_npy_with_a_labels_file_and_csv_with_columns() {
        let dir = tempfile::tempdir().unwrap();
        let npy = dir.path().join("emb.npy");
        ndarray_npy::write_npy(
            &npy,
            &ndarray::arr2(&[[1.0f64, 2.0], [3.0, 4.0], [5.0, 6.0]]),
        )
        .unwrap();
        std::fs::write(dir.path().join("labels.txt"), "a\nb\na\n").unwrap();
        let mut s = spec(npy);
        s.labels = Some(dir.path().join("labels.txt"));
        let t = load(&s).unwrap();
        assert_eq!(t.x.dim(), (3, 2));
        assert_eq!(t.labels[1].as_deref(), Some("b"));
        assert_eq!(t.ids[2], "row00002");

        let csv = dir.path().join("emb.csv");
        std::fs::write(&csv, "id,f0,f1,label\nx,0.5,1,rock\ny,1.5,2,jazz\n").unwrap();
        let mut s = spec(csv);
        s.id_column = Some("id".into());
        let t = load(&s).unwrap();
        assert_eq!(t.x, ndarray::arr2(&[[0.5f32, 1.0], [1.5, 2.0]]));
        assert_eq!(t.ids, vec!["x", "y"]);
        assert_eq!(t.labels[0].as_deref(), Some("rock"));
    }

    #[test]
    fn errors_name_the_file_and_reason() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("emb.csv");
        std::fs::write(&csv, "f0,genre\n0.5,rock\n1.5,jazz\n").unwrap();
        let e = load(&spec(csv.clone())).unwrap_err();
        assert!(format!("{e:#}").contains("column `genre`"), "{e:#}");
        let mut s = spec(csv);
        s.labels = Some(dir.path().join("missing.txt"));
        s.label_column = "genre".into();
        assert!(format!("{:#}", load(&s).unwrap_err()).contains("missing.txt"));
        assert!(format!(
            "{:#}",
            load(&spec(dir.path().join("nope.npy"))).unwrap_err()
        )
        .contains("do not exist"));
    }
}
