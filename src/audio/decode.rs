//! symphonia for WAV, FLAC, MP3, OGG Vorbis and AAC/M4A; Sun/NeXT `.au`
//! through [`super::au`]. Integer PCM is scaled as libsndfile (and so
//! librosa) does: int16 / 32768, int24 / 2^23, int32 / 2^31.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use symphonia::core::audio::{Audio, AudioBuffer, GenericAudioBufferRef};
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

use crate::data::DecodeParams;

/// Mono samples at `sample_rate`.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub samples: Vec<f32>,
    pub sample_rate: u32,
    /// Sample rate of the file before resampling.
    pub source_rate: u32,
    pub channels: usize,
}

/// Decodes, downmixes (channel mean), cuts `offset`/`duration`, resamples.
pub fn decode_file(path: &Path, params: &DecodeParams) -> Result<Decoded> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let (mono, rate, channels) = if ext == "au" || ext == "snd" {
        super::au::read_au(path)?
    } else if let Some(pcm) = read_wav_pcm(path, &ext) {
        pcm
    } else {
        decode_symphonia(path, &ext)?
    };
    if mono.is_empty() {
        bail!("no audio samples (empty or truncated file)");
    }
    if let Some(i) = first_non_finite(&mono) {
        bail!("sample {i} is not a finite number (NaN or infinity in the file)");
    }
    let start = ((params.offset * rate as f64).round() as usize).min(mono.len());
    let end = match params.duration {
        Some(d) => (start + (d * rate as f64).round() as usize).min(mono.len()),
        None => mono.len(),
    };
    if start >= end {
        bail!(
            "offset {} s is past the end of the {:.2} s clip",
            params.offset,
            mono.len() as f64 / rate as f64
        );
    }
    // Cut in place (no copy of the whole clip).
    let mut mono = mono;
    mono.truncate(end);
    mono.drain(..start);
    let samples = if rate == params.sample_rate {
        mono
    } else {
        super::resample::resample(&mono, rate, params.sample_rate)?
    };
    Ok(Decoded {
        samples,
        sample_rate: params.sample_rate,
        source_rate: rate,
        channels,
    })
}

/// Fast path for plain PCM WAV (the common case: GTZAN and most corpora):
/// hound parses the header, the samples are converted straight from one read
/// of the file. Anything unusual (compressed, 8-bit, truncated, corrupt)
/// returns None and goes through symphonia, which gives the precise error.
fn read_wav_pcm(path: &Path, ext: &str) -> Option<(Vec<f32>, u32, usize)> {
    use std::io::Seek;
    if ext != "wav" && ext != "wave" {
        return None;
    }
    let mut file = std::io::BufReader::new(std::fs::File::open(path).ok()?);
    // The reader borrows the file; once it is gone the file sits at the data.
    let (spec, frames) = {
        let reader = hound::WavReader::new(&mut file).ok()?;
        (reader.spec(), reader.duration() as usize)
    };
    let channels = spec.channels as usize;
    let width = (spec.bits_per_sample as usize).div_ceil(8);
    if channels == 0 || width * 8 != spec.bits_per_sample as usize {
        return None;
    }
    let data_start = file.stream_position().ok()?;
    let file_len = file.get_ref().metadata().ok()?.len();
    if data_start + (frames * channels * width) as u64 > file_len {
        return None; // truncated: symphonia decodes what is there
    }
    // The data chunk is memory-mapped and converted in parallel blocks
    // straight into the output: no copy of the raw bytes, both cores busy.
    // SAFETY: the map is read-only and dropped before returning; a file
    // truncated by another process meanwhile is the one hazard, as with any
    // reader of a file being rewritten.
    let map = unsafe { memmap2::Mmap::map(file.get_ref()) }.ok()?;
    let frame = width * channels;
    let data = &map[data_start as usize..data_start as usize + frames * frame];
    // One monomorphised loop per format (no per-sample dispatch).
    fn convert(
        data: &[u8],
        frames: usize,
        width: usize,
        channels: usize,
        f: impl Fn(&[u8]) -> f64 + Sync,
    ) -> Vec<f32> {
        use rayon::prelude::*;
        const BLOCK: usize = 1 << 16; // frames per task
        let frame = width * channels;
        let mut out = crate::buffer::zeroed(frames);
        out.par_chunks_mut(BLOCK)
            .zip(data.par_chunks(BLOCK * frame))
            .for_each(|(o, raw)| {
                if channels == 1 {
                    for (o, c) in o.iter_mut().zip(raw.chunks_exact(width)) {
                        *o = f(c) as f32;
                    }
                } else {
                    for (o, fr) in o.iter_mut().zip(raw.chunks_exact(frame)) {
                        *o = (fr.chunks_exact(width).map(&f).sum::<f64>() / channels as f64) as f32;
                    }
                }
            });
        out
    }
    let mono = match (spec.sample_format, width) {
        // i16 / 32768 is exact in f32 (a power-of-two scale of an integer
        // that f32 holds exactly), so this is librosa's value bit for bit.
        (hound::SampleFormat::Int, 2) if channels == 1 => {
            use rayon::prelude::*;
            let mut out = crate::buffer::zeroed(frames);
            out.par_chunks_mut(1 << 16)
                .zip(data.par_chunks(2 << 16))
                .for_each(|(o, raw)| {
                    for (o, c) in o.iter_mut().zip(raw.chunks_exact(2)) {
                        *o = i16::from_le_bytes([c[0], c[1]]) as f32 * (1.0 / 32768.0);
                    }
                });
            out
        }
        (hound::SampleFormat::Int, 2) => convert(data, frames, 2, channels, |c| {
            i16::from_le_bytes([c[0], c[1]]) as f64 / 32768.0
        }),
        (hound::SampleFormat::Int, 3) => convert(data, frames, 3, channels, |c| {
            (i32::from_le_bytes([0, c[0], c[1], c[2]]) >> 8) as f64 / 8388608.0
        }),
        (hound::SampleFormat::Int, 4) => convert(data, frames, 4, channels, |c| {
            i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64 / 2147483648.0
        }),
        (hound::SampleFormat::Float, 4) => convert(data, frames, 4, channels, |c| {
            f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64
        }),
        _ => return None,
    };
    Some((mono, spec.sample_rate, channels))
}

/// Index of the first NaN or infinity, scanning blocks in parallel.
fn first_non_finite(x: &[f32]) -> Option<usize> {
    use rayon::prelude::*;
    const BLOCK: usize = 1 << 16;
    // An exponent of all ones is NaN or infinity; OR-ing the test over a
    // block (no early exit) vectorises, so the clean case costs one pass.
    let bad = |v: &f32| v.to_bits() & 0x7f80_0000 == 0x7f80_0000;
    x.par_chunks(BLOCK)
        .enumerate()
        .find_first(|(_, c)| c.iter().fold(false, |any, v| any | bad(v)))
        .map(|(b, c)| b * BLOCK + c.iter().position(|v| !v.is_finite()).unwrap())
}

fn decode_symphonia(path: &Path, ext: &str) -> Result<(Vec<f32>, u32, usize)> {
    let file = std::fs::File::open(path).context("cannot open")?;
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if !ext.is_empty() {
        hint.with_extension(ext);
    }
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| anyhow!("unsupported or corrupt audio container ({e})"))?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| anyhow!("no audio track"))?;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| anyhow!("no audio codec parameters"))?
        .clone();
    let track_id = track.id;
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|e| anyhow!("unsupported codec ({e})"))?;

    let mut mono: Vec<f32> = Vec::new();
    let mut rate = params.sample_rate.unwrap_or(0);
    let mut channels = params.channels.as_ref().map(|c| c.count()).unwrap_or(0);
    let mut bad_packets = 0usize;
    loop {
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            // A truncated file ends mid-packet: keep what decoded.
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => bail!("corrupt audio stream after {} samples ({e})", mono.len()),
        };
        if packet.track_id != track_id {
            continue;
        }
        match decoder.decode(&packet) {
            Ok(buf) => {
                rate = buf.spec().rate();
                channels = buf.spec().channels().count();
                append_mono(&buf, &mut mono);
            }
            Err(SymError::DecodeError(_)) => bad_packets += 1,
            Err(e) => bail!("decoding failed after {} samples ({e})", mono.len()),
        }
    }
    if mono.is_empty() && bad_packets > 0 {
        bail!("every packet failed to decode ({bad_packets} packets): corrupt file");
    }
    if rate == 0 {
        bail!("the file does not state its sample rate");
    }
    Ok((mono, rate, channels))
}

/// Appends the channel mean of a decoded buffer, converting integer PCM with
/// libsndfile's scaling.
fn append_mono(buf: &GenericAudioBufferRef<'_>, out: &mut Vec<f32>) {
    fn mix<S: symphonia::core::audio::sample::Sample + Copy>(
        b: &AudioBuffer<S>,
        out: &mut Vec<f32>,
        conv: impl Fn(S) -> f64,
    ) {
        let planes = b.num_planes();
        let frames = b.frames();
        let start = out.len();
        out.resize(start + frames, 0.0);
        if planes == 1 {
            for (o, &s) in out[start..].iter_mut().zip(b.plane(0).unwrap()) {
                *o = conv(s) as f32;
            }
            return;
        }
        let mut acc = vec![0f64; frames];
        for p in 0..planes {
            for (a, &s) in acc.iter_mut().zip(b.plane(p).unwrap()) {
                *a += conv(s);
            }
        }
        for (o, a) in out[start..].iter_mut().zip(acc) {
            *o = (a / planes as f64) as f32;
        }
    }
    match buf {
        GenericAudioBufferRef::U8(b) => mix(b, out, |s| (s as f64 - 128.0) / 128.0),
        GenericAudioBufferRef::U16(b) => mix(b, out, |s| (s as f64 - 32768.0) / 32768.0),
        GenericAudioBufferRef::U24(b) => {
            mix(b, out, |s| (s.inner() as f64 - 8388608.0) / 8388608.0)
        }
        GenericAudioBufferRef::U32(b) => mix(b, out, |s| (s as f64 - 2147483648.0) / 2147483648.0),
        GenericAudioBufferRef::S8(b) => mix(b, out, |s| s as f64 / 128.0),
        GenericAudioBufferRef::S16(b) => mix(b, out, |s| s as f64 / 32768.0),
        GenericAudioBufferRef::S24(b) => mix(b, out, |s| s.inner() as f64 / 8388608.0),
        GenericAudioBufferRef::S32(b) => mix(b, out, |s| s as f64 / 2147483648.0),
        GenericAudioBufferRef::F32(b) => mix(b, out, |s| s as f64),
        GenericAudioBufferRef::F64(b) => mix(b, out, |s| s),
    }
}
