//! Dense VAE training speed at GTZAN scale, vaerun beside PyTorch: 1000 rows
//! of 40 features, 40 → 512 → 256 → 16, batch 32, 50 epochs (1600 AdamW
//! steps), CPU, at 1 and 2 threads. See `training.rs` for what is timed.
//!
//!     VAERUN_PYTHON=/path/to/python-with-torch cargo bench --bench vae
//!     VAERUN_BENCH_THREADS=1 VAERUN_BENCH_REPS=5 cargo bench --bench vae

#[path = "training.rs"]
mod training;

use rand::{Rng, SeedableRng};
use training::{env_usize, Case};

fn main() {
    let epochs = 50;
    let cases = [Case {
        name: "dense",
        title: "dense VAE 40-512-256-16".into(),
        model: format!(
            "kind = \"vae\"\nhidden = [512, 256]\nlatent_dim = 16\nbatch_size = 32\nepochs = {epochs}\nlr = 1e-3"
        ),
        sequence: None,
        script: "torch_vae.py",
        script_args: vec!["--hidden".into(), "512,256".into()],
        epochs,
        rows: 1000,
        batch: 32,
        per_step: true,
        reps: env_usize("VAERUN_BENCH_REPS", 3),
    }];
    if training::child(&cases) {
        return;
    }
    training::compare(&cases, |c| {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(0);
        ndarray::Array2::from_shape_fn((c.rows, 40), |_| rng.gen_range(-2.0f32..2.0))
    });
}
