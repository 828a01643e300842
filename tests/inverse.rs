//! Mel spectrogram → audio against librosa 0.11 (`mel_to_stft`,
//! `griffinlim(init=None)`), on the fixture that
//! `tests/fixtures/make_inverse.py` writes.

use std::io::Read;

use serde::Deserialize;
use vaerun::dsp::inverse::{self, ComplexStft};
use vaerun::dsp::mel::MelBank;
use vaerun::dsp::stft::Stft;

#[derive(Deserialize)]
struct Fixture {
    sr: f64,
    n_fft: usize,
    hop_length: usize,
    n_mels: usize,
    frames: usize,
    cases: std::collections::BTreeMap<String, Case>,
}

/// The float32 arrays are stored as their shortest decimals, which read
/// back exactly as f32 (and only then widen to the f64 librosa computed
/// with: the decimal itself is not the float32 value).
fn widened<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    let v: Vec<f32> = Vec::deserialize(d)?;
    Ok(v.into_iter().map(f64::from).collect())
}

#[derive(Deserialize)]
struct Case {
    /// n_mels × frames, row-major.
    #[serde(deserialize_with = "widened")]
    mel: Vec<f64>,
    /// librosa's magnitude, bins × frames, row-major.
    #[serde(deserialize_with = "widened")]
    stft: Vec<f64>,
    /// ‖A · stft² − mel‖ / ‖mel‖ for librosa's result.
    mel_residual: f64,
    #[serde(default, deserialize_with = "widened")]
    griffinlim_f32: Vec<f64>,
    #[serde(default)]
    griffinlim_f64: Vec<f64>,
    #[serde(default)]
    f32_vs_f64: f64,
}

fn fixture() -> Fixture {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/inverse_librosa.json.gz"
    );
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn bank(f: &Fixture) -> MelBank {
    MelBank::new(f.sr, f.n_fft, f.n_mels, 0.0, f.sr / 2.0)
}

/// bins × frames (librosa's layout) → frames × bins (ours).
fn frame_major(v: &[f64], bins: usize, frames: usize) -> Vec<f64> {
    let mut out = vec![0.0; v.len()];
    for k in 0..bins {
        for t in 0..frames {
            out[t * bins + k] = v[k * frames + t];
        }
    }
    out
}

fn rel_l2(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let num: f64 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum();
    let den: f64 = b.iter().map(|y| y * y).sum();
    (num / den).sqrt()
}

/// ‖mel(|STFT(y)|²) − M‖ / ‖M‖: how well audio reproduces the mel power
/// spectrogram it was made from, measured with the feature extractor's own
/// STFT and filterbank.
fn mel_convergence(f: &Fixture, y: &[f64], mel: &[f64]) -> f64 {
    let y: Vec<f32> = y.iter().map(|&v| v as f32).collect();
    let stft = Stft::new(f.n_fft, f.hop_length);
    let frames = stft.n_frames(y.len());
    assert_eq!(frames, f.frames);
    let got = bank(f).apply(&stft.power(&y), frames);
    let got: Vec<f64> = got.iter().map(|&v| v as f64).collect();
    rel_l2(&got, mel)
}

fn mel_residual(f: &Fixture, magnitude_frame_major: &[f64], mel: &[f64]) -> f64 {
    let b = bank(f);
    let power: Vec<f32> = magnitude_frame_major
        .iter()
        .map(|m| (m * m) as f32)
        .collect();
    let fitted: Vec<f64> = b
        .apply(&power, f.frames)
        .iter()
        .map(|&v| v as f64)
        .collect();
    rel_l2(&fitted, mel)
}

/// Where librosa's L-BFGS-B stops at its start, max(pinv(A) M, 0), our
/// NNLS returns the same start. librosa computes pinv and the product in
/// float32 (7 significant digits) and we in f64, so the two agree to float32
/// rounding of the product, not bit for bit.
#[test]
fn mel_to_stft_equals_librosa_where_lbfgsb_keeps_its_start() {
    let f = fixture();
    let case = &f.cases["quiet"];
    let bins = f.n_fft / 2 + 1;
    let ours = inverse::mel_to_stft(&case.mel, f.frames, &bank(&f));
    let want = frame_major(&case.stft, bins, f.frames);
    let d = rel_l2(&ours, &want);
    eprintln!("quiet: |ours − librosa| / |librosa| = {d:.2e}");
    assert!(d < 1e-5, "{d}");
}

/// Where L-BFGS-B iterates, the minimisers of ‖AX − M‖² over X ≥ 0 form a
/// set (129 bins, 24 mel bands), and our solver (FISTA) and L-BFGS-B stop at
/// different points of it: we require a fit of the mel spectrogram at least
/// as close as librosa's (measured: 1.0e-7 against librosa's 6.2e-5), and
/// magnitudes within 15 % of librosa's (measured: 7.0 %, the distance between two points of that set, not an error of
/// either).
#[test]
fn mel_to_stft_fits_at_least_as_well_as_librosa() {
    let f = fixture();
    let case = &f.cases["loud"];
    let bins = f.n_fft / 2 + 1;
    let ours = inverse::mel_to_stft(&case.mel, f.frames, &bank(&f));
    assert!(ours.iter().all(|&v| v >= 0.0 && v.is_finite()));
    let ours_residual = mel_residual(&f, &ours, &case.mel);
    let want = frame_major(&case.stft, bins, f.frames);
    let theirs_residual = mel_residual(&f, &want, &case.mel);
    let d = rel_l2(&ours, &want);
    eprintln!(
        "loud: mel residual ours {ours_residual:.2e}, librosa {theirs_residual:.2e} \
         (librosa's own measure {:.2e}); |ours − librosa| / |librosa| = {d:.3}",
        case.mel_residual
    );
    // The residual is measured through the f32 filterbank product (f32
    // rounding, 1e-6 of the spectrogram) for both.
    assert!(ours_residual <= theirs_residual + 1e-6);
    assert!(d < 0.15, "{d}");
}

/// Griffin-Lim from librosa's own magnitude (so the NNLS does not enter).
/// We run in f64: against librosa's float64 run the only difference is the
/// FFT library's rounding (pocketfft vs rustfft, 1e-16 per transform),
/// grown by 32 iterations to about 1e-10 (measured: 3.8e-11; injecting
/// 1e-16 noise into each of librosa's transforms gives 1.5e-11 to 1.6e-10);
/// against its default float32 run, we are as far
/// as librosa's float32 and float64 runs are from each other (the fixture
/// records that spread: 2 %, from bins whose magnitude is near zero, where
/// the phase is decided by rounding).
#[test]
fn griffin_lim_matches_librosa() {
    let f = fixture();
    let case = &f.cases["loud"];
    let bins = f.n_fft / 2 + 1;
    let magnitude = frame_major(&case.stft, bins, f.frames);
    let y = inverse::griffin_lim(
        &magnitude,
        f.frames,
        f.n_fft,
        f.hop_length,
        inverse::N_ITER,
        inverse::MOMENTUM,
    );
    assert_eq!(y.len(), case.griffinlim_f64.len());
    assert_eq!(
        y.len(),
        ComplexStft::new(f.n_fft, f.hop_length).signal_len(f.frames)
    );
    let d64 = rel_l2(&y, &case.griffinlim_f64);
    let d32 = rel_l2(&y, &case.griffinlim_f32);
    eprintln!(
        "Griffin-Lim: vs librosa f64 {d64:.2e}, vs librosa f32 {d32:.2e} (librosa f32 vs f64: {:.2e})",
        case.f32_vs_f64
    );
    assert!(d64 < 1e-9, "{d64}");
    assert!(d32 < 1.5 * case.f32_vs_f64, "{d32}");
}

/// End to end (mel → magnitude → audio): our audio reproduces the mel
/// spectrogram at least about as well as librosa's `mel_to_audio`
/// (init=None) does. Both go through Griffin-Lim, which recovers a
/// magnitude only approximately; 10 % slack covers our NNLS landing on a
/// different magnitude than L-BFGS-B (see above).
#[test]
fn mel_to_audio_reproduces_the_mel_spectrogram_like_librosa() {
    let f = fixture();
    let case = &f.cases["loud"];
    let y = inverse::mel_to_audio(&case.mel, f.frames, &bank(&f), f.n_fft, f.hop_length);
    let ours = mel_convergence(&f, &y, &case.mel);
    let theirs = mel_convergence(&f, &case.griffinlim_f32, &case.mel);
    eprintln!("mel spectral convergence of the audio: ours {ours:.4}, librosa {theirs:.4}");
    assert!(ours <= 1.1 * theirs, "{ours} vs {theirs}");
}
