//! Audio front-end throughput: decode + resample 44.1 → 22.05 kHz + MFCC
//! (librosa defaults, 20 coefficients, mean/std summary) on five minutes of
//! 16-bit mono WAV, as one 5-minute file and as 10 × 30 s files, in seconds
//! of audio per second; vaerun on one thread and on all of them. With
//! VAERUN_PYTHON, librosa processes the same files in the same command
//! (benches/reference/librosa_audio.py: one warm process, one thread) and
//! the ratios are printed.
//!
//!     VAERUN_PYTHON=.venv-reference/bin/python cargo bench --bench audio

use std::path::Path;
use std::time::Instant;

#[path = "common.rs"]
mod common;
use common::{peak_rss_mb, reference, reset_peak_rss, rss_mb, NO_REFERENCE};

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
    // Best of `reps` passes over the long file and over the clips, in the
    // given pool (its thread count).
    let measure = |pool: &rayon::ThreadPool| {
        pool.install(|| {
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
            (best_long, best_clips)
        })
    };
    let all = rayon::current_num_threads();
    let one_pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let all_pool = rayon::ThreadPoolBuilder::new()
        .num_threads(all)
        .build()
        .unwrap();
    let one = measure(&one_pool);
    let (best_long, best_clips) = measure(&all_pool);
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
    let mut args = vec![reps.to_string(), long.display().to_string()];
    args.extend(clips.iter().map(|p| p.display().to_string()));
    let librosa = reference("librosa_audio.py", &args);
    println!(
        "audio front end, 5 minutes of 44.1 kHz 16-bit mono WAV: decode + resample to 22.05 kHz + \
         MFCC-20 mean/std; best of {reps} passes"
    );
    println!(
        "{:<16} {:>22} {:>22} {:>22}",
        "case",
        "vaerun 1 thread",
        format!("vaerun {all} threads"),
        "librosa 1 thread"
    );
    let cell = |s: f64| format!("{s:.3} s ({:.0}x RT)", 300.0 / s);
    for (name, v1, vn, key) in [
        ("one 5-min WAV", one.0, best_long, "long_s"),
        ("10 x 30 s WAVs", one.1, best_clips, "clips_s"),
    ] {
        let r = librosa.as_ref().and_then(|j| j[key].as_f64());
        println!(
            "{name:<16} {:>22} {:>22} {:>22}{}",
            cell(v1),
            cell(vn),
            r.map(cell).unwrap_or_else(|| "-".into()),
            r.map(|r| format!(
                "   vaerun/librosa speed: {:.1}x (1 thread), {:.1}x ({all} threads)",
                r / v1,
                r / vn
            ))
            .unwrap_or_default()
        );
    }
    match &librosa {
        Some(j) => println!(
            "reference: librosa {} numpy {} BLAS {}",
            j["librosa"].as_str().unwrap_or("?"),
            j["numpy"].as_str().unwrap_or("?"),
            j["blas"]
        ),
        None => println!("{NO_REFERENCE}"),
    }
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
