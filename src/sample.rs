//! `runner sample`: decodes codes drawn from the prior N(0, I) of a trained
//! VAE-family model (given a condition value for a CVAE) into feature
//! matrices, loading the decoder from the cell's cached checkpoint.
//!
//! The artifact is found by the key `runner plan` computes for the cell
//! ([`crate::pipeline::plan`]), never by a key derived here. Outputs are put
//! back into feature units with the standardisation the artifact recorded
//! ([`crate::pipeline::scaling`]), and mel-spectrogram models are also
//! inverted to audio ([`crate::dsp::inverse`]).
//!
//! Files in the output folder: `sample_NN.npy` (rows × frames for
//! sequences, a vector for summaries), `sample_NN.png` heat-maps for
//! sequences or `samples.svg` profiles for summaries, `sample_NN.wav` for
//! mel spectrograms, `sample_NN_lyrics.npy` for feature sets with lyrics,
//! and `samples.json` describing them.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use candle_core::{Device, Tensor};
use ndarray::{Array1, Array2};
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::dsp::{FeatureKind, FeatureName, FeatureShape};
use crate::pipeline::{self, scaling::Scaling, REPRESENT};
use crate::spec::{Experiment, Group};

/// Why sampling could not be done: the request is invalid (exit 2), or
/// what it needs is not there (exit 3).
#[derive(Debug)]
pub enum SampleError {
    Invalid(anyhow::Error),
    Unavailable(anyhow::Error),
}

impl From<anyhow::Error> for SampleError {
    fn from(e: anyhow::Error) -> Self {
        SampleError::Unavailable(e)
    }
}

fn invalid(msg: String) -> SampleError {
    SampleError::Invalid(anyhow!(msg))
}

pub struct SampleOptions<'a> {
    pub cell: &'a str,
    pub n: usize,
    pub condition: Option<&'a str>,
    pub seed: u64,
    pub out: &'a Path,
}

/// What was written.
pub struct Written {
    pub files: Vec<PathBuf>,
    /// How the values are expressed: "features" or "standardised".
    pub units: &'static str,
    pub audio: bool,
}

pub fn sample(exp: &Experiment, opts: &SampleOptions) -> Result<Written, SampleError> {
    if opts.n == 0 {
        return Err(invalid("--n must be at least 1".into()));
    }
    let ci = pipeline::find_cell(exp, opts.cell).map_err(SampleError::Invalid)?;
    let cell = &exp.cells[ci];
    let repr = &cell.repr;
    if repr.group == Group::Baseline {
        let models: Vec<String> = exp
            .representations
            .iter()
            .filter(|r| r.group == Group::Model)
            .map(|r| format!("`{}`", r.label))
            .collect();
        return Err(invalid(format!(
            "cell `{}`: `{}` is a baseline (kind `{}`) with no prior to sample from; \
             `runner sample` takes a cell of a VAE-family model{}",
            cell.id,
            repr.label,
            repr.repr.kind(),
            if models.is_empty() {
                " (this experiment has none)".to_string()
            } else {
                format!(" ({})", models.join(", "))
            }
        )));
    }
    // The key the stage graph gives this cell: the one `run` and `plan` use.
    let ws = pipeline::Workspace::open(exp)?;
    let g = ws.graph(exp, &[ci])?;
    let key = g.key(g.cells[0].represent);
    let hex = key.hex();
    let Some(dir) = ws.store.lookup(REPRESENT, &key).map(|a| a.dir) else {
        return Err(SampleError::Unavailable(anyhow!(
            "the model of cell `{}` is not trained yet (no represent artifact {} in {}): \
             run `runner run {} --cell '{}'` first",
            cell.id,
            &hex[..12],
            exp.cache_dir().display(),
            exp.file.display(),
            cell.id
        )));
    };
    let device = Device::Cpu;
    let generator = repr
        .repr
        .load_generator(&dir, &device)
        .with_context(|| format!("cannot load the checkpoint in {}", dir.display()))?
        .ok_or_else(|| {
            invalid(format!(
                "`{}` (kind `{}`) has no prior to sample from",
                repr.label,
                repr.repr.kind()
            ))
        })?;
    let condition = one_hot_condition(
        generator.condition_levels(),
        opts.condition,
        repr.repr.condition(),
        &repr.label,
        opts.n,
        &device,
    )?;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(opts.seed);
    let z = crate::models::init::normal(&mut rng, (opts.n, generator.latent_dim()), &device)
        .map_err(anyhow::Error::from)?;
    let decoded = generator.decode(&z, condition.as_ref())?;
    let decoded = crate::models::recon::to_array(&decoded)?;
    write_samples(exp, cell, &dir, &decoded, opts).map_err(SampleError::Unavailable)
}

/// The rows' one-hot condition for a conditional model, with errors that
/// list the levels.
fn one_hot_condition(
    levels: Option<&[String]>,
    value: Option<&str>,
    column: Option<&str>,
    label: &str,
    n: usize,
    device: &Device,
) -> Result<Option<Tensor>, SampleError> {
    match (levels, value) {
        (None, None) => Ok(None),
        (None, Some(v)) => Err(invalid(format!(
            "--condition {v}: `{label}` is not a conditional model (only cvae models take a condition)"
        ))),
        (Some(levels), None) => Err(invalid(format!(
            "`{label}` is conditioned on `{}`: pass --condition with one of: {}",
            column.unwrap_or("a column"),
            levels.join(", ")
        ))),
        (Some(levels), Some(v)) => {
            let Some(i) = levels.iter().position(|l| l == v) else {
                return Err(invalid(format!(
                    "--condition {v}: not a level of `{}` in `{label}`'s training data; levels: {}",
                    column.unwrap_or("the condition"),
                    levels.join(", ")
                )));
            };
            let mut one_hot = vec![0f32; n * levels.len()];
            for r in 0..n {
                one_hot[r * levels.len() + i] = 1.0;
            }
            Ok(Some(
                Tensor::from_vec(one_hot, (n, levels.len()), device)
                    .map_err(anyhow::Error::from)?,
            ))
        }
    }
}

/// The mel rows of a sequence feature set: (first row, n_mels), if it has
/// a `melspectrogram`.
fn mel_rows(spec: &crate::dsp::FeatureSetSpec) -> Option<(usize, usize)> {
    if spec.kind != FeatureKind::Sequence {
        return None;
    }
    let mut first = 0;
    for &f in &spec.features {
        if f == FeatureName::Melspectrogram {
            return Some((first, spec.n_mels));
        }
        first += spec.rows_of(f);
    }
    None
}

fn write_samples(
    exp: &Experiment,
    cell: &crate::spec::Cell,
    dir: &Path,
    decoded: &Array2<f32>,
    opts: &SampleOptions,
) -> Result<Written> {
    let spec = &cell.features.spec;
    let d = decoded.ncols();
    let shape = match &exp.dataset {
        // A precomputed matrix is one summary block (it has no lyrics).
        crate::data::DatasetSpec::Precomputed(_) => Some(FeatureShape::Summary { dim: d }),
        _ => spec.audio_shape(),
    };
    let audio_dim = shape.map_or(0, |s| s.dim());
    anyhow::ensure!(
        audio_dim <= d,
        "the checkpoint decodes {d} values, the feature set has {audio_dim} audio values"
    );
    let scaling = Scaling::read(dir)?;
    let units = match (&scaling, spec.standardize && audio_dim > 0) {
        (Some(s), _) => {
            anyhow::ensure!(
                s.dim() == audio_dim,
                "{}: the scaling covers {} values, the feature set has {audio_dim}",
                dir.display(),
                s.dim()
            );
            "features"
        }
        (None, true) => "standardised",
        (None, false) => "features",
    };
    std::fs::create_dir_all(opts.out)
        .with_context(|| format!("cannot create {}", opts.out.display()))?;
    let mut files = Vec::new();
    let mut audio_rows: Vec<Vec<f32>> = Vec::new();
    let mut wrote_audio = false;
    for (i, row) in decoded.rows().into_iter().enumerate() {
        let mut audio: Vec<f32> = row.iter().take(audio_dim).copied().collect();
        if let Some(s) = &scaling {
            s.undo(&mut audio);
        }
        let stem = opts.out.join(format!("sample_{i:02}"));
        match shape {
            Some(FeatureShape::Sequence { rows, frames }) => {
                let m = Array2::from_shape_vec((rows, frames), audio.clone())?;
                let path = stem.with_extension("npy");
                ndarray_npy::write_npy(&path, &m)?;
                files.push(path);
                let png = crate::report::heatmap::png(
                    &audio,
                    rows,
                    frames,
                    crate::report::heatmap::range(&audio),
                    ((256 / rows).max(1), (512 / frames).max(1)),
                );
                let path = stem.with_extension("png");
                std::fs::write(&path, png)?;
                files.push(path);
                if let (Some((first, n_mels)), "features") = (mel_rows(spec), units) {
                    let path = stem.with_extension("wav");
                    write_mel_audio(
                        exp,
                        spec,
                        &audio[first * frames..(first + n_mels) * frames],
                        frames,
                        &path,
                    )?;
                    files.push(path);
                    wrote_audio = true;
                }
            }
            Some(FeatureShape::Summary { .. }) => {
                let path = stem.with_extension("npy");
                ndarray_npy::write_npy(&path, &Array1::from(audio.clone()))?;
                files.push(path);
            }
            None => {}
        }
        audio_rows.push(audio);
        if d > audio_dim {
            let lyrics: Vec<f32> = row.iter().skip(audio_dim).copied().collect();
            let path = opts.out.join(format!("sample_{i:02}_lyrics.npy"));
            ndarray_npy::write_npy(&path, &Array1::from(lyrics))?;
            files.push(path);
        }
    }
    if let Some(FeatureShape::Summary { dim }) = shape {
        let path = opts.out.join("samples.svg");
        std::fs::write(&path, profiles(&audio_rows, dim, &cell.id)?)?;
        files.push(path);
    }
    let manifest = serde_json::json!({
        "experiment": exp.experiment.name,
        "cell": cell.id,
        "representation": cell.repr.label,
        "feature_set": cell.features.label,
        "n": opts.n,
        "seed": opts.seed,
        "condition": opts.condition,
        "prior": "N(0, I)",
        "units": units,
        "shape": match shape {
            Some(FeatureShape::Sequence { rows, frames }) => serde_json::json!([rows, frames]),
            Some(FeatureShape::Summary { dim }) => serde_json::json!([dim]),
            None => serde_json::Value::Null,
        },
        "audio": wrote_audio.then(|| serde_json::json!({
            "method": "librosa.feature.inverse.mel_to_audio (NNLS mel_to_stft, Griffin-Lim: 32 iterations, momentum 0.99, zero initial phase)",
            "sample_rate": exp.dataset.decode_params().sample_rate,
            "n_fft": spec.n_fft,
            "hop_length": spec.hop_length,
        })),
        "files": files.iter().map(|f| f.file_name().unwrap().to_string_lossy().to_string()).collect::<Vec<_>>(),
    });
    let path = opts.out.join("samples.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&manifest)?)?;
    files.push(path);
    Ok(Written {
        files,
        units,
        audio: wrote_audio,
    })
}

/// A mel spectrogram (feature units: dB unless `log_mel = false`) as audio
/// through Griffin-Lim, written as 32-bit float WAV (not normalised, so a
/// sample's loudness is the model's).
fn write_mel_audio(
    exp: &Experiment,
    spec: &crate::dsp::FeatureSetSpec,
    mel: &[f32],
    frames: usize,
    path: &Path,
) -> Result<()> {
    let sr = exp.dataset.decode_params().sample_rate;
    let power: Vec<f64> = mel
        .iter()
        .map(|&v| {
            if spec.log_mel {
                crate::dsp::inverse::db_to_power(v as f64)
            } else {
                (v as f64).max(0.0)
            }
        })
        .collect();
    let bank = crate::dsp::mel::MelBank::new(
        sr as f64,
        spec.n_fft,
        spec.n_mels,
        spec.fmin,
        spec.fmax.unwrap_or(sr as f64 / 2.0),
    );
    let y = crate::dsp::inverse::mel_to_audio(&power, frames, &bank, spec.n_fft, spec.hop_length);
    let mut w = hound::WavWriter::create(
        path,
        hound::WavSpec {
            channels: 1,
            sample_rate: sr,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        },
    )
    .with_context(|| format!("cannot write {}", path.display()))?;
    for v in y {
        w.write_sample(v as f32)?;
    }
    w.finalize()?;
    Ok(())
}

/// Every sample's summary vector as a profile (value per feature column).
fn profiles(rows: &[Vec<f32>], dim: usize, cell: &str) -> Result<String> {
    use plotters::prelude::*;
    let (lo, hi) = crate::report::heatmap::range(rows.iter().flatten());
    let pad = (hi - lo) * 0.05;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (800, 400)).into_drawing_area();
        let e = |e: DrawingAreaErrorKind<_>| anyhow!("drawing the profiles: {e:?}");
        root.fill(&WHITE).map_err(e)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("{cell}: {} samples from the prior", rows.len()),
                ("sans-serif", 15),
            )
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .build_cartesian_2d(0f32..(dim.max(2) - 1) as f32, (lo - pad)..(hi + pad))
            .map_err(e)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("feature column")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .label_style(("sans-serif", 10))
            .draw()
            .map_err(e)?;
        for (i, r) in rows.iter().enumerate() {
            let colour = Palette99::pick(i);
            chart
                .draw_series(LineSeries::new(
                    r.iter().enumerate().map(|(j, &v)| (j as f32, v)),
                    colour.stroke_width(2),
                ))
                .map_err(e)?
                .label(format!("sample {i:02}"))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(e)?;
        root.present().map_err(e)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn condition_errors_list_the_levels() {
        let levels = vec!["bn".to_string(), "en".to_string()];
        let dev = Device::Cpu;
        let msg = |r: Result<Option<Tensor>, SampleError>| match r {
            Err(SampleError::Invalid(e)) => e.to_string(),
            _ => panic!("expected an invalid-request error"),
        };
        let m = msg(one_hot_condition(
            Some(&levels),
            None,
            Some("language"),
            "cv",
            2,
            &dev,
        ));
        assert!(m.contains("--condition") && m.contains("bn, en"), "{m}");
        let m = msg(one_hot_condition(
            Some(&levels),
            Some("fr"),
            Some("language"),
            "cv",
            2,
            &dev,
        ));
        assert!(m.contains("fr") && m.contains("bn, en"), "{m}");
        let m = msg(one_hot_condition(None, Some("en"), None, "vae", 2, &dev));
        assert!(m.contains("not a conditional model"), "{m}");
        let t = one_hot_condition(Some(&levels), Some("en"), None, "cv", 2, &dev)
            .unwrap()
            .unwrap();
        assert_eq!(t.to_vec2::<f32>().unwrap(), vec![vec![0.0, 1.0]; 2]);
    }
}
