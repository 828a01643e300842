//! Spectrograms back to audio, as librosa 0.11's
//! `feature.inverse.mel_to_audio`: dB → power (`db_to_power`), mel power →
//! STFT magnitude (`mel_to_stft`, a non-negative least-squares fit through
//! the mel filterbank, see [`super::nnls`]), then the "fast" Griffin-Lim
//! phase recovery (`griffinlim`, momentum 0.99, 32 iterations).
//!
//! The STFT conventions are librosa's and the feature extractor's: periodic
//! Hann window of `n_fft` samples, `center = True` with zero padding
//! (`pad_mode = "constant"`, librosa's default), `1 + len / hop` frames, and
//! an inverse that overlap-adds and divides by the window's summed square,
//! trimming `n_fft / 2` samples at each end.
//!
//! The phase starts at zero (librosa's `init=None`) rather than at random,
//! so the audio is a deterministic function of the spectrogram. Everything
//! runs in f64 (librosa runs in the input's precision, float32 for its
//! spectrograms); the test against librosa states what that changes.
//!
//! Spectra here are **frame-major** (`z[t * bins + k]`), like [`super::stft`].

use std::sync::Arc;

use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use rustfft::num_complex::Complex;

use super::mel::MelBank;
use super::stft::hann_periodic;

/// librosa's defaults for `griffinlim`.
pub const MOMENTUM: f64 = 0.99;
pub const N_ITER: usize = 32;

/// A complex STFT and its inverse (librosa's `stft` / `istft` with the
/// defaults above). The feature extractor's [`super::stft::Stft`] computes
/// power only; phase recovery needs the complex values.
pub struct ComplexStft {
    n_fft: usize,
    hop: usize,
    window: Vec<f64>,
    forward: Arc<dyn RealToComplex<f64>>,
    inverse: Arc<dyn ComplexToReal<f64>>,
}

impl ComplexStft {
    pub fn new(n_fft: usize, hop: usize) -> ComplexStft {
        assert!(
            n_fft >= 2 && n_fft % 2 == 0 && hop > 0,
            "even n_fft, hop > 0"
        );
        let mut planner = RealFftPlanner::<f64>::new();
        ComplexStft {
            n_fft,
            hop,
            window: hann_periodic(n_fft),
            forward: planner.plan_fft_forward(n_fft),
            inverse: planner.plan_fft_inverse(n_fft),
        }
    }

    pub fn bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Samples of a signal whose STFT has `frames` frames, as `istft` with
    /// `center = True` and no `length` gives: `hop · (frames − 1)`.
    pub fn signal_len(&self, frames: usize) -> usize {
        self.hop * frames.saturating_sub(1)
    }

    /// `stft(y)`: frames × bins, frame-major, `1 + len / hop` frames.
    pub fn forward(&self, y: &[f64]) -> Vec<Complex<f64>> {
        let (n, bins) = (self.n_fft, self.bins());
        let frames = 1 + y.len() / self.hop;
        let mut out = vec![Complex::default(); frames * bins];
        let mut frame = self.forward.make_input_vec();
        let mut scratch = self.forward.make_scratch_vec();
        for (t, dst) in out.chunks_exact_mut(bins).enumerate() {
            let start = (t * self.hop) as isize - (n / 2) as isize;
            for (j, f) in frame.iter_mut().enumerate() {
                let i = start + j as isize;
                let v = if i >= 0 && (i as usize) < y.len() {
                    y[i as usize]
                } else {
                    0.0
                };
                *f = v * self.window[j];
            }
            self.forward
                .process_with_scratch(&mut frame, dst, &mut scratch)
                .expect("buffer sizes come from the plan");
        }
        out
    }

    /// `istft(z)` for a frame-major spectrum of `frames` frames: windowed
    /// overlap-add of each frame's inverse real FFT, divided by the summed
    /// squared window where that sum is above the smallest normal f64
    /// (librosa's `tiny`), the padding trimmed.
    pub fn inverse(&self, z: &[Complex<f64>], frames: usize) -> Vec<f64> {
        let (n, bins) = (self.n_fft, self.bins());
        assert_eq!(z.len(), frames * bins, "spectrum is frames × bins");
        let full = n + self.hop * frames.saturating_sub(1);
        let mut y = vec![0f64; full];
        let mut wss = vec![0f64; full];
        let mut spec = self.inverse.make_input_vec();
        let mut frame = self.inverse.make_output_vec();
        let mut scratch = self.inverse.make_scratch_vec();
        let scale = 1.0 / n as f64; // numpy's irfft normalises by 1/n
        for (t, src) in z.chunks_exact(bins).enumerate() {
            spec.copy_from_slice(src);
            // irfft ignores the imaginary parts of the DC and Nyquist bins.
            spec[0].im = 0.0;
            spec[bins - 1].im = 0.0;
            self.inverse
                .process_with_scratch(&mut spec, &mut frame, &mut scratch)
                .expect("buffer sizes come from the plan");
            let at = t * self.hop;
            for j in 0..n {
                y[at + j] += frame[j] * scale * self.window[j];
                wss[at + j] += self.window[j] * self.window[j];
            }
        }
        let start = n / 2;
        (start..start + self.signal_len(frames))
            .map(|i| {
                if wss[i] > f64::MIN_POSITIVE {
                    y[i] / wss[i]
                } else {
                    y[i]
                }
            })
            .collect()
    }
}

/// `librosa.griffinlim(S, n_iter, momentum, init=None)` for a frame-major
/// magnitude spectrogram of `frames` frames: the signal whose STFT
/// magnitude is closest to `magnitude`, found by alternating projections
/// with Perraudin et al.'s momentum ("A fast Griffin-Lim algorithm", 2013):
/// each new phase estimate is taken from `rebuilt − α/(1+α) · previous`.
pub fn griffin_lim(
    magnitude: &[f64],
    frames: usize,
    n_fft: usize,
    hop: usize,
    n_iter: usize,
    momentum: f64,
) -> Vec<f64> {
    let stft = ComplexStft::new(n_fft, hop);
    assert_eq!(magnitude.len(), frames * stft.bins());
    // init=None: every phase 0, so the first estimate is the magnitude itself.
    let mut angles: Vec<Complex<f64>> = magnitude.iter().map(|&m| Complex::new(m, 0.0)).collect();
    let mut previous: Option<Vec<Complex<f64>>> = None;
    let beta = momentum / (1.0 + momentum);
    for _ in 0..n_iter {
        let inverse = stft.inverse(&angles, frames);
        let rebuilt = stft.forward(&inverse);
        for (i, a) in angles.iter_mut().enumerate() {
            let mut v = rebuilt[i];
            if let Some(p) = &previous {
                v -= p[i] * beta;
            }
            // librosa adds `tiny` so a zero bin keeps a zero (not NaN) phase.
            *a = v / (v.norm() + f64::MIN_POSITIVE) * magnitude[i];
        }
        previous = Some(rebuilt);
    }
    stft.inverse(&angles, frames)
}

/// `librosa.db_to_power(S_db, ref=1.0)`: the inverse of the `power_to_db`
/// the features use (the `top_db` floor is not invertible and stays).
pub fn db_to_power(db: f64) -> f64 {
    10f64.powf(db / 10.0)
}

/// `librosa.feature.inverse.mel_to_stft(M, power=2)`: the STFT magnitude
/// (frame-major, frames × bins) whose mel power spectrogram is closest to
/// `mel` (n_mels × frames, row-major), as the square root of the
/// non-negative least-squares fit through the filterbank.
pub fn mel_to_stft(mel: &[f64], frames: usize, bank: &MelBank) -> Vec<f64> {
    assert_eq!(mel.len(), bank.n_mels * frames, "mel is n_mels × frames");
    let power = super::nnls::mel_nnls(bank, mel, frames);
    power.iter().map(|&p| p.sqrt()).collect()
}

/// `librosa.feature.inverse.mel_to_audio` with `init=None`: a mel power
/// spectrogram (n_mels × frames, row-major) to `hop · (frames − 1)` samples.
pub fn mel_to_audio(
    mel: &[f64],
    frames: usize,
    bank: &MelBank,
    n_fft: usize,
    hop: usize,
) -> Vec<f64> {
    let magnitude = mel_to_stft(mel, frames, bank);
    griffin_lim(&magnitude, frames, n_fft, hop, N_ITER, MOMENTUM)
}

/// Spectral convergence ‖S − |STFT(y)|‖_F / ‖S‖_F: how far the audio's STFT
/// magnitude is from the one it was recovered from (0 is a perfect fit).
pub fn spectral_convergence(magnitude: &[f64], y: &[f64], n_fft: usize, hop: usize) -> f64 {
    let rebuilt = ComplexStft::new(n_fft, hop).forward(y);
    let (mut num, mut den) = (0f64, 0f64);
    for (s, z) in magnitude.iter().zip(&rebuilt) {
        num += (s - z.norm()).powi(2);
        den += s * s;
    }
    (num / den.max(f64::MIN_POSITIVE)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The forward/inverse pair reconstructs a signal exactly (the window's
    /// summed square is never zero inside the trimmed signal at hop = n/4).
    #[test]
    fn istft_inverts_stft() {
        let s = ComplexStft::new(64, 16);
        let y: Vec<f64> = (0..16 * 20)
            .map(|i| (i as f64 * 0.3).sin() + 0.2 * (i as f64 * 1.7).cos())
            .collect();
        let z = s.forward(&y);
        let frames = z.len() / s.bins();
        assert_eq!(frames, 21);
        let back = s.inverse(&z, frames);
        assert_eq!(back.len(), y.len());
        for (a, b) in back.iter().zip(&y) {
            // f64 FFT round trip on values of order 1.
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
    }

    /// Griffin-Lim lowers the spectral convergence of a real signal's
    /// magnitude far below that of its zero-phase first estimate.
    #[test]
    fn griffin_lim_converges_towards_the_magnitude() {
        let (n, hop) = (128, 32);
        let y: Vec<f64> = (0..4000)
            .map(|i| (i as f64 * 0.21).sin() * (1.0 + (i as f64 * 0.002).sin()))
            .collect();
        let s = ComplexStft::new(n, hop);
        let mag: Vec<f64> = s.forward(&y).iter().map(|z| z.norm()).collect();
        let frames = mag.len() / s.bins();
        let first = griffin_lim(&mag, frames, n, hop, 0, MOMENTUM);
        let last = griffin_lim(&mag, frames, n, hop, 32, MOMENTUM);
        let (a, b) = (
            spectral_convergence(&mag, &first, n, hop),
            spectral_convergence(&mag, &last, n, hop),
        );
        assert!(b < 0.2 * a, "{a} → {b}");
    }

    #[test]
    fn db_to_power_inverts_power_to_db() {
        for p in [1e-6f32, 0.5, 3.0, 1234.5] {
            let db = crate::dsp::mfcc::power_to_db(&[p], 1e-10, None)[0];
            assert!((db_to_power(db as f64) / p as f64 - 1.0).abs() < 1e-5);
        }
    }
}
