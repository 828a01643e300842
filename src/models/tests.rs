//! Behaviour every model must show on small seeded data: the loss falls,
//! reconstructions beat predicting the mean, the same seed gives the same
//! latents, and a diverging run fails with the epoch named.

use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::*;
use crate::spec::Group;

/// The largest absolute difference between two tensors of one shape: how
/// the CPU kernels' tests compare them with candle's own ops.
pub(super) fn max_diff(a: &candle_core::Tensor, b: &candle_core::Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

/// 240 rows of 12 features: three clusters on a 3-D linear manifold plus
/// a little noise, standardised-looking scale.
fn data() -> (Array2<f32>, Vec<usize>) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
    let mix: Vec<f32> = (0..36).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let centres = [[2.0f32, 0.0, -1.0], [-2.0, 1.0, 0.5], [0.0, -2.0, 1.5]];
    let mut x = Array2::zeros((240, 12));
    let mut labels = Vec::new();
    for (r, mut row) in x.rows_mut().into_iter().enumerate() {
        let c = r % 3;
        labels.push(c);
        let z: Vec<f32> = (0..3)
            .map(|k| centres[c][k] + rng.gen_range(-0.5..0.5))
            .collect();
        for j in 0..12 {
            row[j] =
                (0..3).map(|k| z[k] * mix[k * 12 + j]).sum::<f32>() + rng.gen_range(-0.05..0.05);
        }
    }
    (x, labels)
}

fn model(toml_src: &str) -> Box<dyn Representer> {
    let t: toml::Table = toml_src.parse().unwrap();
    let group = if t["kind"].as_str() == Some("autoencoder") {
        Group::Baseline
    } else {
        Group::Model
    };
    parse(group, &t, &["models".into(), "m".into()]).unwrap_or_else(|e| panic!("{e:?}"))
}

fn fit(
    m: &dyn Representer,
    x: &Array2<f32>,
    layout: &Layout,
    cond: Option<&Condition>,
    seed: u64,
) -> anyhow::Result<Fitted> {
    let dir = tempfile::tempdir().unwrap();
    let out = m.fit(
        &FitInput {
            x,
            layout,
            condition: cond,
            seed,
            device: &candle_core::Device::Cpu,
            observer: None,
        },
        dir.path(),
    )?;
    // Every model leaves a loadable checkpoint with its resolved config.
    let names = candle_core::safetensors::load(
        dir.path().join("model.safetensors"),
        &candle_core::Device::Cpu,
    )?;
    assert!(!names.is_empty());
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("config.json"))?)?;
    assert_eq!(config["kind"], m.kind());
    Ok(out)
}

fn assert_learns(f: &Fitted, rows: usize, latent: usize, what: &str) {
    assert_eq!(f.latent.dim(), (rows, latent), "{what}");
    assert!(f.latent.iter().all(|v| v.is_finite()), "{what}");
    let first = f.history.first().unwrap().reconstruction;
    let last = f.history.last().unwrap().reconstruction;
    assert!(
        last < 0.6 * first,
        "{what}: reconstruction {first} -> {last}"
    );
}

const TRAIN: &str = "hidden = [32, 16]\nlatent_dim = 3\nepochs = 40\nbatch_size = 32\nlr = 0.005";

#[test]
fn dense_family_learns() {
    let (x, labels) = data();
    let layout = Layout::summary(12);
    let cond = Condition::from_values(
        "group",
        &labels
            .iter()
            .map(|l| format!("g{}", l % 2))
            .collect::<Vec<_>>(),
    );
    for (src, c) in [
        ("kind = \"vae\"", None),
        ("kind = \"vae\"\nkl_warmup = 10\nnorm = \"batch\"", None),
        (
            "kind = \"vae\"\nnorm = \"layer\"\ndropout = 0.1\nactivation = \"gelu\"",
            None,
        ),
        ("kind = \"beta_vae\"\nbeta = 2.0", None),
        (
            "kind = \"beta_vae\"\ncapacity_max = 5.0\ngamma = 20.0",
            None,
        ),
        ("kind = \"cvae\"\ncondition = \"group\"", Some(&cond)),
        ("kind = \"autoencoder\"", None),
    ] {
        let m = model(&format!("{src}\n{TRAIN}"));
        let f = fit(m.as_ref(), &x, &layout, c, 0).unwrap();
        assert_learns(&f, 240, 3, src);
        if src.contains("autoencoder") {
            assert!(f.history.iter().all(|h| h.kl == 0.0));
        } else {
            assert!(f.history.last().unwrap().kl > 0.0, "{src}");
        }
    }
}

/// Decoding μ reconstructs the data far better than predicting the mean
/// of each feature (whose error is the total variance).
#[test]
fn reconstructions_beat_the_mean() {
    let (x, _) = data();
    let t: toml::Table = format!("kind = \"vae\"\n{TRAIN}")
        .replace("epochs = 40", "epochs = 60")
        .parse()
        .unwrap();
    let (training, rest) = train::TrainingParams::take(&t, &[]).unwrap();
    let m = vae::DenseVae {
        variant: vae::Variant::Vae,
        p: crate::spec::typed_table(&rest, &[]).unwrap(),
        training,
    };
    let layout = Layout::summary(12);
    let input = FitInput {
        x: &x,
        layout: &layout,
        condition: None,
        seed: 3,
        device: &candle_core::Device::Cpu,
        observer: None,
    };
    let (trained, _, _) = m.train(&input).unwrap();
    let rows = candle_core::Tensor::arange(0u32, 240, &candle_core::Device::Cpu).unwrap();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
    let recon = trained
        .reconstruct(
            &rows,
            &mut layers::Mode {
                train: false,
                rng: &mut rng,
            },
        )
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    let mean = x.mean_axis(ndarray::Axis(0)).unwrap();
    let (mut err, mut var) = (0f64, 0f64);
    for (r, row) in x.rows().into_iter().enumerate() {
        for j in 0..12 {
            err += ((recon[r][j] - row[j]) as f64).powi(2);
            var += ((mean[j] - row[j]) as f64).powi(2);
        }
    }
    assert!(
        err < 0.2 * var,
        "reconstruction error {err} vs variance {var}"
    );
}

#[test]
fn same_seed_same_latents_on_cpu() {
    let (x, _) = data();
    let layout = Layout::summary(12);
    let m = model(
        &format!("kind = \"vae\"\ndropout = 0.2\n{TRAIN}").replace("epochs = 40", "epochs = 5"),
    );
    let a = fit(m.as_ref(), &x, &layout, None, 9).unwrap();
    let b = fit(m.as_ref(), &x, &layout, None, 9).unwrap();
    let c = fit(m.as_ref(), &x, &layout, None, 10).unwrap();
    assert_eq!(a.latent, b.latent, "bit-identical for the same seed");
    assert_eq!(a.history, b.history);
    assert_ne!(a.latent, c.latent);
}

/// The same seed gives the same bits whatever the number of threads: the
/// CPU kernels split work between threads, never a sum.
#[test]
fn same_latents_at_any_thread_count() {
    let (x, _) = data();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(4);
    let (rows, frames) = (6, 19);
    let seq = Array2::from_shape_fn((40, rows * frames), |_| rng.gen_range(-1.0f32..1.0));
    let seq_layout = Layout::audio(crate::dsp::FeatureShape::Sequence { rows, frames });
    let cases = [
        (
            "kind = \"vae\"\nhidden = [64, 32]\nepochs = 3".to_string(),
            &x,
            Layout::summary(12),
        ),
        (
            "kind = \"conv_vae\"\nconv = \"1d\"\nchannels = [8, 16]\nkernel_size = 3\nlatent_dim = 4\nepochs = 2\nbatch_size = 16".into(),
            &seq,
            seq_layout.clone(),
        ),
        (
            "kind = \"conv_vae\"\nconv = \"2d\"\nchannels = [8, 16]\nkernel_size = 5\nlatent_dim = 4\nepochs = 2\nbatch_size = 16".into(),
            &seq,
            seq_layout.clone(),
        ),
    ];
    for (src, x, layout) in &cases {
        let m = model(src);
        let run = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| fit(m.as_ref(), x, layout, None, 5).unwrap())
        };
        let one = run(1);
        for threads in [2, 3] {
            let other = run(threads);
            assert_eq!(one.latent, other.latent, "{src}: {threads} threads");
            assert_eq!(one.history, other.history, "{src}: {threads} threads");
        }
    }
}

#[test]
fn divergence_names_the_epoch() {
    let (x, _) = data();
    let m = model("kind = \"vae\"\nlr = 1e12\nepochs = 5");
    let e = fit(m.as_ref(), &x, &Layout::summary(12), None, 0)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("training diverged") && e.contains("at epoch"),
        "{e}"
    );
}

#[test]
fn early_stopping_watches_the_validation_loss() {
    // 30 rows of pure noise and a wide network: the validation loss stops
    // improving long before 400 epochs.
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let x = Array2::from_shape_fn((30, 12), |_| rng.gen_range(-1.0f32..1.0));
    let m = model("kind = \"autoencoder\"\nhidden = [128]\nlatent_dim = 8\nepochs = 400\nlr = 0.01\nvalidation_split = 0.3\nearly_stopping = 5");
    let f = fit(m.as_ref(), &x, &Layout::summary(12), None, 0).unwrap();
    assert!(f.history.len() < 400, "ran all {} epochs", f.history.len());
    assert!(f.history.iter().all(|h| h.validation.is_some()));
    let best = f
        .history
        .iter()
        .map(|h| h.validation.unwrap())
        .fold(f64::INFINITY, f64::min);
    let last = f.history.last().unwrap().validation.unwrap();
    assert!(
        last > best,
        "stopped after {} epochs without a worse validation loss",
        f.history.len()
    );
}

#[test]
fn bce_needs_unit_interval_inputs() {
    let (x, _) = data();
    let m = model("kind = \"vae\"\nrecon_loss = \"bce\"\nepochs = 2");
    let e = fit(m.as_ref(), &x, &Layout::summary(12), None, 0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("[0, 1]"), "{e}");
    let unit = x.mapv(|v| 1.0 / (1.0 + (-v).exp()));
    let m = model(&format!("kind = \"vae\"\nrecon_loss = \"bce\"\n{TRAIN}"));
    let f = fit(m.as_ref(), &unit, &Layout::summary(12), None, 0).unwrap();
    let (first, last) = (
        f.history[0].reconstruction,
        f.history.last().unwrap().reconstruction,
    );
    assert!(last < first, "{first} -> {last}");
}

#[test]
fn conv_vae_learns_sequences() {
    // 60 tracks of 4 rows × 21 frames: sinusoids whose frequency depends on the class.
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
    let (rows, frames) = (4, 21);
    let x = Array2::from_shape_fn((60, rows * frames), |(r, j)| {
        let (row, t) = (j / frames, j % frames);
        let f = 0.2 + 0.3 * (r % 3) as f32;
        (f * t as f32 + row as f32).sin() + rng.gen_range(-0.05..0.05)
    });
    let layout = Layout::audio(crate::dsp::FeatureShape::Sequence { rows, frames });
    for conv in ["1d", "2d"] {
        let m = model(&format!(
            "kind = \"conv_vae\"\nconv = \"{conv}\"\nchannels = [8, 16]\nkernel_size = 3\nlatent_dim = 4\nepochs = 40\nbatch_size = 16\nlr = 0.003"
        ));
        let f = fit(m.as_ref(), &x, &layout, None, 0).unwrap();
        assert_learns(&f, 60, 4, conv);
    }
}

#[test]
fn hybrid_vae_fuses_and_masks_lyrics() {
    let (audio, labels) = data();
    // A bag-of-words-like lyrics block in [0, 1] that also carries the
    // class; every fourth track has no lyrics (a zero row, masked).
    let present: Vec<bool> = (0..240).map(|r| r % 4 != 3).collect();
    let mut x = Array2::zeros((240, 18));
    x.slice_mut(ndarray::s![.., ..12]).assign(&audio);
    for r in 0..240 {
        if present[r] {
            x[[r, 12 + labels[r] * 2]] = 0.8;
            x[[r, 13 + labels[r] * 2]] = 0.6;
        }
    }
    let layout = Layout {
        audio: Some(crate::dsp::FeatureShape::Summary { dim: 12 }),
        text: Some(TextBlock {
            dim: 6,
            present: present.clone(),
        }),
    };
    let m = model("kind = \"hybrid_vae\"\naudio_hidden = [32]\nlyrics_hidden = [16]\nlatent_dim = 3\nlyrics_loss = \"bce\"\nepochs = 40\nlr = 0.005");
    let f = fit(m.as_ref(), &x, &layout, None, 0).unwrap();
    assert_learns(&f, 240, 3, "hybrid_vae");
    // Masking: changing a lyrics-less row's (ignored) lyrics columns changes nothing.
    let mut y = x.clone();
    y[[3, 12]] = 1.0;
    let g = fit(m.as_ref(), &y, &layout, None, 0).unwrap();
    assert_eq!(f.latent, g.latent);
}

#[test]
fn misplaced_keys_are_named() {
    let t: toml::Table = "kind = \"vae\"\nbeta = 4.0".parse().unwrap();
    let e = parse(Group::Model, &t, &["models".into(), "v".into()])
        .err()
        .unwrap();
    assert!(e.message.contains("beta_vae"), "{}", e.message);
    let t: toml::Table = "kind = \"cvae\"".parse().unwrap();
    let e = parse(Group::Model, &t, &["models".into(), "c".into()])
        .err()
        .unwrap();
    assert!(e.message.contains("condition"), "{}", e.message);
    let t: toml::Table = "kind = \"vae\"\nearly_stopping = 3".parse().unwrap();
    let e = parse(Group::Model, &t, &["models".into(), "v".into()])
        .err()
        .unwrap();
    assert!(e.message.contains("validation_split"), "{}", e.message);
    let t: toml::Table = "kind = \"conv_vae\"\nkernel_size = 4".parse().unwrap();
    assert!(parse(Group::Model, &t, &[])
        .err()
        .unwrap()
        .message
        .contains("odd"));
}
