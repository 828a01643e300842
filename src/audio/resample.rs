//! Sample-rate conversion with rubato's synchronous FFT resampler (a
//! windowed-sinc filter applied in the frequency domain: high quality and
//! fast for fixed ratios such as 44.1 → 22.05 kHz).
//!
//! Settings measured on the 44.1 kHz golden chirp against librosa's soxr_hq
//! (benches/audio.rs, tests/golden_dsp.rs): f32, chunks of 4096 frames in 4
//! sub-chunks agree with soxr to 1.1e-6 away from the ends and resample
//! 120 s of audio in 27 ms, 4x faster than f64 with 1024-frame chunks.

use anyhow::{anyhow, Result};
use rubato::audioadapter_buffers::direct::SequentialSlice;
use rubato::{Fft, FixedSync, Resampler, WindowFunction};

const CHUNK: usize = 4096;
const SUB_CHUNKS: usize = 4;

pub fn resample(input: &[f32], from: u32, to: u32) -> Result<Vec<f32>> {
    if from == to {
        return Ok(input.to_vec());
    }
    // Wrap the input in place: a copy of minutes of audio costs page faults.
    let adapter =
        SequentialSlice::new(input, 1, input.len()).map_err(|e| anyhow!("resampler input: {e}"))?;
    let mut r = Fft::<f32>::new_custom(
        from as usize,
        to as usize,
        CHUNK,
        SUB_CHUNKS,
        1,
        WindowFunction::BlackmanHarris2,
        FixedSync::Input,
    )
    .map_err(|e| anyhow!("cannot resample {from} Hz to {to} Hz: {e}"))?;
    let out = r
        .process_all(&adapter, input.len(), None)
        .map_err(|e| anyhow!("resampling failed: {e}"))?;
    Ok(out.take_data())
}
