//! symphonia for WAV, FLAC, MP3, OGG Vorbis and AAC/M4A; Sun/NeXT `.au`
//! through [`super::au`]. Integer PCM is scaled as libsndfile (and so
//! librosa) does: int16 / 32768, int24 / 2^23, int32 / 2^31.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use symphonia::core::audio::{Audio, AudioBuffer, GenericAudioBufferRef};
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, SeekMode, SeekTo, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::units::Timestamp;

use crate::data::DecodeParams;

/// Mono samples at `sample_rate`.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub samples: Vec<f32>,
    pub sample_rate: u32,
    /// Sample rate of the file before resampling.
    pub source_rate: u32,
    pub channels: usize,
    /// Source frames decoded to produce `samples`: the excerpt that
    /// `offset` and `duration` ask for, plus at most a packet on either side;
    /// the frames before the offset of a lossy stream, which is decoded from
    /// its start; never the rest of the file.
    pub decoded_frames: usize,
}

/// The excerpt to decode, in source frames: `[start, end)`.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub start: usize,
    pub end: Option<usize>,
}

impl Window {
    /// `offset` and `duration` at `rate`, rounded as librosa (soundfile) does.
    pub fn at(params: &DecodeParams, rate: u32) -> Window {
        let start = (params.offset * rate as f64).round() as usize;
        Window {
            start,
            end: params
                .duration
                .map(|d| start.saturating_add((d * rate as f64).round() as usize)),
        }
    }

    /// The window clipped to a stream of `frames` frames.
    pub fn within(self, frames: usize) -> (usize, usize) {
        let end = self.end.unwrap_or(frames).min(frames);
        (self.start.min(end), end)
    }
}

/// What a reader returns: the excerpt as mono samples at the file's rate.
pub struct Excerpt {
    pub mono: Vec<f32>,
    pub rate: u32,
    pub channels: usize,
    /// Source frames decoded (see [`Decoded::decoded_frames`]).
    pub decoded: usize,
    /// The stream's length in frames, when known (its header says, or it
    /// was read to the end).
    pub total: Option<usize>,
}

/// Decodes, downmixes (channel mean), cuts `offset`/`duration`, resamples.
/// Only the excerpt is decoded: a PCM WAV is read from its offset to its
/// end, a FLAC or WAV stream seeks to the offset, and every stream stops
/// once the end of the excerpt is reached.
pub fn decode_file(path: &Path, params: &DecodeParams) -> Result<Decoded> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let x = if ext == "au" || ext == "snd" {
        super::au::read_au(path, params)?
    } else if let Some(x) = read_wav_pcm(path, &ext, params)? {
        x
    } else {
        decode_symphonia(path, &ext, params)?
    };
    if x.mono.is_empty() {
        match x.total.filter(|&t| t > 0) {
            Some(total) if Window::at(params, x.rate).start >= total => bail!(
                "offset {} s is past the end of the {:.2} s clip",
                params.offset,
                total as f64 / x.rate as f64
            ),
            Some(_) => bail!(
                "duration {} s is shorter than one sample at {} Hz",
                params.duration.unwrap_or(0.0),
                x.rate
            ),
            None => bail!("no audio samples (empty file)"),
        }
    }
    if let Some(i) = first_non_finite(&x.mono) {
        bail!("sample {i} is not a finite number (NaN or infinity in the file)");
    }
    let samples = if x.rate == params.sample_rate {
        x.mono
    } else {
        super::resample::resample(&x.mono, x.rate, params.sample_rate)?
    };
    Ok(Decoded {
        samples,
        sample_rate: params.sample_rate,
        source_rate: x.rate,
        channels: x.channels,
        decoded_frames: x.decoded,
    })
}

/// The layout of a RIFF/WAVE file: its fmt chunk and where its data chunk
/// starts and how long its header says it is. Parsed here rather than with
/// hound, which refuses a streamed file's unknown length (0xFFFFFFFF) and
/// a ragged data chunk before either can be reported as what it is.
struct WavLayout {
    /// 1: integer PCM, 3: IEEE float (WAVE_FORMAT_EXTENSIBLE resolved to
    /// its subformat); anything else goes to symphonia.
    format: u16,
    channels: u16,
    rate: u32,
    bits: u16,
    block_align: u64,
    data_start: u64,
    declared: u64,
}

/// None when the chunks cannot be walked to a data chunk after a fmt chunk
/// (a corrupt header, which the decoders report).
fn wav_layout(file: &mut std::fs::File) -> Option<WavLayout> {
    use std::io::{Read, Seek, SeekFrom};
    let mut head = [0u8; 12];
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_exact(&mut head).ok()?;
    if &head[..4] != b"RIFF" || &head[8..] != b"WAVE" {
        return None;
    }
    let mut pos = 12u64;
    let mut fmt: Option<[u8; 26]> = None;
    loop {
        let mut chunk = [0u8; 8];
        file.seek(SeekFrom::Start(pos)).ok()?;
        file.read_exact(&mut chunk).ok()?;
        let size = u32::from_le_bytes(chunk[4..].try_into().unwrap()) as u64;
        match &chunk[..4] {
            b"fmt " if size >= 16 => {
                let mut f = [0u8; 26];
                let n = (size as usize).min(26);
                file.read_exact(&mut f[..n]).ok()?;
                fmt = Some(f);
            }
            b"data" => {
                let f = fmt?;
                let word = |i: usize| u16::from_le_bytes([f[i], f[i + 1]]);
                // WAVE_FORMAT_EXTENSIBLE: the format is the subformat GUID's first word.
                let format = if word(0) == 0xFFFE { word(24) } else { word(0) };
                return Some(WavLayout {
                    format,
                    channels: word(2),
                    rate: u32::from_le_bytes(f[4..8].try_into().unwrap()),
                    bits: word(14),
                    block_align: word(12) as u64,
                    data_start: pos + 8,
                    declared: size,
                });
            }
            _ => {}
        }
        // Chunks are padded to an even length.
        pos += 8 + size + (size & 1);
    }
}

/// A WAV file shorter than its data chunk says, or whose data ends inside a
/// sample frame, is truncated: an error, whichever decoder would read it
/// (libsndfile would read what is there; a truncated clip is not the clip
/// the dataset meant).
fn check_wav_extent(file: &mut std::fs::File) -> Result<Option<WavLayout>> {
    let Some(mut w) = wav_layout(file) else {
        return Ok(None);
    };
    let available = file
        .metadata()
        .context("cannot read")?
        .len()
        .saturating_sub(w.data_start);
    // 0xFFFFFFFF is the placeholder of a writer that streamed the file
    // without knowing its length: the data then runs to the end of the file.
    if w.declared == 0xFFFF_FFFF {
        w.declared = available;
    }
    let seconds = |bytes: u64| bytes as f64 / w.block_align.max(1) as f64 / w.rate.max(1) as f64;
    if w.declared > available {
        bail!(
            "truncated file: the header declares {} bytes of audio ({:.2} s) but the file \
             holds {available} ({:.2} s)",
            w.declared,
            seconds(w.declared),
            seconds(available)
        );
    }
    if w.block_align > 0 && w.declared % w.block_align != 0 {
        bail!(
            "truncated file: the audio data ends with a partial sample frame ({} of {} bytes)",
            w.declared % w.block_align,
            w.block_align
        );
    }
    Ok(Some(w))
}

/// Fast path for plain PCM WAV (the common case: GTZAN and most corpora):
/// the header is parsed ([`wav_layout`]), and the excerpt's samples are converted straight
/// from a memory map of the file, so only the pages they lie on are read.
/// Anything unusual (compressed, 8-bit, corrupt header) returns None and goes
/// through symphonia, which gives the precise error. A data chunk that the
/// file is too short for is an error here, whatever the format: the file was
/// truncated (libsndfile would read what is there; a truncated clip is not
/// the clip the dataset meant).
fn read_wav_pcm(path: &Path, ext: &str, params: &DecodeParams) -> Result<Option<Excerpt>> {
    if ext != "wav" && ext != "wave" {
        return Ok(None);
    }
    let Ok(mut file) = std::fs::File::open(path) else {
        return Ok(None);
    };
    let Some(w) = check_wav_extent(&mut file)? else {
        return Ok(None);
    };
    let channels = w.channels as usize;
    let width = (w.bits as usize).div_ceil(8);
    let frame = w.block_align;
    if channels == 0 || width * 8 != w.bits as usize || (width * channels) as u64 != frame {
        return Ok(None);
    }
    let float = match w.format {
        1 => false,
        3 => true,
        _ => return Ok(None),
    };
    let (data_start, declared) = (w.data_start, w.declared);
    let frames = (declared / frame) as usize;
    let (start, end) = Window::at(params, w.rate).within(frames);
    let frame = frame as usize;
    // The data chunk is memory-mapped and converted in parallel blocks
    // straight into the output: no copy of the raw bytes, both cores busy.
    // SAFETY: the map is read-only and dropped before returning; a file
    // truncated by another process meanwhile is the one hazard, as with any
    // reader of a file being rewritten.
    let Ok(map) = (unsafe { memmap2::Mmap::map(&file) }) else {
        return Ok(None);
    };
    let first = data_start as usize + start * frame;
    let data = &map[first..first + (end - start) * frame];
    let n = end - start;
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
    let mono = match (float, width) {
        // i16 / 32768 is exact in f32 (a power-of-two scale of an integer
        // that f32 holds exactly), so this is librosa's value bit for bit.
        (false, 2) if channels == 1 => {
            use rayon::prelude::*;
            let mut out = crate::buffer::zeroed(n);
            out.par_chunks_mut(1 << 16)
                .zip(data.par_chunks(2 << 16))
                .for_each(|(o, raw)| {
                    for (o, c) in o.iter_mut().zip(raw.chunks_exact(2)) {
                        *o = i16::from_le_bytes([c[0], c[1]]) as f32 * (1.0 / 32768.0);
                    }
                });
            out
        }
        (false, 2) => convert(data, n, 2, channels, |c| {
            i16::from_le_bytes([c[0], c[1]]) as f64 / 32768.0
        }),
        (false, 3) => convert(data, n, 3, channels, |c| {
            (i32::from_le_bytes([0, c[0], c[1], c[2]]) >> 8) as f64 / 8388608.0
        }),
        (false, 4) => convert(data, n, 4, channels, |c| {
            i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64 / 2147483648.0
        }),
        (true, 4) => convert(data, n, 4, channels, |c| {
            f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64
        }),
        _ => return Ok(None),
    };
    Ok(Some(Excerpt {
        mono,
        rate: w.rate,
        channels,
        decoded: n,
        total: Some(frames),
    }))
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

/// Containers whose streams decode to the same samples whether read from
/// the start or from a seek point (PCM, FLAC): seeking to the offset skips
/// the frames before it. Lossy streams (MP3, AAC, Vorbis) are decoded from
/// the start instead, their frames before the offset dropped as they come:
/// a lossy decoder that starts mid-stream produces different samples for a
/// while, and librosa decodes them from the start too.
const SEEKABLE: &[&str] = &["wav", "wave", "flac", "aif", "aiff"];

fn decode_symphonia(path: &Path, ext: &str, params: &DecodeParams) -> Result<Excerpt> {
    let file = std::fs::File::open(path).context("cannot open")?;
    if file.metadata().context("cannot open")?.len() == 0 {
        bail!("corrupt audio container: the file is empty (0 bytes)");
    }
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
        .map_err(|e| match e {
            SymError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                anyhow!(
                    "unsupported or corrupt audio container: truncated file, it ends before its \
                     headers say ({io})"
                )
            }
            e => anyhow!("unsupported or corrupt audio container ({e})"),
        })?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| anyhow!("no audio track"))?;
    let params_c = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| anyhow!("no audio codec parameters"))?
        .clone();
    let track_id = track.id;
    let declared_frames = track.num_frames.map(|n| n as usize);
    // Timestamps count frames when the time base is 1 / sample rate.
    let frame_timebase = match (track.time_base, params_c.sample_rate) {
        (Some(tb), Some(r)) => tb.numer.get() == 1 && tb.denom.get() == r,
        _ => false,
    };
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params_c, &AudioDecoderOptions::default())
        .map_err(|e| anyhow!("unsupported codec ({e})"))?;

    let mut rate = params_c.sample_rate.unwrap_or(0);
    let mut channels = params_c.channels.as_ref().map(|c| c.count()).unwrap_or(0);
    let mut window = (rate > 0).then(|| Window::at(params, rate));
    // The frame position of the next decoded buffer.
    let mut pos = 0usize;
    if let Some(w) = window.filter(|w| w.start > 0 && frame_timebase && SEEKABLE.contains(&ext)) {
        let to = SeekTo::Timestamp {
            ts: Timestamp::new(w.start as i64),
            track_id,
        };
        // A failed seek (past the end, an unseekable stream) is not an
        // error: decoding from the start then finds out what is there.
        if let Ok(seeked) = format.seek(SeekMode::Accurate, to) {
            decoder.reset();
            pos = seeked.actual_ts.get().max(0) as usize;
        }
    }

    let mut mono: Vec<f32> = Vec::new();
    let mut decoded = 0usize;
    let mut bad_packets = 0usize;
    let mut reached_end = true;
    loop {
        if window.is_some_and(|w| w.end.is_some_and(|e| pos >= e)) {
            reached_end = false;
            break;
        }
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            // The stream ends inside a packet: the file was cut short.
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                bail!(
                    "truncated file: the stream ends inside a packet after {:.2} s",
                    pos as f64 / rate.max(1) as f64
                )
            }
            Err(e) => bail!("corrupt audio stream after {} samples ({e})", mono.len()),
        };
        if packet.track_id != track_id {
            continue;
        }
        match decoder.decode(&packet) {
            Ok(buf) => {
                rate = buf.spec().rate();
                channels = buf.spec().channels().count();
                let w = *window.get_or_insert_with(|| Window::at(params, rate));
                let frames = buf.frames();
                decoded += frames;
                // Keep the part of [pos, pos + frames) inside the window.
                let lo = w.start.saturating_sub(pos).min(frames);
                let hi = w.end.map_or(frames, |e| e.saturating_sub(pos).min(frames));
                if lo < hi {
                    let at = mono.len();
                    append_mono(&buf, &mut mono);
                    mono.truncate(at + hi);
                    mono.drain(at..at + lo);
                }
                pos += frames;
            }
            Err(SymError::DecodeError(_)) => bad_packets += 1,
            Err(e) => bail!("decoding failed after {} samples ({e})", mono.len()),
        }
    }
    if decoded == 0 && bad_packets > 0 {
        bail!("every packet failed to decode ({bad_packets} packets): corrupt file");
    }
    if rate == 0 {
        bail!("the file does not state its sample rate");
    }
    // A lossless stream read to its end must hold the frames its header
    // declares; fewer means the file was cut at a packet boundary.
    if let Some(n) = declared_frames.filter(|_| reached_end && SEEKABLE.contains(&ext)) {
        if pos < n {
            bail!(
                "truncated file: the header declares {n} frames ({:.2} s) but the stream ends \
                 after {pos} ({:.2} s)",
                n as f64 / rate as f64,
                pos as f64 / rate as f64
            );
        }
    }
    Ok(Excerpt {
        mono,
        rate,
        channels,
        decoded,
        total: if reached_end {
            Some(pos)
        } else {
            declared_frames
        },
    })
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
