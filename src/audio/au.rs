//! Sun/NeXT `.au` files, the format of the original GTZAN distribution.
//! Written by hand: symphonia does not read `.au`, and no maintained crate
//! does. Header (big-endian): ".snd", data offset, data size, encoding,
//! sample rate, channels.

use std::path::Path;

use anyhow::{bail, Context, Result};

pub fn read_au(path: &Path) -> Result<(Vec<f32>, u32, usize)> {
    let bytes = std::fs::read(path).context("cannot read")?;
    parse_au(&bytes)
}

pub fn parse_au(bytes: &[u8]) -> Result<(Vec<f32>, u32, usize)> {
    if bytes.len() < 24 || &bytes[..4] != b".snd" {
        bail!("not a Sun/NeXT .au file (missing .snd header)");
    }
    let word = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
    let offset = word(4) as usize;
    let size = word(8);
    let encoding = word(12);
    let rate = word(16);
    let channels = word(20) as usize;
    if offset < 24 || offset > bytes.len() {
        bail!(".au data offset {offset} is outside the file");
    }
    if channels == 0 || rate == 0 {
        bail!(".au header has {channels} channels at {rate} Hz");
    }
    let mut data = &bytes[offset..];
    if size != u32::MAX && (size as usize) < data.len() {
        data = &data[..size as usize];
    }
    let samples: Vec<f64> = match encoding {
        1 => data.iter().map(|&b| mulaw(b)).collect(),
        2 => data.iter().map(|&b| b as i8 as f64 / 128.0).collect(),
        3 => data
            .chunks_exact(2)
            .map(|c| i16::from_be_bytes([c[0], c[1]]) as f64 / 32768.0)
            .collect(),
        4 => data
            .chunks_exact(3)
            .map(|c| (i32::from_be_bytes([c[0], c[1], c[2], 0]) >> 8) as f64 / 8388608.0)
            .collect(),
        5 => data
            .chunks_exact(4)
            .map(|c| i32::from_be_bytes(c.try_into().unwrap()) as f64 / 2147483648.0)
            .collect(),
        6 => data
            .chunks_exact(4)
            .map(|c| f32::from_be_bytes(c.try_into().unwrap()) as f64)
            .collect(),
        7 => data
            .chunks_exact(8)
            .map(|c| f64::from_be_bytes(c.try_into().unwrap()))
            .collect(),
        e => bail!("unsupported .au encoding {e}"),
    };
    let mono = samples
        .chunks_exact(channels)
        .map(|f| (f.iter().sum::<f64>() / channels as f64) as f32)
        .collect();
    Ok((mono, rate, channels))
}

/// G.711 μ-law to linear, scaled to [-1, 1).
fn mulaw(b: u8) -> f64 {
    let u = !b;
    let sign = u & 0x80;
    let exponent = (u >> 4) & 0x07;
    let mantissa = u & 0x0f;
    let magnitude = (((mantissa as i32) << 3) + 0x84) << exponent;
    let v = magnitude - 0x84;
    (if sign != 0 { -v } else { v }) as f64 / 32768.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_16_bit_stereo() {
        let mut b = b".snd".to_vec();
        for w in [24u32, 8, 3, 8000, 2] {
            b.extend(w.to_be_bytes());
        }
        for s in [16384i16, -16384, 32767, 32767] {
            b.extend(s.to_be_bytes());
        }
        let (mono, rate, ch) = parse_au(&b).unwrap();
        assert_eq!((rate, ch), (8000, 2));
        assert_eq!(mono, vec![0.0, 32767.0 / 32768.0]);
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_au(b"RIFF....").is_err());
    }
}
