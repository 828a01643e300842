//! Reading embeddings and labellings made by other tools, for `runner score`:
//! matrices as CSV (an optional header row) or `.npy` (f32/f64), labels as
//! one per line (integers, or any strings for true labels) or `.npy`.

use std::path::Path;

use anyhow::{bail, Context, Result};
use ndarray::Array2;

pub fn read_matrix(path: &Path) -> Result<Array2<f64>> {
    let x = read_any_matrix(path)?;
    if x.nrows() == 0 || x.ncols() == 0 {
        bail!(
            "{}: no data ({} rows × {} columns)",
            path.display(),
            x.nrows(),
            x.ncols()
        );
    }
    // Metrics of NaN or infinite coordinates are undefined: name the first.
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        let (r, c) = (i / x.ncols(), i % x.ncols());
        bail!(
            "{}: row {}, column {} is {} (NaN or infinite values cannot be scored)",
            path.display(),
            r + 1,
            c + 1,
            x[[r, c]]
        );
    }
    Ok(x)
}

fn read_any_matrix(path: &Path) -> Result<Array2<f64>> {
    if has_ext(path, "npy") {
        if let Ok(a) = ndarray_npy::read_npy::<_, Array2<f64>>(path) {
            return Ok(a);
        }
        let a: Array2<f32> = ndarray_npy::read_npy(path).with_context(|| {
            format!(
                "{}: expected a 2-D float32 or float64 .npy array",
                path.display()
            )
        })?;
        return Ok(a.mapv(|v| v as f64));
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut rows: Vec<Vec<f64>> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Result<Vec<f64>, _> =
            line.split(',').map(|v| v.trim().parse::<f64>()).collect();
        match parsed {
            Ok(r) => rows.push(r),
            Err(_) if i == 0 => continue, // a header row
            Err(e) => bail!("{}:{}: not a number ({e})", path.display(), i + 1),
        }
    }
    let Some(d) = rows.first().map(Vec::len) else {
        bail!("{}: no rows", path.display())
    };
    if let Some(i) = rows.iter().position(|r| r.len() != d) {
        bail!(
            "{}: row {} has {} values, the first row has {d}",
            path.display(),
            i + 1,
            rows[i].len()
        );
    }
    Ok(Array2::from_shape_vec(
        (rows.len(), d),
        rows.into_iter().flatten().collect(),
    )?)
}

/// Labels as strings (one per line, or integers from `.npy`).
pub fn read_labels(path: &Path) -> Result<Vec<String>> {
    if has_ext(path, "npy") {
        let a: ndarray::Array1<i64> = ndarray_npy::read_npy(path)
            .with_context(|| format!("{}: expected a 1-D int64 .npy array", path.display()))?;
        return Ok(a.iter().map(|v| v.to_string()).collect());
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(text
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect())
}

/// Predicted labels must be integers (−1 = noise).
pub fn parse_pred(labels: &[String], path: &Path) -> Result<Vec<i64>> {
    labels
        .iter()
        .enumerate()
        .map(|(i, l)| {
            l.parse::<i64>().with_context(|| {
                format!(
                    "{}:{}: `{l}` is not an integer cluster id",
                    path.display(),
                    i + 1
                )
            })
        })
        .collect()
}

fn has_ext(p: &Path, e: &str) -> bool {
    p.extension().is_some_and(|x| x.eq_ignore_ascii_case(e))
}
