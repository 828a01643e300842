//! Dense VAE training speed at GTZAN scale: 1000 rows of 40 features,
//! 40 → 512 → 256 → 16, batch 32, 50 epochs (1600 AdamW steps), CPU.
//! Reference on this machine (PyTorch 2.15, one thread, `oracle.py perf`):
//! 7.0 ms per step, 11.2 s in all.
//!
//!     RAYON_NUM_THREADS=1 cargo bench --bench vae

use std::time::Instant;

use rand::{Rng, SeedableRng};
use vaerun::models::{FitInput, Layout};

fn main() {
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(0);
    let x = ndarray::Array2::from_shape_fn((1000, 40), |_| rng.gen_range(-2.0f32..2.0));
    let t: toml::Table =
        "kind = \"vae\"\nhidden = [512, 256]\nlatent_dim = 16\nbatch_size = 32\nepochs = 50\nlr = 1e-3".parse().unwrap();
    let vae = vaerun::models::parse(vaerun::spec::Group::Model, &t, &[]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let device = candle_core::Device::Cpu;
    let t0 = Instant::now();
    let fitted = vae
        .fit(
            &FitInput {
                x: &x,
                layout: &Layout::summary(40),
                condition: None,
                seed: 0,
                device: &device,
                observer: None,
            },
            dir.path(),
        )
        .unwrap();
    let secs = t0.elapsed().as_secs_f64();
    let steps = 50 * 1000usize.div_ceil(32);
    println!(
        "vae 40-512-256-16, 1000 rows, batch 32, 50 epochs: {secs:.2} s, {:.2} ms/step ({} threads); PyTorch 1 thread: 7.0 ms/step -> ratio {:.2}",
        secs * 1e3 / steps as f64,
        rayon::current_num_threads(),
        (secs * 1e3 / steps as f64) / 7.0
    );
    println!("final loss {:.3}", fitted.history.last().unwrap().total);
}
