//! Slaney-style mel scale and filterbank, as `librosa.filters.mel` with its
//! defaults (`htk = False`, `norm = "slaney"`).

const F_SP: f64 = 200.0 / 3.0;
const MIN_LOG_HZ: f64 = 1000.0;
const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;

fn logstep() -> f64 {
    6.4f64.ln() / 27.0
}

pub fn hz_to_mel(f: f64) -> f64 {
    if f >= MIN_LOG_HZ {
        MIN_LOG_MEL + (f / MIN_LOG_HZ).ln() / logstep()
    } else {
        f / F_SP
    }
}

pub fn mel_to_hz(m: f64) -> f64 {
    if m >= MIN_LOG_MEL {
        MIN_LOG_HZ * (logstep() * (m - MIN_LOG_MEL)).exp()
    } else {
        F_SP * m
    }
}

/// `n` mel-spaced frequencies from `fmin` to `fmax` (librosa.mel_frequencies).
pub fn mel_frequencies(n: usize, fmin: f64, fmax: f64) -> Vec<f64> {
    let (lo, hi) = (hz_to_mel(fmin), hz_to_mel(fmax));
    (0..n)
        .map(|i| {
            let m = if n == 1 {
                lo
            } else {
                lo + (hi - lo) * i as f64 / (n - 1) as f64
            };
            mel_to_hz(m)
        })
        .collect()
}

/// The mel bands of [`MelBank::new`] that hold no FFT bin: their weights are
/// all zero, so they would be constant rows. librosa warns about them
/// ("Empty filters detected"); like it, a band whose lower edge is 0 Hz is
/// not counted. Computed from the band edges, without building the bank.
pub fn empty_bands(sr: f64, n_fft: usize, n_mels: usize, fmin: f64, fmax: f64) -> Vec<usize> {
    let n_bins = n_fft / 2 + 1;
    let bin_hz = sr / n_fft as f64;
    let mel_f = mel_frequencies(n_mels + 2, fmin, fmax);
    (0..n_mels)
        .filter(|&i| {
            let (lo, hi) = (mel_f[i], mel_f[i + 2]);
            if lo == 0.0 {
                return false;
            }
            // A bin has a nonzero weight iff its frequency lies strictly
            // between the band's outer edges; the first one above `lo`:
            let k = (lo / bin_hz).floor() as usize + 1;
            !(k < n_bins && (k as f64 * bin_hz) < hi)
        })
        .collect()
}

/// A mel filterbank stored sparsely: each filter is nonzero on one run of bins.
#[derive(Debug, Clone)]
pub struct MelBank {
    pub n_mels: usize,
    pub n_bins: usize,
    /// (first bin, weights) per filter.
    pub filters: Vec<(usize, Vec<f32>)>,
}

impl MelBank {
    /// Rounding follows librosa: weights are computed in f64, stored as f32,
    /// then scaled in place by the f64 Slaney area norm.
    pub fn new(sr: f64, n_fft: usize, n_mels: usize, fmin: f64, fmax: f64) -> MelBank {
        let n_bins = n_fft / 2 + 1;
        let fftfreqs: Vec<f64> = (0..n_bins).map(|k| k as f64 * sr / n_fft as f64).collect();
        let mel_f = mel_frequencies(n_mels + 2, fmin, fmax);
        let mut filters = Vec::with_capacity(n_mels);
        for i in 0..n_mels {
            let fdiff_lo = mel_f[i + 1] - mel_f[i];
            let fdiff_hi = mel_f[i + 2] - mel_f[i + 1];
            let enorm = 2.0 / (mel_f[i + 2] - mel_f[i]);
            let row: Vec<f32> = fftfreqs
                .iter()
                .map(|&f| {
                    let lower = -(mel_f[i] - f) / fdiff_lo;
                    let upper = (mel_f[i + 2] - f) / fdiff_hi;
                    let w = 0f64.max(lower.min(upper)) as f32;
                    (w as f64 * enorm) as f32
                })
                .collect();
            let first = row.iter().position(|&w| w != 0.0).unwrap_or(0);
            let last = row
                .iter()
                .rposition(|&w| w != 0.0)
                .map(|l| l + 1)
                .unwrap_or(first);
            filters.push((first, row[first..last].to_vec()));
        }
        MelBank {
            n_mels,
            n_bins,
            filters,
        }
    }

    pub fn dense(&self) -> Vec<Vec<f32>> {
        self.filters
            .iter()
            .map(|(first, w)| {
                let mut row = vec![0f32; self.n_bins];
                row[*first..first + w.len()].copy_from_slice(w);
                row
            })
            .collect()
    }

    /// mel = filters · power for a frame-major (frames × bins) power
    /// spectrogram; the result is n_mels × frames, row-major. Each filter
    /// sums its run of contiguous bins in f32, as librosa's float32 matmul
    /// (in another order; the sums differ in the last bits).
    pub fn apply(&self, power: &[f32], frames: usize) -> Vec<f32> {
        let mut out = vec![0f32; self.n_mels * frames];
        let mut col = vec![0f32; self.n_mels];
        for (t, frame) in power.chunks_exact(self.n_bins).take(frames).enumerate() {
            super::simd::filter_frame(frame, &self.filters, &mut col);
            for (m, &v) in col.iter().enumerate() {
                out[m * frames + t] = v;
            }
        }
        out
    }
}
