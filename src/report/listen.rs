//! Listening to clusters: for the leading configuration (and the cells that
//! `report.listen_cells` names), each cluster's tracks nearest its centre in
//! the latent space (`CellResult::exemplars`), with their true labels and an
//! audio player. People judge a clustering of music by ear.
//!
//! [`plan`] picks the tracks from the record alone; [`attach_audio`] gives
//! each a source the report folder can play: files of a folder or manifest
//! dataset are linked where they are (relative to the report), while the
//! synthetic corpus (which lives in the cache) and formats browsers do not
//! play (`.au`) are written as short WAV clips into `<report>/audio/`. When
//! the source is gone (an emptied cache), the clip an earlier rendering of
//! the record wrote is kept, so `runner report` reproduces the report. A
//! track with neither gets no player; its path is shown.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::colours::{class_names, cluster_colours, hex};
use super::results::{CellResult, CellStatus, RunRecord};
use super::table::AggRow;

/// Clips written for the report are this long at most (seconds).
pub const CLIP_SECONDS: f64 = 5.0;

/// Folder of the clips inside the report folder.
pub const AUDIO_DIR: &str = "audio";

/// Extensions a browser's `<audio>` plays (Chromium, Firefox, Safari).
const PLAYABLE: &[&str] = &[
    "wav", "mp3", "ogg", "oga", "opus", "flac", "m4a", "aac", "mp4", "webm",
];

#[derive(Debug, Clone, PartialEq)]
pub struct ListenTrack {
    /// The track id (its path relative to the dataset root).
    pub id: String,
    pub label: Option<String>,
    /// Index into the dataset's tracks.
    pub track: usize,
    /// The audio file as the run recorded it (None: the dataset has no audio).
    pub path: Option<String>,
    /// What a player or link opens, relative to the report folder
    /// (percent-encoded); None when the audio file is missing.
    pub src: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListenCluster {
    pub cluster: i64,
    pub size: usize,
    /// `#rrggbb`: the cluster's colour in the latent maps.
    pub colour: String,
    /// The class the cluster is matched to, and how many of its tracks carry it.
    pub matched: Option<(String, usize)>,
    pub tracks: Vec<ListenTrack>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListenSet {
    pub cell: String,
    /// The leaderboard's leading configuration (else asked for by `listen_cells`).
    pub leading: bool,
    pub clusters: Vec<ListenCluster>,
    /// Tracks marked noise (−1): no centre, so none is listed.
    pub noise: usize,
}

/// The cells to list: the leading configuration's lowest ok seed, then the
/// cells `report.listen_cells` names (each once).
fn chosen<'a>(rec: &'a RunRecord, ranked: &[AggRow]) -> Vec<(&'a CellResult, bool)> {
    let mut out: Vec<(&CellResult, bool)> = Vec::new();
    let config_of = |c: &CellResult| {
        c.cell
            .rsplit_once("/seed=")
            .map_or(c.cell.clone(), |(a, _)| a.to_string())
    };
    if let Some(lead) = ranked.first() {
        if let Some(c) = rec
            .cells
            .iter()
            .filter(|c| c.status == CellStatus::Ok && config_of(c) == lead.config)
            .min_by_key(|c| c.seed)
        {
            out.push((c, true));
        }
    }
    for id in &rec.report.listen_cells {
        if let Some(c) = rec.cells.iter().find(|c| &c.cell == id) {
            if !out.iter().any(|(o, _)| o.cell == c.cell) {
                out.push((c, false));
            }
        }
    }
    out
}

/// The tracks to listen to, from the record alone (no file is read).
pub fn plan(rec: &RunRecord, ranked: &[AggRow]) -> Vec<ListenSet> {
    let per_cluster = rec.report.listen;
    if per_cluster == 0 {
        return Vec::new();
    }
    let classes = class_names(rec);
    chosen(rec, ranked)
        .into_iter()
        .filter(|(c, _)| !c.exemplars.is_empty())
        .filter_map(|(cell, leading)| {
            let rows = rec.dataset.rows.get(&cell.feature_set)?;
            let colours = cluster_colours(rec, cell);
            let clusters = cell
                .exemplars
                .iter()
                .map(|(&id, members)| {
                    let c = colours.get(&id);
                    ListenCluster {
                        cluster: id,
                        size: c.map_or(0, |c| c.size),
                        colour: c.map_or_else(|| "#b8b8b8".into(), |c| hex(c.colour)),
                        matched: c
                            .and_then(|c| Some((classes.get(c.matched?)?.clone(), c.agreeing))),
                        tracks: members
                            .iter()
                            .take(per_cluster)
                            .filter_map(|&row| {
                                let track = *rows.get(row)?;
                                Some(ListenTrack {
                                    id: rec.dataset.track_ids.get(track)?.clone(),
                                    label: rec.dataset.track_labels.get(track).cloned().flatten(),
                                    track,
                                    path: rec.dataset.track_paths.get(track).cloned(),
                                    src: None,
                                })
                            })
                            .collect(),
                    }
                })
                .collect::<Vec<_>>();
            // In class order, as the maps' legends: matched clusters by their
            // class, then left-over clusters.
            let mut clusters = clusters;
            clusters.sort_by_key(|c| {
                let class = colours.get(&c.cluster).and_then(|k| k.matched);
                (class.is_none(), class, c.cluster)
            });
            Some(ListenSet {
                cell: cell.cell.clone(),
                leading,
                clusters,
                noise: cell.assignments.iter().filter(|&&a| a < 0).count(),
            })
        })
        .collect()
}

/// Gives every listed track a source playable from `dir` (see the module
/// notes), writing clips into `dir/audio/` and removing clips no longer
/// listed.
pub fn attach_audio(sets: &mut [ListenSet], rec: &RunRecord, dir: &Path) -> Result<()> {
    let audio_dir = dir.join(AUDIO_DIR);
    let mut written: BTreeSet<String> = BTreeSet::new();
    for track in sets
        .iter_mut()
        .flat_map(|s| s.clusters.iter_mut())
        .flat_map(|c| c.tracks.iter_mut())
    {
        let Some(path) = track.path.as_deref().map(PathBuf::from) else {
            continue;
        };
        if rec.dataset.kind == "synthetic" || !playable(&path) {
            let name = clip_name(&track.id);
            let clip = audio_dir.join(&name);
            if !written.contains(&name) {
                if path.is_file() {
                    std::fs::create_dir_all(&audio_dir)
                        .with_context(|| format!("cannot create {}", audio_dir.display()))?;
                    write_clip(&path, &clip)?;
                } else if !clip.is_file() {
                    // Neither the source (the cache was emptied) nor a clip
                    // an earlier rendering of this record wrote.
                    continue;
                }
                written.insert(name.clone());
            }
            track.src = Some(format!("{AUDIO_DIR}/{}", url_path(&name)));
        } else if path.is_file() {
            track.src = relative(dir, &path).map(|r| url_path(&r));
        }
    }
    remove_stale_clips(&audio_dir, &written)
}

fn playable(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| PLAYABLE.contains(&e.to_ascii_lowercase().as_str()))
}

/// `rock/rock.00007.wav` → `rock_rock.00007.wav`: one flat folder, names
/// still recognisable.
fn clip_name(id: &str) -> String {
    let stem = id.rsplit_once('.').map_or(id, |(s, _)| s);
    let safe: String = stem
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}.wav")
}

/// The first [`CLIP_SECONDS`] of `src` as 16-bit mono WAV at the file's own
/// rate when it is a WAV (22 050 Hz otherwise), decoded by the same code as
/// the features.
fn write_clip(src: &Path, dst: &Path) -> Result<()> {
    let sample_rate = hound::WavReader::open(src)
        .map(|r| r.spec().sample_rate)
        .unwrap_or(22_050);
    let decoded = crate::audio::decode::decode_file(
        src,
        &crate::data::DecodeParams {
            sample_rate,
            offset: 0.0,
            duration: Some(CLIP_SECONDS),
        },
    )
    .with_context(|| format!("cannot read {} for a listening clip", src.display()))?;
    let tmp = dst.with_extension("wav.tmp");
    crate::data::synthetic::write_wav16(&tmp, &decoded.samples, decoded.sample_rate)?;
    std::fs::rename(&tmp, dst).with_context(|| format!("cannot write {}", dst.display()))
}

fn remove_stale_clips(audio_dir: &Path, keep: &BTreeSet<String>) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(audio_dir) else {
        return Ok(());
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.ends_with(".wav") && !keep.contains(&name) {
            std::fs::remove_file(e.path())
                .with_context(|| format!("cannot remove {}", e.path().display()))?;
        }
    }
    // An empty folder is removed; a folder holding other files is left alone.
    if keep.is_empty() {
        let _ = std::fs::remove_dir(audio_dir);
    }
    Ok(())
}

/// `to` relative to the folder `from`, with `/` separators (both must exist).
fn relative(from: &Path, to: &Path) -> Option<String> {
    let from = std::fs::canonicalize(from).ok()?;
    let to = std::fs::canonicalize(to).ok()?;
    let common = from
        .components()
        .zip(to.components())
        .take_while(|(a, b)| a == b)
        .count();
    let ups = from.components().count() - common;
    let parts: Vec<String> = std::iter::repeat_n("..".to_string(), ups)
        .chain(
            to.components()
                .skip(common)
                .map(|c| c.as_os_str().to_string_lossy().to_string()),
        )
        .collect();
    Some(parts.join("/"))
}

/// Percent-encodes a relative path for a URL (each segment; `/` kept), so
/// names with spaces, `#` or `?` still open.
pub fn url_path(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_paths_are_percent_encoded() {
        assert_eq!(url_path("../data/a b#1.wav"), "../data/a%20b%231.wav");
        assert_eq!(url_path("audio/é.wav"), "audio/%C3%A9.wav");
    }

    #[test]
    fn clip_names_are_flat_and_recognisable() {
        assert_eq!(clip_name("rock/rock.00007.wav"), "rock_rock.00007.wav");
        assert_eq!(clip_name("blues/a b.au"), "blues_a_b.wav");
    }

    #[test]
    fn relative_paths_climb_out_of_the_report_folder() {
        let d = tempfile::tempdir().unwrap();
        let report = d.path().join("reports/x");
        let audio = d.path().join("data/genre");
        std::fs::create_dir_all(&report).unwrap();
        std::fs::create_dir_all(&audio).unwrap();
        std::fs::write(audio.join("t.wav"), b"").unwrap();
        assert_eq!(
            relative(&report, &audio.join("t.wav")).as_deref(),
            Some("../../data/genre/t.wav")
        );
        assert_eq!(relative(&report, &audio.join("missing.wav")), None);
    }
}
