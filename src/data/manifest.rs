//! `kind = "manifest"`: a CSV listing the tracks. Columns: `path` (audio,
//! relative to the CSV's folder), optional `label`, optional `lyrics` (the
//! text) or `lyrics_path` (a text file, relative to the CSV), and any other
//! columns (e.g. `language`), kept as track metadata for CVAE conditions.
//! The decode options are the folder dataset's ([`super::folders::FoldersSpec`]).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use polars::prelude::*;

use super::Track;

/// Reads the manifest; every error names the CSV, and the row where one is at fault.
pub fn list(csv: &Path) -> Result<Vec<Track>> {
    if !csv.is_file() {
        bail!(
            "manifest {} does not exist: write a CSV with a `path` column (and optionally \
             `label`, `lyrics` or `lyrics_path`, and other columns), or run on the built-in \
             corpus with --set dataset.kind=synthetic",
            csv.display()
        );
    }
    // Every column as text: labels such as "01" must not become numbers.
    let df = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(csv.to_path_buf()))
        .and_then(|r| r.finish())
        .map_err(|e| anyhow::anyhow!("{}: not a readable CSV: {e}", csv.display()))?;
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    if !names.iter().any(|n| n == "path") {
        bail!(
            "{}: no `path` column (columns: {})",
            csv.display(),
            names.join(", ")
        );
    }
    if names.iter().any(|n| n == "lyrics") && names.iter().any(|n| n == "lyrics_path") {
        bail!(
            "{}: has both `lyrics` and `lyrics_path`; keep one",
            csv.display()
        );
    }
    // An empty (or blank) cell is a missing value: a track without a
    // label is clustered but left out of the external metrics.
    let text = |name: &str, row: usize| -> Result<Option<String>> {
        let c = df.column(name)?;
        Ok(c.str()?
            .get(row)
            .map(|s| s.to_string())
            .filter(|s| !s.trim().is_empty()))
    };
    let base = csv.parent().unwrap_or(Path::new("."));
    // Files by their canonical path, so `./x.wav`, `dir/../x.wav` and an
    // absolute path are one file (and a link and its target too).
    let mut seen: HashMap<PathBuf, (usize, String)> = HashMap::new();
    let mut tracks = Vec::with_capacity(df.height());
    for row in 0..df.height() {
        let line = row + 2; // 1-based, after the header
        let Some(rel) = text("path", row)? else {
            bail!("{}:{line}: empty `path`", csv.display());
        };
        let path = base.join(&rel);
        if path.is_dir() {
            bail!(
                "{}:{line}: {} is a folder, not an audio file",
                csv.display(),
                path.display()
            );
        }
        if !path.is_file() {
            bail!(
                "{}:{line}: audio file {} does not exist",
                csv.display(),
                path.display()
            );
        }
        let canonical = std::fs::canonicalize(&path).with_context(|| {
            format!(
                "{}:{line}: cannot resolve {}",
                csv.display(),
                path.display()
            )
        })?;
        if let Some((first, as_written)) = seen.get(&canonical) {
            bail!(
                "{}:{line}: duplicated path `{rel}`: the same file as `{as_written}` on line {first}",
                csv.display()
            );
        }
        seen.insert(canonical, (line, rel.clone()));
        let lyrics = if names.iter().any(|n| n == "lyrics_path") {
            match text("lyrics_path", row)? {
                Some(l) => {
                    let p = base.join(&l);
                    Some(
                        std::fs::read_to_string(&p)
                            .with_context(|| {
                                format!(
                                    "{}:{line}: cannot read lyrics {}",
                                    csv.display(),
                                    p.display()
                                )
                            })?
                            .trim()
                            .to_string(),
                    )
                }
                None => None,
            }
        } else if names.iter().any(|n| n == "lyrics") {
            text("lyrics", row)?
        } else {
            None
        };
        let mut meta = BTreeMap::new();
        for n in &names {
            if !["path", "label", "lyrics", "lyrics_path"].contains(&n.as_str()) {
                if let Some(v) = text(n, row)? {
                    meta.insert(n.clone(), v);
                }
            }
        }
        tracks.push(Track {
            id: rel.replace('\\', "/"),
            path,
            label: if names.iter().any(|n| n == "label") {
                text("label", row)?
            } else {
                None
            },
            lyrics,
            meta,
        });
    }
    if tracks.is_empty() {
        bail!("{}: the manifest lists no tracks", csv.display());
    }
    super::check_unique_ids(&tracks, csv)?;
    Ok(tracks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(csv: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("audio")).unwrap();
        for f in ["a.wav", "b.wav"] {
            std::fs::write(dir.path().join("audio").join(f), b"RIFF").unwrap();
        }
        std::fs::write(dir.path().join("b.txt"), "আমি তুমি\n").unwrap();
        let p = dir.path().join("songs.csv");
        std::fs::write(&p, csv).unwrap();
        (dir, p)
    }

    #[test]
    fn reads_labels_lyrics_and_extra_columns() {
        let (_d, p) = setup("path,label,lyrics,language\naudio/a.wav,pop,\"love, the \"\"rain\"\"\nnight\",en\naudio/b.wav,baul,,bn\n");
        let t = list(&p).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].label.as_deref(), Some("pop"));
        assert_eq!(t[0].lyrics.as_deref(), Some("love, the \"rain\"\nnight"));
        assert_eq!(t[1].lyrics, None);
        assert_eq!(t[1].column("language").as_deref(), Some("bn"));
        let (_d, p) = setup("path,lyrics_path\naudio/b.wav,b.txt\n");
        assert_eq!(list(&p).unwrap()[0].lyrics.as_deref(), Some("আমি তুমি"));
    }

    #[test]
    fn errors_name_the_file_and_row() {
        let (_d, p) = setup("file,label\naudio/a.wav,pop\n");
        assert!(list(&p)
            .unwrap_err()
            .to_string()
            .contains("no `path` column"));
        let (_d, p) = setup("path\naudio/a.wav\naudio/a.wav\n");
        let e = list(&p).unwrap_err().to_string();
        assert!(e.contains("songs.csv:3") && e.contains("duplicated"), "{e}");
        let (_d, p) = setup("path\naudio/missing.wav\n");
        let e = list(&p).unwrap_err().to_string();
        assert!(
            e.contains("songs.csv:2") && e.contains("does not exist"),
            "{e}"
        );
    }
}
