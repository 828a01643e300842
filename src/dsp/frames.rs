//! Frame-wise time-domain features, as librosa 0.11 with `center = True`.

/// `librosa.feature.zero_crossing_rate`: edge padding, |y| ≤ 1e-10 counts as
/// zero (positive), the first sample of a frame never counts.
pub fn zero_crossing_rate(y: &[f32], frame_length: usize, hop: usize) -> Vec<f64> {
    let pad = frame_length / 2;
    let n = y.len();
    let at = |i: isize| -> bool {
        let j = i.clamp(0, n as isize - 1) as usize;
        let v = y[j];
        v.abs() > 1e-10 && v.is_sign_negative()
    };
    let frames = 1 + n / hop;
    (0..frames)
        .map(|t| {
            let start = (t * hop) as isize - pad as isize;
            let mut count = 0usize;
            let mut prev = at(start);
            for k in 1..frame_length as isize {
                let cur = at(start + k);
                count += usize::from(cur != prev);
                prev = cur;
            }
            count as f64 / frame_length as f64
        })
        .collect()
}

/// `librosa.feature.rms` on the waveform: zero padding, sqrt(mean(y²)).
pub fn rms(y: &[f32], frame_length: usize, hop: usize) -> Vec<f64> {
    let pad = frame_length / 2;
    let frames = 1 + y.len() / hop;
    (0..frames)
        .map(|t| {
            let start = (t * hop) as isize - pad as isize;
            let lo = start.max(0) as usize;
            let hi = ((start + frame_length as isize).max(0) as usize).min(y.len());
            let sum: f64 = y[lo.min(hi)..hi]
                .iter()
                .map(|&v| (v as f64) * (v as f64))
                .sum();
            (sum / frame_length as f64).sqrt()
        })
        .collect()
}

/// `librosa.feature.delta(width=9, order)` along frames, `mode="interp"`:
/// the Savitzky–Golay derivative, the edge frames taking the derivative of
/// the polynomial fitted to the first / last nine frames.
pub fn delta(data: &[f32], rows: usize, frames: usize, order: usize) -> Result<Vec<f32>, String> {
    const HALF: isize = 4;
    if frames < 9 {
        return Err(format!(
            "deltas need at least 9 frames, the clip has {frames}"
        ));
    }
    let coef: Vec<f64> = (-HALF..=HALF)
        .map(|k| match order {
            1 => k as f64 / 60.0,
            // Second derivative of the least-squares quadratic over 9 points.
            _ => 2.0 * ((k * k) as f64 - 20.0 / 3.0) / 308.0,
        })
        .collect();
    let mut out = vec![0f32; rows * frames];
    for r in 0..rows {
        let row = &data[r * frames..(r + 1) * frames];
        let at = |t: usize| -> f64 {
            coef.iter()
                .enumerate()
                .map(|(i, c)| c * row[t + i - HALF as usize] as f64)
                .sum()
        };
        for t in 0..frames {
            let centre = t.clamp(HALF as usize, frames - 1 - HALF as usize);
            out[r * frames + t] = at(centre) as f32;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delta_of_a_ramp_is_its_slope() {
        let ramp: Vec<f32> = (0..20).map(|t| 3.0 * t as f32 + 1.0).collect();
        let d = delta(&ramp, 1, 20, 1).unwrap();
        assert!(d.iter().all(|v| (v - 3.0).abs() < 1e-5), "{d:?}");
        let quad: Vec<f32> = (0..20).map(|t| (t * t) as f32).collect();
        let d2 = delta(&quad, 1, 20, 2).unwrap();
        assert!(d2.iter().all(|v| (v - 2.0).abs() < 1e-4), "{d2:?}");
        assert!(delta(&ramp[..5], 1, 5, 1).is_err());
    }

    #[test]
    fn median_is_numpys() {
        use crate::dsp::{row_stat, Stat};
        assert_eq!(row_stat(&[3.0, 1.0, 2.0], Stat::Median), 2.0);
        assert_eq!(row_stat(&[4.0, 1.0, 3.0, 2.0], Stat::Median), 2.5);
    }

    #[test]
    fn rms_of_a_constant() {
        let y = vec![0.5f32; 4096];
        let r = rms(&y, 2048, 512);
        assert!((r[4] - 0.5).abs() < 1e-12);
        assert!(
            (r[0] - 0.5 / 2f64.sqrt()).abs() < 1e-3,
            "half the first frame is padding"
        );
    }
}
