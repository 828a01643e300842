//! Every supported format decodes to the same tone; bad input gives a clear,
//! per-file error.

use std::path::{Path, PathBuf};

use vaerun::audio::decode_file;
use vaerun::data::DecodeParams;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/audio")
        .join(name)
}

fn at_22050() -> DecodeParams {
    DecodeParams {
        sample_rate: 22050,
        offset: 0.0,
        duration: None,
    }
}

/// The frequency of the strongest bin of a frame in the middle.
fn dominant_hz(y: &[f32]) -> f64 {
    let s = vaerun::dsp::stft::Stft::new(2048, 512);
    let frames = s.n_frames(y.len());
    let p = s.power(y);
    // Frame-major: frame t's bins are contiguous.
    let bins = s.n_bins();
    let t = frames / 2;
    let k = (0..bins)
        .max_by(|&a, &b| p[t * bins + a].total_cmp(&p[t * bins + b]))
        .unwrap();
    k as f64 * 22050.0 / 2048.0
}

#[test]
fn every_format_decodes_to_the_tone() {
    let reference = decode_file(&fixture("tone_s16.wav"), &at_22050())
        .unwrap()
        .samples;
    assert_eq!(reference.len(), 11025);
    let peak = reference.iter().fold(0f32, |m, v| m.max(v.abs()));
    // lavfi's sine has amplitude 1/8; volume=0.5 halves it.
    assert!((peak - 0.0625).abs() < 0.002, "peak {peak}");
    // (file, max |diff| from the 16-bit reference sample by sample, or None for lossy codecs)
    let cases: &[(&str, Option<f32>)] = &[
        ("tone_u8.wav", Some(1.0 / 128.0)),
        ("tone_s24.wav", Some(1.0 / 32768.0)),
        ("tone_s32.wav", Some(1.0 / 32768.0)),
        ("tone_f32.wav", Some(1.0 / 32768.0)),
        ("tone_stereo.wav", Some(0.0)),
        // Encoded separately from the float source: one 16-bit step of rounding.
        ("tone.flac", Some(1.0 / 32768.0)),
        ("tone.au", Some(1.0 / 32768.0)),
        ("tone_44100.wav", None),
        ("tone.mp3", None),
        ("tone.ogg", None),
        ("tone.m4a", None),
    ];
    for &(name, tol) in cases {
        let d =
            decode_file(&fixture(name), &at_22050()).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        assert_eq!(d.sample_rate, 22050, "{name}");
        assert!(d.samples.iter().all(|v| v.is_finite()), "{name}");
        match tol {
            Some(tol) => {
                assert_eq!(d.samples.len(), reference.len(), "{name}");
                let worst = d
                    .samples
                    .iter()
                    .zip(&reference)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0f32, f32::max);
                assert!(worst <= tol + 1e-7, "{name}: max |diff| {worst} > {tol}");
            }
            None => {
                // Lossy codecs add encoder delay and padding; resampling trims to the rate.
                let len = d.samples.len() as f64;
                assert!(
                    (len - 11025.0).abs() < 0.15 * 11025.0,
                    "{name}: {len} samples"
                );
                let hz = dominant_hz(&d.samples);
                assert!((hz - 440.0).abs() < 11.0, "{name}: dominant {hz} Hz");
            }
        }
    }
    assert_eq!(
        decode_file(&fixture("tone_stereo.wav"), &at_22050())
            .unwrap()
            .channels,
        2
    );
}

#[test]
fn offset_and_duration_cut_the_clip() {
    let p = DecodeParams {
        sample_rate: 22050,
        offset: 0.1,
        duration: Some(0.2),
    };
    let d = decode_file(&fixture("tone_s16.wav"), &p).unwrap();
    assert_eq!(d.samples.len(), 4410);
    let full = decode_file(&fixture("tone_s16.wav"), &at_22050())
        .unwrap()
        .samples;
    assert_eq!(d.samples[..], full[2205..2205 + 4410]);
    let past = DecodeParams {
        sample_rate: 22050,
        offset: 3.0,
        duration: None,
    };
    let e = decode_file(&fixture("tone_s16.wav"), &past)
        .unwrap_err()
        .to_string();
    assert!(e.contains("past the end"), "{e}");
}

#[test]
fn bad_input_gives_a_clear_reason() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let err = |p: &Path| decode_file(p, &at_22050()).unwrap_err().to_string();

    assert!(
        err(&write("empty.wav", b"")).contains("corrupt"),
        "{}",
        err(&dir.path().join("empty.wav"))
    );
    let garbage: Vec<u8> = (0..4000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    assert!(err(&write("garbage.wav", &garbage)).contains("corrupt"));
    let e = err(&fixture("tone_opus.ogg"));
    assert!(e.contains("unsupported"), "{e}");

    // A float WAV holding NaN.
    let mut wav = std::fs::read(fixture("tone_f32.wav")).unwrap();
    let n = wav.len();
    wav[n - 4..].copy_from_slice(&f32::NAN.to_le_bytes());
    let e = err(&write("nan.wav", &wav));
    assert!(e.contains("not a finite number"), "{e}");

    // A truncated file keeps what decoded, as soundfile does for a short data chunk.
    let full = std::fs::read(fixture("tone_s16.wav")).unwrap();
    let cut = write("truncated.wav", &full[..full.len() / 2]);
    let d = decode_file(&cut, &at_22050()).unwrap();
    assert!(
        d.samples.len() > 5000 && d.samples.len() < 6000,
        "{}",
        d.samples.len()
    );
    // A header with no samples at all is an error.
    let e = err(&write("header_only.wav", &full[..44]));
    assert!(
        e.contains("no audio samples") || e.contains("corrupt"),
        "{e}"
    );
}

#[test]
fn silent_and_very_short_clips_are_handled_like_librosa() {
    let spec = vaerun::dsp::FeatureSetSpec::parse(
        &"features = [\"mfcc\", \"chroma_stft\", \"spectral_centroid\", \"spectral_contrast\", \"zero_crossing_rate\", \"rms\"]"
            .parse()
            .unwrap(),
        &[],
    )
    .unwrap();
    let ex = vaerun::dsp::Extractor::new(&spec, 22050);
    // Silence: power_to_db floors at -100 dB, chroma and centroid are 0, no NaN.
    let v = ex.vector(&vec![0f32; 22050]).unwrap();
    assert!(v.iter().all(|x| x.is_finite()), "{v:?}");
    // Shorter than n_fft: centred zero padding gives one frame.
    let short: Vec<f32> = (0..300).map(|i| (i as f32 * 0.1).sin()).collect();
    let m = ex.matrix(&short).unwrap();
    assert_eq!(m.frames, 1);
    assert!(m.data.iter().all(|x| x.is_finite()));
}
