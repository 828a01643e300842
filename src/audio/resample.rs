//! Sample-rate conversion with rubato's synchronous FFT resampler (a
//! windowed-sinc filter applied in the frequency domain: high quality and
//! fast for fixed ratios such as 44.1 → 22.05 kHz).

use anyhow::{anyhow, Result};
use rubato::audioadapter_buffers::direct::SequentialSliceOfVecs;
use rubato::{Fft, FixedSync, Resampler};

pub fn resample(input: &[f32], from: u32, to: u32) -> Result<Vec<f32>> {
    if from == to {
        return Ok(input.to_vec());
    }
    let data = vec![input.iter().map(|&v| v as f64).collect::<Vec<f64>>()];
    let adapter = SequentialSliceOfVecs::new(&data, 1, input.len())
        .map_err(|e| anyhow!("resampler input: {e}"))?;
    let mut r = Fft::<f64>::new(from as usize, to as usize, 1024, 1, FixedSync::Input)
        .map_err(|e| anyhow!("cannot resample {from} Hz to {to} Hz: {e}"))?;
    let out = r
        .process_all(&adapter, input.len(), None)
        .map_err(|e| anyhow!("resampling failed: {e}"))?;
    Ok(out.take_data().into_iter().map(|v| v as f32).collect())
}
