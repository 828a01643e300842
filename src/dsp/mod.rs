//! Audio features with librosa 0.11's definitions, and the feature-set
//! schema that turns one decoded track into the vector a model consumes.

pub mod chroma;
pub mod frames;
pub mod inverse;
pub mod mel;
pub mod mfcc;
pub mod nnls;
pub(crate) mod simd;
pub mod spectral;
pub mod stft;

use serde::{Deserialize, Serialize};

use crate::spec::KeyError;

/// What a feature set produces per track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FeatureKind {
    /// Per-row statistics over frames, concatenated: one vector per track.
    Summary,
    /// The frame matrix cut or padded to `frames` columns.
    Sequence,
}

/// Features by their librosa names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FeatureName {
    Mfcc,
    /// Mel spectrogram; in dB (`power_to_db`) unless `log_mel = false`.
    Melspectrogram,
    ChromaStft,
    SpectralCentroid,
    SpectralBandwidth,
    SpectralRolloff,
    SpectralContrast,
    SpectralFlatness,
    ZeroCrossingRate,
    Rms,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stat {
    Mean,
    Std,
    Min,
    Max,
    Median,
}

/// Cutting each track into windows: every model then trains on windows
/// (summaries per window, or frame sequences per window), and a track's
/// representation pools its windows' latents.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Segment {
    /// Window length in seconds.
    pub seconds: f64,
    /// Seconds between window starts (default: the window length, no overlap).
    #[serde(default)]
    pub hop: Option<f64>,
}

impl Segment {
    /// (window, hop) in frames of `hop_length` samples at `sr`.
    pub fn frames(&self, sr: f64, hop_length: usize) -> (usize, usize) {
        let per_second = sr / hop_length as f64;
        let win = ((self.seconds * per_second).round() as usize).max(1);
        let hop = ((self.hop.unwrap_or(self.seconds) * per_second).round() as usize).max(1);
        (win, hop)
    }

    /// The frame ranges of a track of `frames` frames: full windows from the
    /// start, every `hop`; a track shorter than one window is one window.
    pub fn ranges(&self, frames: usize, sr: f64, hop_length: usize) -> Vec<(usize, usize)> {
        let (win, hop) = self.frames(sr, hop_length);
        if frames <= win {
            return vec![(0, frames)];
        }
        (0..=(frames - win) / hop)
            .map(|w| (w * hop, w * hop + win))
            .collect()
    }
}

/// How a track's window latents become its representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Pool {
    /// The mean of the window latents.
    Mean,
    /// Their population standard deviation.
    Std,
    /// Their maximum.
    Max,
}

/// The shape a feature set hands to representations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureShape {
    Summary {
        dim: usize,
    },
    /// `rows` features × `frames` frames, stored row-major per track.
    Sequence {
        rows: usize,
        frames: usize,
    },
}

impl FeatureShape {
    /// Values per track.
    pub fn dim(self) -> usize {
        match self {
            FeatureShape::Summary { dim } => dim,
            FeatureShape::Sequence { rows, frames } => rows * frames,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FeatureSetSpec {
    /// summary: per-row statistics over frames; sequence: the frame matrix cut or padded to `frames`.
    #[serde(default = "d_kind")]
    pub kind: FeatureKind,
    /// librosa features, stacked in this order.
    #[serde(default = "d_features")]
    pub features: Vec<FeatureName>,
    /// MFCC coefficients.
    #[serde(default = "d_n_mfcc")]
    pub n_mfcc: usize,
    /// Append MFCC deltas up to this order (0, 1 or 2), as librosa.feature.delta(width=9).
    #[serde(default)]
    pub deltas: usize,
    /// FFT size (periodic Hann window, centred, zero padding).
    #[serde(default = "d_n_fft")]
    pub n_fft: usize,
    /// Samples between frames.
    #[serde(default = "d_hop")]
    pub hop_length: usize,
    /// Slaney mel bands.
    #[serde(default = "d_n_mels")]
    pub n_mels: usize,
    /// Lowest frequency of the mel filterbank (Hz).
    #[serde(default)]
    pub fmin: f64,
    /// Default: half the sample rate.
    #[serde(default)]
    pub fmax: Option<f64>,
    /// power_to_db dynamic range: dB below the peak that are kept.
    #[serde(default = "d_top_db")]
    pub top_db: Option<f64>,
    /// Cepstral lifter (0 = none), as librosa's `lifter`.
    #[serde(default)]
    pub lifter: f64,
    /// `melspectrogram` rows in dB (power_to_db) rather than power.
    #[serde(default = "d_true")]
    pub log_mel: bool,
    /// Chroma bins.
    #[serde(default = "d_n_chroma")]
    pub n_chroma: usize,
    /// Chroma tuning in fractions of a bin; absent = estimated per track, as librosa.
    #[serde(default)]
    pub tuning: Option<f64>,
    /// Spectral rolloff threshold, in (0, 1).
    #[serde(default = "d_roll")]
    pub roll_percent: f64,
    /// Spectral contrast: lower edge of the first octave band (Hz).
    #[serde(default = "d_contrast_fmin")]
    pub contrast_fmin: f64,
    /// Spectral contrast: octave bands.
    #[serde(default = "d_n_bands")]
    pub n_bands: usize,
    /// Spectral contrast: quantile that defines peaks and valleys, in (0, 1).
    #[serde(default = "d_quantile")]
    pub quantile: f64,
    /// Frame length of zero_crossing_rate and rms (default: n_fft).
    #[serde(default)]
    pub frame_length: Option<usize>,
    /// Summary statistics over frames (std is the population std).
    #[serde(default = "d_stats")]
    pub stats: Vec<Stat>,
    /// Frames kept by `kind = "sequence"` (cut, or padded with each row's minimum).
    #[serde(default = "d_frames")]
    pub frames: usize,
    /// Scale to zero mean, unit variance over the dataset: every column of a
    /// summary, every feature row of a sequence. Lyrics columns are left as
    /// their method makes them (unit-length rows).
    #[serde(default = "d_true")]
    pub standardize: bool,
    /// Lyrics columns appended after the audio ones (see [`crate::text`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lyrics: Option<crate::text::LyricsSpec>,
    /// Cut each track into windows, e.g. `{ seconds = 3.0, hop = 1.5 }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<Segment>,
    /// With `segment`: how window latents pool into a track's (default
    /// mean and std).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<Vec<Pool>>,
}

fn d_kind() -> FeatureKind {
    FeatureKind::Summary
}
fn d_features() -> Vec<FeatureName> {
    vec![FeatureName::Mfcc]
}
fn d_n_mfcc() -> usize {
    20
}
fn d_n_fft() -> usize {
    2048
}
fn d_hop() -> usize {
    512
}
fn d_n_mels() -> usize {
    128
}
fn d_top_db() -> Option<f64> {
    Some(80.0)
}
fn d_n_chroma() -> usize {
    12
}
fn d_roll() -> f64 {
    0.85
}
fn d_contrast_fmin() -> f64 {
    200.0
}
fn d_n_bands() -> usize {
    6
}
fn d_quantile() -> f64 {
    0.02
}
fn d_stats() -> Vec<Stat> {
    vec![Stat::Mean, Stat::Std]
}
fn d_frames() -> usize {
    256
}
fn d_true() -> bool {
    true
}

impl FeatureSetSpec {
    pub fn parse(table: &toml::Table, path: &[String]) -> Result<Self, KeyError> {
        let spec: FeatureSetSpec = crate::spec::typed_table(table, path)?;
        let bad = |k: &str, m: &str| {
            Err(KeyError::new(
                &crate::spec::error::join_path(path, &[k.into()]),
                m,
            ))
        };
        if spec.features.is_empty() && spec.lyrics.is_none() {
            return bad(
                "features",
                "list at least one feature, e.g. [\"mfcc\"] (or set `lyrics` for lyrics alone)",
            );
        }
        if let Some(crate::text::LyricsSpec::Tfidf(t)) = &spec.lyrics {
            for (k, v) in [("min_df", t.min_df), ("max_df", t.max_df)] {
                if let Err(m) = v.check() {
                    return Err(KeyError::new(
                        &crate::spec::error::join_path(path, &["lyrics".into(), k.into()]),
                        m,
                    ));
                }
            }
            if let Some(l) = t
                .stop_words
                .iter()
                .find(|l| crate::text::stopwords::list(l).is_none())
            {
                return Err(KeyError::new(
                    &crate::spec::error::join_path(path, &["lyrics".into(), "stop_words".into()]),
                    format!(
                        "no built-in stop-word list `{l}`; available: {}",
                        crate::text::stopwords::LANGUAGES.join(", ")
                    ),
                ));
            }
            if t.max_features == Some(0) {
                return Err(KeyError::new(
                    &crate::spec::error::join_path(path, &["lyrics".into(), "max_features".into()]),
                    "must be at least 1",
                ));
            }
        }
        // A repeated feature or statistic would repeat its columns, giving
        // them double weight in every distance.
        if let Some(i) = crate::spec::first_repeat(&spec.features) {
            return bad(
                "features",
                &format!(
                    "`{}` is listed twice",
                    serde_json::to_value(spec.features[i])
                        .unwrap()
                        .as_str()
                        .unwrap_or("?")
                ),
            );
        }
        if let Some(i) = crate::spec::first_repeat(&spec.stats) {
            return bad(
                "stats",
                &format!(
                    "`{}` is listed twice",
                    serde_json::to_value(spec.stats[i])
                        .unwrap()
                        .as_str()
                        .unwrap_or("?")
                ),
            );
        }
        if let Some(crate::text::LyricsSpec::Embedding(e)) = &spec.lyrics {
            for (k, v) in [("max_length", e.max_length), ("batch_size", e.batch_size)] {
                if v == 0 {
                    return Err(KeyError::new(
                        &crate::spec::error::join_path(path, &["lyrics".into(), k.into()]),
                        "must be at least 1",
                    ));
                }
            }
            let key: Vec<&str> = path
                .iter()
                .map(String::as_str)
                .chain(["lyrics", "model"])
                .collect();
            crate::spec::check_path(&key, Some(e.model.as_path()))?;
        }
        if spec.stats.is_empty() {
            return bad(
                "stats",
                "list at least one statistic, e.g. [\"mean\", \"std\"]",
            );
        }
        if spec.n_fft < 16 || spec.n_fft % 2 != 0 {
            return bad("n_fft", "must be an even number of at least 16");
        }
        if spec.hop_length == 0 {
            return bad("hop_length", "must be positive");
        }
        if spec.n_mels == 0 {
            return bad("n_mels", "must be positive");
        }
        if spec.n_mfcc == 0 || spec.n_mfcc > spec.n_mels {
            return bad("n_mfcc", "must be between 1 and n_mels");
        }
        if spec.deltas > 2 {
            return bad("deltas", "must be 0, 1 or 2");
        }
        if spec.n_fft > MAX_N_FFT {
            return bad(
                "n_fft",
                &format!("must be at most {MAX_N_FFT} (about 3 s of audio at 22050 Hz)"),
            );
        }
        if spec.n_mels > spec.n_fft / 2 + 1 {
            return bad(
                "n_mels",
                &format!(
                    "must be at most n_fft / 2 + 1 = {} (one band per FFT bin at most)",
                    spec.n_fft / 2 + 1
                ),
            );
        }
        if spec.fmin < 0.0 {
            return bad("fmin", "must be zero or positive (Hz)");
        }
        if spec.fmax.is_some_and(|f| f <= spec.fmin) {
            return bad("fmax", "need 0 <= fmin < fmax");
        }
        // librosa: power_to_db raises on a negative top_db; 0 would flatten
        // every spectrogram to its peak, giving constant features.
        if spec.top_db.is_some_and(|t| t <= 0.0) {
            return bad(
                "top_db",
                "must be positive (dB below the peak that are kept)",
            );
        }
        if spec.lifter < 0.0 {
            return bad(
                "lifter",
                "must be zero (none) or positive, as librosa requires",
            );
        }
        if spec.contrast_fmin <= 0.0 {
            return bad("contrast_fmin", "must be a positive frequency (Hz)");
        }
        if spec.n_chroma > MAX_N_CHROMA {
            return bad(
                "n_chroma",
                &format!("must be at most {MAX_N_CHROMA} (10-cent bins)"),
            );
        }
        if !(spec.roll_percent > 0.0 && spec.roll_percent < 1.0) {
            return bad("roll_percent", "must be between 0 and 1");
        }
        if !(spec.quantile > 0.0 && spec.quantile < 1.0) {
            return bad("quantile", "must be between 0 and 1");
        }
        for (key, n) in [
            ("n_chroma", spec.n_chroma),
            ("n_bands", spec.n_bands),
            ("frames", spec.frames),
        ] {
            if n == 0 {
                return bad(key, "must be positive");
            }
        }
        if spec.n_bands > 32 {
            // Octaves: 2^32 times contrast_fmin is past any Nyquist frequency.
            return bad("n_bands", "must be at most 32 (octave bands)");
        }
        if spec.frame_length == Some(0) {
            return bad("frame_length", "must be positive");
        }
        if spec.frame_length.is_some_and(|f| f > MAX_N_FFT) {
            return bad("frame_length", &format!("must be at most {MAX_N_FFT}"));
        }
        if spec
            .audio_shape()
            .is_some_and(|s| s.dim() > MAX_VALUES_PER_TRACK)
        {
            return bad(
                if spec.kind == FeatureKind::Sequence {
                    "frames"
                } else {
                    "features"
                },
                &format!(
                    "this feature set gives {} values per track; at most {MAX_VALUES_PER_TRACK} \
                     are allowed (fewer frames or feature rows)",
                    spec.shape().dim()
                ),
            );
        }
        if let Some(seg) = &spec.segment {
            let at = |k: &str| crate::spec::error::join_path(path, &["segment".into(), k.into()]);
            if !(seg.seconds.is_finite() && seg.seconds > 0.0) {
                return Err(KeyError::new(
                    &at("seconds"),
                    "must be a positive number of seconds",
                ));
            }
            if seg.hop.is_some_and(|h| !(h.is_finite() && h > 0.0)) {
                return Err(KeyError::new(
                    &at("hop"),
                    "must be a positive number of seconds",
                ));
            }
            if spec.features.is_empty() {
                return bad("segment", "windows cut audio: list audio features too");
            }
        }
        match (&spec.pool, &spec.segment) {
            (Some(_), None) => {
                return bad(
                    "pool",
                    "pools window latents: set `segment = { seconds = ..., hop = ... }` too",
                )
            }
            (Some(p), _) if p.is_empty() => {
                return bad("pool", "list at least one of \"mean\", \"std\", \"max\"")
            }
            _ => {}
        }
        Ok(spec)
    }

    /// Checks the parameters that depend on the sample rate the audio is
    /// decoded at: frequencies below the Nyquist frequency, every mel band
    /// holding at least one FFT bin, spectral contrast's octaves fitting
    /// below Nyquist, each with a bin (librosa raises or warns on each).
    /// Only the features the set computes are checked.
    pub fn check_sample_rate(&self, sample_rate: u32, path: &[String]) -> Result<(), KeyError> {
        let at = |k: &str| crate::spec::error::join_path(path, &[k.into()]);
        let nyquist = sample_rate as f64 / 2.0;
        let why =
            format!("the Nyquist frequency is {nyquist} Hz at a sample rate of {sample_rate} Hz");
        let wants = |f: FeatureName| self.features.contains(&f);
        if wants(FeatureName::Mfcc) || wants(FeatureName::Melspectrogram) {
            if self.fmin >= nyquist {
                return Err(KeyError::new(
                    &at("fmin"),
                    format!(
                        "fmin = {} Hz must be below the Nyquist frequency; {why}",
                        self.fmin
                    ),
                ));
            }
            if let Some(fmax) = self.fmax.filter(|&f| f > nyquist) {
                return Err(KeyError::new(
                    &at("fmax"),
                    format!("fmax = {fmax} Hz is above the Nyquist frequency; {why}"),
                ));
            }
            let fmax = self.fmax.unwrap_or(nyquist);
            let empty =
                mel::empty_bands(sample_rate as f64, self.n_fft, self.n_mels, self.fmin, fmax);
            if !empty.is_empty() {
                let shown: Vec<String> = empty.iter().take(5).map(|b| b.to_string()).collect();
                return Err(KeyError::new(
                    &at("n_mels"),
                    format!(
                        "{} of the {} mel bands between {} and {fmax} Hz hold no FFT bin \
                         (bands {}{}) and would be constant; use fewer mel bands, a larger \
                         n_fft ({} Hz per bin now) or a wider fmin..fmax",
                        empty.len(),
                        self.n_mels,
                        self.fmin,
                        shown.join(", "),
                        if empty.len() > 5 { ", …" } else { "" },
                        sample_rate as f64 / self.n_fft as f64
                    ),
                ));
            }
        }
        if wants(FeatureName::SpectralContrast) {
            spectral::check_contrast(
                sample_rate as f64,
                self.n_fft,
                self.contrast_fmin,
                self.n_bands,
            )
            .map_err(|m| KeyError::new(&at("n_bands"), m))?;
        }
        Ok(())
    }

    /// Rows that feature `f` contributes to the feature matrix.
    pub fn rows_of(&self, f: FeatureName) -> usize {
        match f {
            FeatureName::Mfcc => self.n_mfcc * (1 + self.deltas),
            FeatureName::Melspectrogram => self.n_mels,
            FeatureName::ChromaStft => self.n_chroma,
            FeatureName::SpectralContrast => self.n_bands + 1,
            _ => 1,
        }
    }

    pub fn rows(&self) -> usize {
        self.features.iter().map(|&f| self.rows_of(f)).sum()
    }

    /// The audio block's shape; None when the set has lyrics only.
    pub fn audio_shape(&self) -> Option<FeatureShape> {
        (!self.features.is_empty()).then(|| self.shape())
    }

    pub fn shape(&self) -> FeatureShape {
        match self.kind {
            FeatureKind::Summary => FeatureShape::Summary {
                dim: self.rows() * self.stats.len(),
            },
            FeatureKind::Sequence => FeatureShape::Sequence {
                rows: self.rows(),
                frames: self.frames,
            },
        }
    }

    /// How window latents pool into a track's, when the set has windows.
    pub fn pooling(&self) -> Option<Vec<Pool>> {
        self.segment
            .map(|_| self.pool.clone().unwrap_or(vec![Pool::Mean, Pool::Std]))
    }

    /// Names of the feature rows, e.g. `mfcc3`, `mfcc3_delta`, `chroma_stft11`.
    pub fn row_names(&self) -> Vec<String> {
        let mut rows = Vec::new();
        for &f in &self.features {
            let name = serde_json::to_value(f)
                .unwrap()
                .as_str()
                .unwrap()
                .to_string();
            match f {
                FeatureName::Mfcc => {
                    for suffix in ["", "_delta", "_delta2"].iter().take(1 + self.deltas) {
                        rows.extend((0..self.n_mfcc).map(|k| format!("mfcc{k}{suffix}")));
                    }
                }
                _ if self.rows_of(f) == 1 => rows.push(name),
                _ => rows.extend((0..self.rows_of(f)).map(|k| format!("{name}{k}"))),
            }
        }
        rows
    }
}

/// The largest FFT (and zero-crossing / RMS frame): 65536 samples is about
/// 3 s at 22050 Hz, far beyond any music feature; larger sizes only exhaust memory.
pub const MAX_N_FFT: usize = 65_536;
/// Chroma bins: 120 is 10 cents per bin, finer than any tuning estimate.
pub const MAX_N_CHROMA: usize = 120;
/// Values per track (64 MB as f32): beyond it one track's vector, times the
/// dataset, exhausts memory before any model sees it.
pub const MAX_VALUES_PER_TRACK: usize = 1 << 24;

/// Frames per range of the streaming extractor: 64 frames of a 2048-point
/// power spectrum are 256 KB, so a range's spectrum stays in the core's L2
/// cache while every feature reads it; even, so frame pairs never straddle.
pub const RANGE: usize = 64;

/// Computes a feature set for tracks at one sample rate; build once, reuse
/// for every track (filterbanks and FFT plans are precomputed).
pub struct Extractor {
    spec: FeatureSetSpec,
    sr: f64,
    stft: stft::Stft,
    mel: mel::MelBank,
    dct: Vec<Vec<f64>>,
    freqs: Vec<f64>,
}

/// One feature's frame matrix (rows × frames, row-major).
pub struct Matrix {
    pub data: Vec<f32>,
    pub rows: usize,
    pub frames: usize,
}

impl Extractor {
    pub fn new(spec: &FeatureSetSpec, sample_rate: u32) -> Self {
        let sr = sample_rate as f64;
        Extractor {
            spec: spec.clone(),
            sr,
            stft: stft::Stft::new(spec.n_fft, spec.hop_length),
            mel: mel::MelBank::new(
                sr,
                spec.n_fft,
                spec.n_mels,
                spec.fmin,
                spec.fmax.unwrap_or(sr / 2.0),
            ),
            dct: mfcc::dct2_ortho(spec.n_mels, spec.n_mfcc),
            freqs: spectral::fft_frequencies(sr, spec.n_fft),
        }
    }

    /// Every requested feature as its own matrix, in order. `log_mel`
    /// applies to `melspectrogram`; the chroma tuning is estimated when not set.
    ///
    /// The spectrogram is never held whole: frames are processed in ranges
    /// of [`RANGE`] (in parallel), each range's power spectrum feeding the
    /// per-frame parts of every feature; only what needs the whole clip
    /// (power_to_db's top_db floor, the DCT and deltas, contrast's dB, the
    /// tuning estimate) runs on the joined results.
    pub fn features(&self, y: &[f32]) -> Result<Vec<(FeatureName, Matrix)>, String> {
        use rayon::prelude::*;
        let frames = self.stft.n_frames(y.len());
        let bins = self.stft.n_bins();
        let spec = &self.spec;
        let wants = |f: FeatureName| spec.features.contains(&f);
        let needs_mel = wants(FeatureName::Mfcc) || wants(FeatureName::Melspectrogram);
        let needs_magnitude = spec.features.iter().any(|f| {
            matches!(
                f,
                FeatureName::SpectralCentroid
                    | FeatureName::SpectralBandwidth
                    | FeatureName::SpectralRolloff
                    | FeatureName::SpectralFlatness
                    | FeatureName::SpectralContrast
            )
        });
        let ranges: Vec<(usize, usize)> = (0..frames)
            .step_by(RANGE)
            .map(|t| (t, (t + RANGE).min(frames)))
            .collect();
        // FFT buffers and the range's spectrum, reused by each worker.
        let scratch = || (self.stft.scratch(), Vec::<f32>::new());

        // Chroma with estimated tuning needs every frame's peaks first.
        let tuning = if wants(FeatureName::ChromaStft) {
            Some(spec.tuning.unwrap_or_else(|| {
                let parts: Vec<(Vec<f32>, Vec<f32>)> = ranges
                    .par_iter()
                    .map_init(scratch, |(sc, power), &(t0, t1)| {
                        self.stft.power_frames(y, t0, t1, sc, power);
                        chroma::peaks(power, bins, t1 - t0, self.sr, spec.n_fft)
                    })
                    .collect();
                let (p, m): (Vec<Vec<f32>>, Vec<Vec<f32>>) = parts.into_iter().unzip();
                chroma::tuning_from_peaks(&p.concat(), &m.concat())
            }))
        } else {
            None
        };
        let chroma_fb = tuning.map(|t| chroma::filterbank(self.sr, spec.n_fft, spec.n_chroma, t));

        /// Per-range partial results, each rows × range frames.
        #[derive(Default)]
        struct Part {
            mel: Vec<f32>,
            chroma: Vec<f32>,
            centroid: Vec<f64>,
            bandwidth: Vec<f64>,
            rolloff: Vec<f64>,
            flatness: Vec<f64>,
            peak: Vec<f64>,
            valley: Vec<f64>,
        }
        let needs_spectrum = needs_mel || needs_magnitude || chroma_fb.is_some();
        let parts: Vec<Result<Part, String>> = if needs_spectrum {
            ranges
                .par_iter()
                .map_init(scratch, |(sc, power), &(t0, t1)| {
                    let w = t1 - t0;
                    self.stft.power_frames(y, t0, t1, sc, power);
                    let mut p = Part::default();
                    if needs_mel {
                        p.mel = self.mel.apply(power, w);
                    }
                    if let Some(fb) = &chroma_fb {
                        p.chroma = chroma::chroma(power, bins, w, fb);
                    }
                    if needs_magnitude {
                        // librosa's spectral features take |STFT|, not its square.
                        let mag: Vec<f32> = power.iter().map(|v| v.sqrt()).collect();
                        if wants(FeatureName::SpectralCentroid) {
                            p.centroid = spectral::centroid(&mag, &self.freqs, w);
                        }
                        if wants(FeatureName::SpectralBandwidth) {
                            p.bandwidth = spectral::bandwidth(&mag, &self.freqs, w);
                        }
                        if wants(FeatureName::SpectralRolloff) {
                            p.rolloff = spectral::rolloff(&mag, &self.freqs, w, spec.roll_percent);
                        }
                        if wants(FeatureName::SpectralFlatness) {
                            p.flatness = spectral::flatness(&mag, bins, w);
                        }
                        if wants(FeatureName::SpectralContrast) {
                            (p.peak, p.valley) = spectral::contrast_bands(
                                &mag,
                                &self.freqs,
                                w,
                                self.sr,
                                spec.contrast_fmin,
                                spec.n_bands,
                                spec.quantile,
                            )?;
                        }
                    }
                    Ok(p)
                })
                .collect()
        } else {
            Vec::new()
        };
        let parts: Vec<Part> = parts.into_iter().collect::<Result<_, _>>()?;
        // Joins per-range rows × w matrices into rows × frames.
        fn join<T: Copy + Default>(
            parts: &[&[T]],
            ranges: &[(usize, usize)],
            rows: usize,
            frames: usize,
        ) -> Vec<T> {
            let mut out = crate::buffer::zeroed(rows * frames);
            for (part, &(t0, t1)) in parts.iter().zip(ranges) {
                let w = t1 - t0;
                for r in 0..rows {
                    out[r * frames + t0..r * frames + t1]
                        .copy_from_slice(&part[r * w..(r + 1) * w]);
                }
            }
            out
        }
        macro_rules! joined {
            ($field:ident, $rows:expr) => {
                join(
                    &parts
                        .iter()
                        .map(|p| p.$field.as_slice())
                        .collect::<Vec<_>>(),
                    &ranges,
                    $rows,
                    frames,
                )
            };
        }
        let mel_power: Vec<f32> = if needs_mel {
            joined!(mel, spec.n_mels)
        } else {
            Vec::new()
        };
        let row = |v: Vec<f64>| Matrix {
            rows: 1,
            frames: v.len(),
            data: v.into_iter().map(|x| x as f32).collect(),
        };
        let frame_length = spec.frame_length.unwrap_or(spec.n_fft);
        let mut out = Vec::new();
        for &f in &spec.features {
            let m = match f {
                FeatureName::Mfcc => {
                    let db = mfcc::power_to_db(&mel_power, 1e-10, spec.top_db);
                    let m = mfcc::mfcc_from_db(&db, spec.n_mels, frames, &self.dct, spec.lifter);
                    let n = spec.n_mfcc;
                    let mut data = m.clone();
                    for order in 1..=spec.deltas {
                        data.extend(frames::delta(&m, n, frames, order)?);
                    }
                    Matrix {
                        rows: n * (1 + spec.deltas),
                        frames,
                        data,
                    }
                }
                FeatureName::Melspectrogram => Matrix {
                    rows: spec.n_mels,
                    frames,
                    data: if spec.log_mel {
                        mfcc::power_to_db(&mel_power, 1e-10, spec.top_db)
                    } else {
                        mel_power.clone()
                    },
                },
                FeatureName::ChromaStft => Matrix {
                    rows: spec.n_chroma,
                    frames,
                    data: joined!(chroma, spec.n_chroma),
                },
                FeatureName::SpectralCentroid => row(joined!(centroid, 1)),
                FeatureName::SpectralBandwidth => row(joined!(bandwidth, 1)),
                FeatureName::SpectralRolloff => row(joined!(rolloff, 1)),
                FeatureName::SpectralFlatness => row(joined!(flatness, 1)),
                FeatureName::SpectralContrast => {
                    let rows = spec.n_bands + 1;
                    Matrix {
                        rows,
                        frames,
                        data: spectral::contrast_db(&joined!(peak, rows), &joined!(valley, rows)),
                    }
                }
                FeatureName::ZeroCrossingRate => {
                    row(frames::zero_crossing_rate(y, frame_length, spec.hop_length))
                }
                FeatureName::Rms => row(frames::rms(y, frame_length, spec.hop_length)),
            };
            out.push((f, m));
        }
        Ok(out)
    }

    /// All requested features stacked (rows × frames, row-major).
    pub fn matrix(&self, y: &[f32]) -> Result<Matrix, String> {
        let parts = self.features(y)?;
        let frames = parts[0].1.frames;
        let mut data = Vec::new();
        let mut rows = 0;
        for (_, m) in parts {
            debug_assert_eq!(m.frames, frames);
            rows += m.rows;
            data.extend(m.data);
        }
        Ok(Matrix { data, rows, frames })
    }

    /// The per-track vector: summary statistics, or the fixed-length sequence.
    pub fn vector(&self, y: &[f32]) -> Result<Vec<f32>, String> {
        Ok(self.summarize(&self.matrix(y)?))
    }

    /// The per-window vectors of a segmented feature set (one per window,
    /// see [`Segment::ranges`]); one vector for a set without windows.
    /// Features are computed on the whole track, then its frames are cut
    /// into windows: what needs the whole clip (power_to_db's top_db floor,
    /// the chroma tuning estimate, deltas) sees the track, as in librosa
    /// on the track followed by slicing its frames.
    pub fn windows(&self, y: &[f32]) -> Result<Vec<Vec<f32>>, String> {
        let m = self.matrix(y)?;
        let Some(seg) = &self.spec.segment else {
            return Ok(vec![self.summarize(&m)]);
        };
        Ok(seg
            .ranges(m.frames, self.sr, self.spec.hop_length)
            .into_iter()
            .map(|(t0, t1)| {
                let w = t1 - t0;
                let mut data = Vec::with_capacity(m.rows * w);
                for r in 0..m.rows {
                    data.extend_from_slice(&m.data[r * m.frames + t0..r * m.frames + t1]);
                }
                self.summarize(&Matrix {
                    data,
                    rows: m.rows,
                    frames: w,
                })
            })
            .collect())
    }

    /// A frame matrix as the set's vector: summary statistics per row, or
    /// the fixed-length sequence.
    fn summarize(&self, m: &Matrix) -> Vec<f32> {
        match self.spec.kind {
            FeatureKind::Summary => {
                let mut out = Vec::with_capacity(m.rows * self.spec.stats.len());
                for stat in &self.spec.stats {
                    for r in 0..m.rows {
                        out.push(row_stat(&m.data[r * m.frames..(r + 1) * m.frames], *stat) as f32);
                    }
                }
                out
            }
            FeatureKind::Sequence => {
                let keep = self.spec.frames;
                let mut out = Vec::with_capacity(m.rows * keep);
                for r in 0..m.rows {
                    let row = &m.data[r * m.frames..(r + 1) * m.frames];
                    let fill = row.iter().copied().fold(f32::INFINITY, f32::min);
                    out.extend(row.iter().copied().take(keep));
                    out.extend(std::iter::repeat_n(fill, keep.saturating_sub(row.len())));
                }
                out
            }
        }
    }
}

/// Statistics over frames in f64; `std` is the population std (ddof = 0), as numpy.
pub fn row_stat(row: &[f32], stat: Stat) -> f64 {
    let n = row.len() as f64;
    match stat {
        Stat::Mean => row.iter().map(|&v| v as f64).sum::<f64>() / n,
        Stat::Std => {
            let mean = row.iter().map(|&v| v as f64).sum::<f64>() / n;
            (row.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n).sqrt()
        }
        Stat::Min => row.iter().copied().fold(f32::INFINITY, f32::min) as f64,
        Stat::Max => row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64,
        // numpy.median: the mean of the two middle values for an even count.
        Stat::Median => {
            let mut v: Vec<f64> = row.iter().map(|&x| x as f64).collect();
            v.sort_by(f64::total_cmp);
            let m = v.len() / 2;
            if v.len() % 2 == 1 {
                v[m]
            } else {
                (v[m - 1] + v[m]) / 2.0
            }
        }
    }
}
