//! Audio front-end throughput: decode + resample 44.1 → 22.05 kHz + MFCC
//! (librosa defaults, 20 coefficients, mean/std summary) on five minutes of
//! 16-bit mono WAV, as one 5-minute file and as 10 × 30 s files, in seconds
//! of audio per second. Reference (librosa 0.11, one warm process,
//! `oracle.py perf`, this 2-core machine): 576x real time for the 5-minute
//! file, 553x for the 10 clips.
//!
//!     cargo bench --bench audio

use std::path::Path;
use std::time::Instant;

#[path = "common.rs"]
mod common;
use common::{peak_rss_mb, reset_peak_rss, rss_mb};

use rayon::prelude::*;
use vaerun::data::synthetic::{generate_clip, write_wav16, SyntheticSpec};
use vaerun::data::DecodeParams;
use vaerun::dsp::{Extractor, FeatureSetSpec};

fn music(seconds: f64, class: usize, seed: u64) -> Vec<f32> {
    let spec = SyntheticSpec {
        kind: "synthetic".into(),
        classes: 10,
        clips_per_class: 1,
        duration: seconds,
        sample_rate: 44100,
        seed,
        overlap: 0.0,
        lyrics: false,
        lyrics_coverage: 0.0,
    };
    generate_clip(&spec, class, 0).samples
}

fn process(path: &Path, extractor: &Extractor) -> Vec<f32> {
    let p = DecodeParams {
        sample_rate: 22050,
        offset: 0.0,
        duration: None,
    };
    let d = vaerun::audio::decode_file(path, &p).unwrap();
    extractor.vector(&d.samples).unwrap()
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let long = dir.path().join("five_minutes.wav");
    write_wav16(&long, &music(300.0, 1, 1), 44100).unwrap();
    let clips: Vec<_> = (0..10)
        .map(|i| {
            let p = dir.path().join(format!("clip{i}.wav"));
            write_wav16(&p, &music(30.0, i, 2), 44100).unwrap();
            p
        })
        .collect();
    let spec = FeatureSetSpec::parse(&toml::Table::new(), &[]).unwrap();
    let extractor = Extractor::new(&spec, 22050);
    // The synthetic audio is generated (and freed) above; measure the peak
    // of the processing alone.
    let reset = reset_peak_rss();
    let before = rss_mb();
    let reps: usize = std::env::var("VAERUN_BENCH_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let mut best_long = f64::INFINITY;
    let mut best_clips = f64::INFINITY;
    for _ in 0..reps {
        let t = Instant::now();
        std::hint::black_box(process(&long, &extractor));
        best_long = best_long.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let v: Vec<Vec<f32>> = clips.par_iter().map(|p| process(p, &extractor)).collect();
        std::hint::black_box(v);
        best_clips = best_clips.min(t.elapsed().as_secs_f64());
    }
    if std::env::var("VAERUN_BENCH_BREAKDOWN").is_ok() {
        // Where the single-file time goes: decode alone, + resample, + features.
        let no_resample = DecodeParams {
            sample_rate: 44100,
            offset: 0.0,
            duration: None,
        };
        let with = DecodeParams {
            sample_rate: 22050,
            ..no_resample.clone()
        };
        let best = |f: &dyn Fn()| {
            (0..5)
                .map(|_| {
                    let t = Instant::now();
                    f();
                    t.elapsed().as_secs_f64()
                })
                .fold(f64::INFINITY, f64::min)
        };
        let d = best(&|| {
            std::hint::black_box(vaerun::audio::decode_file(&long, &no_resample).unwrap());
        });
        let r = best(&|| {
            std::hint::black_box(vaerun::audio::decode_file(&long, &with).unwrap());
        });
        let y = vaerun::audio::decode_file(&long, &with).unwrap().samples;
        let f = best(&|| {
            std::hint::black_box(extractor.vector(&y).unwrap());
        });
        println!(
            "breakdown, 5-min file: decode {:.1} ms, resample {:.1} ms, features {:.1} ms",
            d * 1e3,
            (r - d) * 1e3,
            f * 1e3
        );
    }
    let threads = rayon::current_num_threads();
    println!(
        "one 5-min WAV:  {:.3} s -> {:.0}x real time ({:.1}x librosa's 576x)",
        best_long,
        300.0 / best_long,
        300.0 / best_long / 576.0
    );
    println!(
        "10 x 30 s WAVs: {:.3} s -> {:.0}x real time ({:.1}x librosa's 553x)  [{threads} threads]",
        best_clips,
        300.0 / best_clips,
        300.0 / best_clips / 553.0
    );
    println!(
        "peak RSS while processing {:.0} MB{} (resident before: {before:.0} MB; \
         the 5-minute clip alone is 53 MB as 44.1 kHz f32)",
        peak_rss_mb(),
        if reset {
            ""
        } else {
            " (high-water mark not resettable here: includes generation)"
        }
    );
}
