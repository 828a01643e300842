//! ConvVAE training speed, vaerun beside PyTorch, at 1 and 2 threads:
//!
//! - 2-D: 1000 mel-spectrogram-like inputs of 64 × 256, one channel,
//!   channels [32, 64], kernel 5, batch 32;
//! - 1-D: 1000 MFCC-sequence-like inputs of 40 × 300 (experiments/
//!   medium.toml's `mfcc_seq`), the 40 rows as channels, channels [32, 64],
//!   kernel 5, batch 32.
//!
//! See `training.rs` for what is timed.
//!
//!     VAERUN_PYTHON=/path/to/python-with-torch cargo bench --bench conv_vae
//!     VAERUN_BENCH_CONV=1d VAERUN_BENCH_THREADS=2 cargo bench --bench conv_vae

#[path = "training.rs"]
mod training;

use rand::{Rng, SeedableRng};
use training::{env_usize, Case};

fn case(conv: &'static str, rows: usize, frames: usize, epochs: usize, reps: usize) -> Case {
    Case {
        name: conv,
        title: format!(
            "conv_vae {} [32, 64] k5 on {rows} x {frames} inputs",
            if conv == "2d" { "2-D" } else { "1-D" }
        ),
        model: format!(
            "kind = \"conv_vae\"\nconv = \"{conv}\"\nchannels = [32, 64]\nkernel_size = 5\nlatent_dim = 16\nbatch_size = 32\nepochs = {epochs}\nlr = 1e-3"
        ),
        sequence: Some((rows, frames)),
        script: "torch_conv_vae.py",
        script_args: [
            "--conv", conv, "--rows", &rows.to_string(), "--frames", &frames.to_string(),
            "--channels", "32,64", "--kernel", "5",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        epochs,
        rows: 1000,
        batch: 32,
        per_step: false,
        reps,
    }
}

fn main() {
    let which = std::env::var("VAERUN_BENCH_CONV").unwrap_or_else(|_| "2d,1d".into());
    let cases: Vec<Case> = [
        case("2d", 64, 256, 2, env_usize("VAERUN_BENCH_REPS", 1)),
        case("1d", 40, 300, 5, env_usize("VAERUN_BENCH_REPS", 3)),
    ]
    .into_iter()
    .filter(|c| which.split(',').any(|w| w.trim() == c.name))
    .collect();
    if training::child(&cases) {
        return;
    }
    training::compare(&cases, |c| {
        let (rows, frames) = c.sequence.unwrap();
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(0);
        // Standardised-feature-like values: smooth over rows and time plus noise.
        ndarray::Array2::from_shape_fn((c.rows, rows * frames), |(i, j)| {
            let (r, t) = (j / frames, j % frames);
            ((r as f32 * 0.1 + i as f32 * 0.01).sin() + (t as f32 * 0.05).cos()) * 0.7
                + rng.gen_range(-0.3f32..0.3)
        })
    });
}
