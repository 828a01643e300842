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

    // A file shorter than its header says is truncated (issue 14: not a
    // shorter clip, as soundfile would read it), cut anywhere, in any format.
    let full = std::fs::read(fixture("tone_s16.wav")).unwrap();
    // The data chunk's size field (ffmpeg writes a LIST chunk before it).
    let size_at = full.windows(4).position(|w| w == b"data").unwrap() + 4;
    for (name, cut) in [
        ("half.wav", full.len() / 2),
        ("mid_sample.wav", full.len() - 1),
        ("header_only.wav", size_at + 4),
    ] {
        let e = err(&write(name, &full[..cut]));
        assert!(
            e.contains("truncated file: the header declares 22050 bytes of audio (0.50 s)"),
            "{name}: {e}"
        );
    }
    for (fixture_name, ext) in [
        ("tone_u8.wav", "wav"),
        ("tone.flac", "flac"),
        ("tone.au", "au"),
    ] {
        let bytes = std::fs::read(fixture(fixture_name)).unwrap();
        let e = err(&write(&format!("cut.{ext}"), &bytes[..bytes.len() * 3 / 5]));
        assert!(e.contains("truncated file"), "{fixture_name}: {e}");
    }
    // A data chunk that ends inside a sample frame, with a header that agrees.
    let mut ragged = full[..full.len() - 1].to_vec();
    let size = u32::from_le_bytes(ragged[size_at..size_at + 4].try_into().unwrap()) - 1;
    ragged[size_at..size_at + 4].copy_from_slice(&size.to_le_bytes());
    let e = err(&write("ragged.wav", &ragged));
    assert!(
        e.contains("ends with a partial sample frame (1 of 2 bytes)"),
        "{e}"
    );
    // A streamed WAV (data size 0xFFFFFFFF: unknown) runs to the end of the file.
    let mut streamed = full.clone();
    streamed[size_at..size_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let d = decode_file(&write("streamed.wav", &streamed), &at_22050()).unwrap();
    assert_eq!(d.samples.len(), 11025);
}

/// A WAV of `seconds` at 8 kHz, mono, whose sample i is a known function
/// of i; written with hound in the format given.
fn long_wav(path: &Path, seconds: usize, spec: hound::WavSpec, sample: impl Fn(usize) -> f32) {
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..seconds * 8000 {
        let v = sample(i);
        match (spec.sample_format, spec.bits_per_sample) {
            (hound::SampleFormat::Float, _) => w.write_sample(v).unwrap(),
            (_, 8) => w.write_sample((v * 127.0) as i8).unwrap(),
            _ => w.write_sample((v * 32767.0) as i16).unwrap(),
        }
    }
    w.finalize().unwrap();
}

fn spec(bits: u16, format: hound::SampleFormat) -> hound::WavSpec {
    hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: bits,
        sample_format: format,
    }
}

/// Ten minutes, of which one second is asked for: only that second (and at
/// most a packet around it) is decoded, and the file around it is never
/// read: there it holds NaN, which any sample that was read would reveal.
#[test]
fn a_duration_decodes_only_its_window() {
    let dir = tempfile::tempdir().unwrap();
    let window = 300 * 8000..301 * 8000;
    let tone = |i: usize| ((i % 80) as f32 / 80.0 - 0.5) * 0.5;
    let params = DecodeParams {
        sample_rate: 8000,
        offset: 300.0,
        duration: Some(1.0),
    };

    // The memory-mapped PCM path.
    let pcm = dir.path().join("long_s16.wav");
    long_wav(&pcm, 600, spec(16, hound::SampleFormat::Int), tone);
    let d = decode_file(&pcm, &params).unwrap();
    assert_eq!((d.samples.len(), d.decoded_frames), (8000, 8000));
    for (k, i) in window.clone().enumerate() {
        assert_eq!(d.samples[k], ((tone(i) * 32767.0) as i16) as f32 / 32768.0);
    }
    let nan_outside = dir.path().join("nan_outside.wav");
    let w = window.clone();
    long_wav(
        &nan_outside,
        600,
        spec(32, hound::SampleFormat::Float),
        move |i| {
            if w.contains(&i) {
                tone(i)
            } else {
                f32::NAN
            }
        },
    );
    let d = decode_file(&nan_outside, &params).unwrap();
    assert_eq!(
        d.samples[..10],
        (window.start..window.start + 10)
            .map(tone)
            .collect::<Vec<_>>()[..]
    );

    // The symphonia path (8-bit PCM): it seeks to the offset and stops at
    // the end of the window, one packet past it at most.
    let u8wav = dir.path().join("long_u8.wav");
    long_wav(&u8wav, 600, spec(8, hound::SampleFormat::Int), tone);
    let d = decode_file(&u8wav, &params).unwrap();
    assert_eq!(d.samples.len(), 8000);
    assert!(
        d.decoded_frames >= 8000 && d.decoded_frames < 8000 + 16384,
        "decoded {} frames for a window of 8000",
        d.decoded_frames
    );
    for (k, i) in window.clone().enumerate() {
        assert_eq!(
            d.samples[k],
            ((tone(i) * 127.0) as i8) as f32 / 128.0,
            "sample {k}"
        );
    }
    // The whole file, by contrast, is all of it.
    let whole = DecodeParams {
        sample_rate: 8000,
        offset: 0.0,
        duration: None,
    };
    assert_eq!(
        decode_file(&u8wav, &whole).unwrap().decoded_frames,
        600 * 8000
    );
}

/// Seeking a lossless stream gives the very samples of a decode from the start.
#[test]
fn a_seeked_flac_window_equals_the_same_cut_of_the_whole() {
    let f = fixture("tone.flac");
    let native = decode_file(&f, &at_22050()).unwrap();
    assert_eq!(native.source_rate, 22050);
    let p = DecodeParams {
        sample_rate: 22050,
        offset: 0.3,
        duration: Some(0.1),
    };
    let part = decode_file(&f, &p).unwrap();
    let start = (0.3f64 * 22050.0).round() as usize;
    assert_eq!(part.samples[..], native.samples[start..start + 2205]);
    assert!(
        part.decoded_frames < native.decoded_frames,
        "{} of {}",
        part.decoded_frames,
        native.decoded_frames
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
