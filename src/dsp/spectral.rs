//! Spectral statistics on a frame-major magnitude spectrogram (frames × bins),
//! as librosa 0.11: centroid, bandwidth (p = 2), rolloff, contrast, flatness.

/// Centre frequency of each FFT bin.
pub fn fft_frequencies(sr: f64, n_fft: usize) -> Vec<f64> {
    (0..=n_fft / 2)
        .map(|k| k as f64 * sr / n_fft as f64)
        .collect()
}

/// Each frame's L1 norm over bins (1 where it would be below f32's
/// smallest normal, as librosa's `normalize(norm=1, threshold=None)`).
fn frame_norms(s: &[f32], bins: usize, frames: usize) -> Vec<f64> {
    s.chunks_exact(bins)
        .take(frames)
        .map(|frame| {
            let n = frame.iter().fold(0f64, |acc, &v| acc + (v as f64).abs());
            if n < f32::MIN_POSITIVE as f64 {
                1.0
            } else {
                n
            }
        })
        .collect()
}

/// `librosa.feature.spectral_centroid` of a frame-major magnitude spectrogram.
pub fn centroid(s: &[f32], freqs: &[f64], frames: usize) -> Vec<f64> {
    let norms = frame_norms(s, freqs.len(), frames);
    s.chunks_exact(freqs.len())
        .zip(&norms)
        .map(|(frame, &norm)| {
            freqs
                .iter()
                .zip(frame)
                .fold(0f64, |acc, (f, &v)| acc + f * v as f64 / norm)
        })
        .collect()
}

/// `librosa.feature.spectral_bandwidth` with p = 2.
pub fn bandwidth(s: &[f32], freqs: &[f64], frames: usize) -> Vec<f64> {
    let c = centroid(s, freqs, frames);
    let norms = frame_norms(s, freqs.len(), frames);
    s.chunks_exact(freqs.len())
        .zip(norms.iter().zip(&c))
        .map(|(frame, (&norm, &ct))| {
            freqs
                .iter()
                .zip(frame)
                .fold(0f64, |acc, (f, &v)| {
                    acc + v as f64 / norm * (f - ct).powi(2)
                })
                .sqrt()
        })
        .collect()
}

/// `librosa.feature.spectral_rolloff`: the lowest bin frequency at which the
/// cumulative f32 energy reaches `roll_percent` of the frame's total.
pub fn rolloff(s: &[f32], freqs: &[f64], frames: usize, roll_percent: f64) -> Vec<f64> {
    let bins = freqs.len();
    let mut cum = vec![0f32; bins];
    s.chunks_exact(bins)
        .take(frames)
        .map(|frame| {
            let mut acc = 0f32;
            for (c, &v) in cum.iter_mut().zip(frame) {
                acc += v;
                *c = acc;
            }
            let threshold = (roll_percent * acc as f64) as f32;
            freqs
                .iter()
                .zip(&cum)
                .find(|(_, &c)| c >= threshold)
                .map_or(0.0, |(f, _)| *f)
        })
        .collect()
}

pub fn contrast(
    s: &[f32],
    freqs: &[f64],
    frames: usize,
    sr: f64,
    fmin: f64,
    n_bands: usize,
    quantile: f64,
) -> Result<Vec<f32>, String> {
    let (peak, valley) = contrast_bands(s, freqs, frames, sr, fmin, n_bands, quantile)?;
    Ok(contrast_db(&peak, &valley))
}

/// (peak, valley), each (n_bands + 1) × frames, row-major.
pub type PeakValley = (Vec<f64>, Vec<f64>);

/// The per-frame part of contrast: (peak, valley), each (n_bands + 1) × frames.
/// Spectral contrast's band edges: 0, fmin, 2·fmin, …, 2^n_bands·fmin.
fn octave_edges(fmin: f64, n_bands: usize) -> Vec<f64> {
    let mut octa = vec![0f64; n_bands + 2];
    for (i, o) in octa.iter_mut().enumerate().skip(1) {
        *o = fmin * 2f64.powi(i as i32 - 1);
    }
    octa
}

/// librosa's checks on the octave bands: every edge below Nyquist, every
/// band holding at least one FFT bin (librosa fails on an empty one).
fn check_octaves(
    octa: &[f64],
    freqs: &[f64],
    sr: f64,
    fmin: f64,
    n_bands: usize,
) -> Result<(), String> {
    let n_bands_edges = &octa[..n_bands + 1];
    if let Some(&f) = n_bands_edges.iter().find(|&&f| f >= 0.5 * sr) {
        return Err(format!(
            "spectral contrast: {n_bands} octave bands from contrast_fmin = {fmin} Hz reach \
             {f} Hz, at or above the Nyquist frequency ({} Hz); lower n_bands or contrast_fmin",
            0.5 * sr
        ));
    }
    for k in 0..=n_bands {
        let (lo, hi) = (octa[k], octa[k + 1]);
        if !freqs.iter().any(|&f| f >= lo && f <= hi) {
            return Err(format!(
                "spectral contrast: band {k} ({lo}–{hi} Hz) holds no FFT bin; use a larger n_fft"
            ));
        }
    }
    Ok(())
}

/// The octave-band checks of [`contrast_bands`], for validating an
/// experiment before any audio is read.
pub fn check_contrast(sr: f64, n_fft: usize, fmin: f64, n_bands: usize) -> Result<(), String> {
    let octa = octave_edges(fmin, n_bands);
    check_octaves(&octa, &fft_frequencies(sr, n_fft), sr, fmin, n_bands)
}

pub fn contrast_bands(
    s: &[f32],
    freqs: &[f64],
    frames: usize,
    sr: f64,
    fmin: f64,
    n_bands: usize,
    quantile: f64,
) -> Result<PeakValley, String> {
    let octa = octave_edges(fmin, n_bands);
    check_octaves(&octa, freqs, sr, fmin, n_bands)?;
    let bins = freqs.len();
    let mut peak = vec![0f64; (n_bands + 1) * frames];
    let mut valley = vec![0f64; (n_bands + 1) * frames];
    for k in 0..=n_bands {
        let (lo, hi) = (octa[k], octa[k + 1]);
        let mut band: Vec<bool> = freqs.iter().map(|&f| f >= lo && f <= hi).collect();
        let idx: Vec<usize> = (0..bins).filter(|&b| band[b]).collect();
        if k > 0 && idx[0] > 0 {
            band[idx[0] - 1] = true;
        }
        if k == n_bands {
            for b in band.iter_mut().skip(idx[idx.len() - 1] + 1) {
                *b = true;
            }
        }
        let mut rows: Vec<usize> = (0..bins).filter(|&b| band[b]).collect();
        let n_in_band = rows.len();
        if k < n_bands {
            rows.pop();
        }
        let q = ((quantile * n_in_band as f64).round() as usize).max(1);
        let mut col = Vec::with_capacity(rows.len());
        for t in 0..frames {
            col.clear();
            col.extend(rows.iter().map(|&b| s[t * bins + b]));
            col.sort_by(f32::total_cmp);
            let mean = |xs: &[f32]| xs.iter().map(|&v| v as f64).sum::<f64>() / xs.len() as f64;
            valley[k * frames + t] = mean(&col[..q]) as f32 as f64;
            peak[k * frames + t] = mean(&col[col.len() - q..]) as f32 as f64;
        }
    }
    Ok((peak, valley))
}

/// The whole-clip part of contrast: power_to_db of each matrix (its own
/// top_db = 80 floor), then their difference.
pub fn contrast_db(peak: &[f64], valley: &[f64]) -> Vec<f32> {
    let db = |m: &[f64]| -> Vec<f64> {
        let v: Vec<f64> = m.iter().map(|&x| 10.0 * x.max(1e-10).log10()).collect();
        let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        v.iter().map(|&x| x.max(max - 80.0)).collect()
    };
    db(peak)
        .iter()
        .zip(db(valley))
        .map(|(p, v)| (p - v) as f32)
        .collect()
}

/// Wiener entropy per frame: geometric over arithmetic mean of the power
/// spectrum (`power = 2`, `amin = 1e-10`).
pub fn flatness(s: &[f32], bins: usize, frames: usize) -> Vec<f64> {
    s.chunks_exact(bins)
        .take(frames)
        .map(|frame| {
            let vals: Vec<f64> = frame
                .iter()
                .map(|&v| ((v as f64).powi(2)).max(1e-10))
                .collect();
            let gmean = (vals.iter().map(|v| v.ln()).sum::<f64>() / bins as f64).exp();
            gmean / (vals.iter().sum::<f64>() / bins as f64)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flatness_is_one_for_white_and_small_for_a_tone() {
        let flat = vec![1f32; 8];
        assert!((flatness(&flat, 8, 1)[0] - 1.0).abs() < 1e-12);
        let mut tone = vec![0f32; 8];
        tone[3] = 1.0;
        assert!(flatness(&tone, 8, 1)[0] < 1e-4);
    }
}
