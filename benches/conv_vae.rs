//! ConvVAE training time per epoch on 1000 mel-spectrogram inputs of
//! 64 × 256 (2-D convolutions, channels [32, 64], kernel 5, batch 32).
//!
//!     cargo bench --bench conv_vae            # all cores
//!     RAYON_NUM_THREADS=1 cargo bench --bench conv_vae

use std::time::Instant;

use rand::{Rng, SeedableRng};
use vaerun::dsp::FeatureShape;
use vaerun::models::{FitInput, Layout};

fn main() {
    let (rows, frames, n) = (64, 256, 1000);
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(0);
    // Standardised-mel-like values: smooth in frequency and time plus noise.
    let x = ndarray::Array2::from_shape_fn((n, rows * frames), |(i, j)| {
        let (r, t) = (j / frames, j % frames);
        ((r as f32 * 0.1 + i as f32 * 0.01).sin() + (t as f32 * 0.05).cos()) * 0.7
            + rng.gen_range(-0.3f32..0.3)
    });
    let epochs = 2;
    let t: toml::Table = format!(
        "kind = \"conv_vae\"\nconv = \"2d\"\nchannels = [32, 64]\nkernel_size = 5\nlatent_dim = 16\nbatch_size = 32\nepochs = {epochs}\nlr = 1e-3"
    )
    .parse()
    .unwrap();
    let model = vaerun::models::parse(vaerun::spec::Group::Model, &t, &[]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::audio(FeatureShape::Sequence { rows, frames });
    let t0 = Instant::now();
    let fitted = model
        .fit(
            &FitInput {
                x: &x,
                layout: &layout,
                condition: None,
                seed: 0,
                device: &candle_core::Device::Cpu,
                observer: None,
            },
            dir.path(),
        )
        .unwrap();
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "conv_vae 2-D [32, 64] k5 on {n} x {rows} x {frames}, batch 32: {:.1} s per epoch ({epochs} epochs + encoding in {secs:.1} s, {} threads); loss {:.1} -> {:.1}",
        secs / epochs as f64,
        rayon::current_num_threads(),
        fitted.history[0].total,
        fitted.history.last().unwrap().total
    );
}
