//! Sun/NeXT `.au` files, the format of the original GTZAN distribution.
//! Written by hand: symphonia does not read `.au`, and no maintained crate
//! does. Header (big-endian): ".snd", data offset, data size, encoding,
//! sample rate, channels.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use anyhow::{bail, Context, Result};

use super::decode::{Excerpt, Window};
use crate::data::DecodeParams;

/// The fixed part of the header (big-endian words).
struct Header {
    offset: usize,
    /// Bytes of audio the header declares (u32::MAX: unknown, to the end).
    size: u32,
    encoding: u32,
    rate: u32,
    channels: usize,
}

fn header(bytes: &[u8], file_len: usize) -> Result<Header> {
    if bytes.len() < 24 || &bytes[..4] != b".snd" {
        bail!("not a Sun/NeXT .au file (missing .snd header)");
    }
    let word = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
    let h = Header {
        offset: word(4) as usize,
        size: word(8),
        encoding: word(12),
        rate: word(16),
        channels: word(20) as usize,
    };
    if h.offset < 24 || h.offset > file_len {
        bail!(".au data offset {} is outside the file", h.offset);
    }
    if h.channels == 0 || h.rate == 0 {
        bail!(".au header has {} channels at {} Hz", h.channels, h.rate);
    }
    Ok(h)
}

/// Bytes per sample of an encoding.
fn width(encoding: u32) -> Result<usize> {
    Ok(match encoding {
        1 | 2 => 1,
        3 => 2,
        4 => 3,
        5 | 6 => 4,
        7 => 8,
        e => bail!("unsupported .au encoding {e}"),
    })
}

/// Reads the excerpt of `params` only: the header, then the bytes of the
/// frames in the window.
pub fn read_au(path: &Path, params: &DecodeParams) -> Result<Excerpt> {
    let mut file = std::fs::File::open(path).context("cannot read")?;
    let file_len = file.metadata().context("cannot read")?.len() as usize;
    let mut head = vec![0u8; 24.min(file_len)];
    file.read_exact(&mut head).context("cannot read")?;
    let h = header(&head, file_len)?;
    let (data_len, frame) = data_extent(&h, file_len)?;
    let frames = data_len / frame;
    let (start, end) = Window::at(params, h.rate).within(frames);
    let mut data = vec![0u8; (end - start) * frame];
    file.seek(SeekFrom::Start((h.offset + start * frame) as u64))
        .and_then(|_| file.read_exact(&mut data))
        .context("cannot read")?;
    Ok(Excerpt {
        mono: samples(&data, h.encoding, h.channels)?,
        rate: h.rate,
        channels: h.channels,
        decoded: end - start,
        total: Some(frames),
    })
}

/// The audio bytes to read and the frame size, checking that the file holds
/// what the header declares, in whole frames.
fn data_extent(h: &Header, file_len: usize) -> Result<(usize, usize)> {
    let frame = width(h.encoding)? * h.channels;
    let available = file_len - h.offset;
    let data_len = if h.size == u32::MAX {
        available
    } else if h.size as usize > available {
        bail!(
            "truncated file: the header declares {} bytes of audio but the file holds {available}",
            h.size
        );
    } else {
        h.size as usize
    };
    if data_len % frame != 0 {
        bail!(
            "truncated file: the audio data ends with a partial sample frame ({} of {frame} bytes)",
            data_len % frame
        );
    }
    Ok((data_len, frame))
}

/// The whole file from bytes (for tests and small inputs).
pub fn parse_au(bytes: &[u8]) -> Result<(Vec<f32>, u32, usize)> {
    let h = header(bytes, bytes.len())?;
    let (data_len, _) = data_extent(&h, bytes.len())?;
    let data = &bytes[h.offset..h.offset + data_len];
    Ok((samples(data, h.encoding, h.channels)?, h.rate, h.channels))
}

/// Decodes whole frames and averages their channels.
fn samples(data: &[u8], encoding: u32, channels: usize) -> Result<Vec<f32>> {
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
    Ok(samples
        .chunks_exact(channels)
        .map(|f| (f.iter().sum::<f64>() / channels as f64) as f32)
        .collect())
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

    #[test]
    fn a_short_or_ragged_data_section_is_truncation() {
        let mut b = b".snd".to_vec();
        // Declares 8 bytes (two stereo 16-bit frames); holds 6.
        for w in [24u32, 8, 3, 8000, 2] {
            b.extend(w.to_be_bytes());
        }
        b.extend([0u8; 6]);
        let e = parse_au(&b).unwrap_err().to_string();
        assert!(
            e.contains("truncated") && e.contains("declares 8 bytes"),
            "{e}"
        );
        // Unknown size (u32::MAX), 6 bytes: one and a half frames.
        b[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
        let e = parse_au(&b).unwrap_err().to_string();
        assert!(e.contains("partial sample frame"), "{e}");
    }
}
