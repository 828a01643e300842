//! The built-in synthetic music corpus.
//!
//! Each class is a musical archetype that differs from the others the way
//! genres do — tempo range, scale, register, instrument timbre (harmonic
//! spectrum, attack and decay), note density, percussion pattern and noise
//! floor — and every clip draws its own tempo, key, melody, gains and timbre
//! jitter. With probability `overlap` each attribute group of a clip is
//! borrowed from another class, so classes overlap and clustering them is a
//! real task rather than a formality. Clips are seeded individually from
//! (seed, class, index): a clip never changes when the corpus grows.

use std::f64::consts::TAU;
use std::path::Path;

use anyhow::{Context, Result};
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::spec::KeyError;

/// Part of the corpus cache key: bump it whenever a change here alters the
/// generated audio, or cached corpora would silently stay the old ones.
pub const GENERATOR_VERSION: u32 = 4;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyntheticSpec {
    pub kind: String,
    /// Number of classes (2 to 10).
    #[serde(default = "d_classes")]
    pub classes: usize,
    /// Clips per class.
    #[serde(default = "d_clips")]
    pub clips_per_class: usize,
    /// Seconds per clip.
    #[serde(default = "d_duration")]
    pub duration: f64,
    /// Sample rate of the clips (Hz).
    #[serde(default = "d_sr")]
    pub sample_rate: u32,
    /// The corpus seed (each clip is seeded from seed, class and index).
    #[serde(default = "d_seed")]
    pub seed: u64,
    /// Fraction of clips that borrow one attribute group (rhythm, timbre,
    /// drums or pitch) from another class.
    #[serde(default = "d_overlap")]
    pub overlap: f64,
    /// Write a lyric line beside clips: in English, in Bangla, or mixing
    /// both, drawn from class vocabularies and a shared one.
    #[serde(default = "d_true")]
    pub lyrics: bool,
    /// Fraction of clips that have lyrics; the others are instrumentals.
    #[serde(default = "d_coverage")]
    pub lyrics_coverage: f64,
}

fn d_coverage() -> f64 {
    0.85
}

fn d_classes() -> usize {
    6
}
fn d_clips() -> usize {
    40
}
fn d_duration() -> f64 {
    4.0
}
fn d_sr() -> u32 {
    22050
}
fn d_seed() -> u64 {
    7
}
fn d_overlap() -> f64 {
    0.2
}
fn d_true() -> bool {
    true
}

impl SyntheticSpec {
    pub fn checked(self, path: &[String]) -> Result<Self, KeyError> {
        let at = |k: &str| crate::spec::error::join_path(path, &[k.into()]);
        if !(2..=STYLES.len()).contains(&self.classes) {
            return Err(KeyError::new(
                &at("classes"),
                format!("must be between 2 and {}", STYLES.len()),
            ));
        }
        if self.clips_per_class == 0 {
            return Err(KeyError::new(&at("clips_per_class"), "must be at least 1"));
        }
        // The corpus is written to disk: 100 000 clips of 4 s per class are
        // already 18 GB of WAV per class.
        if self.clips_per_class > 100_000 {
            return Err(KeyError::new(
                &at("clips_per_class"),
                "must be at most 100000",
            ));
        }
        if !(0.25..=120.0).contains(&self.duration) {
            return Err(KeyError::new(
                &at("duration"),
                "must be between 0.25 and 120 seconds",
            ));
        }
        if !(8000..=96_000).contains(&self.sample_rate) {
            return Err(KeyError::new(
                &at("sample_rate"),
                "must be between 8000 and 96000 Hz",
            ));
        }
        if !(0.0..=1.0).contains(&self.lyrics_coverage) {
            return Err(KeyError::new(
                &at("lyrics_coverage"),
                "must be a fraction between 0 and 1",
            ));
        }
        if !(0.0..=1.0).contains(&self.overlap) {
            return Err(KeyError::new(
                &at("overlap"),
                "must be a probability between 0 and 1",
            ));
        }
        Ok(self)
    }

    pub fn class_names(&self) -> Vec<&'static str> {
        STYLES[..self.classes].iter().map(|s| s.name).collect()
    }
}

/// A class archetype. Ranges are (low, high) for per-clip draws.
#[derive(Debug, Clone, Copy)]
struct Style {
    name: &'static str,
    tempo: (f64, f64),
    /// Notes per beat.
    density: f64,
    /// Scale as semitone offsets from the root.
    scale: &'static [i32],
    /// MIDI note of the melody's centre.
    register: i32,
    /// Harmonic k has amplitude k^-rolloff (odd harmonics only if `odd`).
    rolloff: f64,
    odd: bool,
    attack: f64,
    decay: f64,
    vibrato: f64,
    /// Soft clipping drive (0 = clean).
    drive: f64,
    kick: f64,
    snare: f64,
    hat: f64,
    /// Hi-hat hits per beat.
    hat_rate: f64,
    noise: f64,
    /// Class-specific lyric words (English and Bangla).
    words: &'static [&'static str],
}

const MAJOR: &[i32] = &[0, 2, 4, 5, 7, 9, 11];
const MINOR: &[i32] = &[0, 2, 3, 5, 7, 8, 10];
const PENTA_MAJ: &[i32] = &[0, 2, 4, 7, 9];
const PENTA_MIN: &[i32] = &[0, 3, 5, 7, 10];
const DORIAN: &[i32] = &[0, 2, 3, 5, 7, 9, 10, 11];
const PHRYGIAN: &[i32] = &[0, 1, 3, 5, 7, 8, 10];
const HARM_MINOR: &[i32] = &[0, 2, 3, 5, 7, 8, 11];

const STYLES: &[Style] = &[
    Style {
        name: "ambient",
        tempo: (60.0, 80.0),
        density: 0.5,
        scale: PENTA_MAJ,
        register: 62,
        rolloff: 2.4,
        odd: false,
        attack: 0.35,
        decay: 1.6,
        vibrato: 0.002,
        drive: 0.0,
        kick: 0.0,
        snare: 0.0,
        hat: 0.0,
        hat_rate: 0.0,
        noise: 0.012,
        words: &["sky", "drift", "slow", "ocean", "আকাশ", "ঘুম", "নীরব", "মেঘ"],
    },
    Style {
        name: "rock",
        tempo: (108.0, 140.0),
        density: 2.0,
        scale: PENTA_MIN,
        register: 52,
        rolloff: 1.0,
        odd: false,
        attack: 0.01,
        decay: 0.45,
        vibrato: 0.0,
        drive: 2.0,
        kick: 0.8,
        snare: 0.6,
        hat: 0.3,
        hat_rate: 2.0,
        noise: 0.02,
        words: &["road", "fire", "loud", "guitar", "আগুন", "পথ", "ঝড়", "চিৎকার"],
    },
    Style {
        name: "techno",
        tempo: (120.0, 134.0),
        density: 4.0,
        scale: MINOR,
        register: 48,
        rolloff: 1.2,
        odd: true,
        attack: 0.004,
        decay: 0.14,
        vibrato: 0.0,
        drive: 0.5,
        kick: 1.0,
        snare: 0.2,
        hat: 0.45,
        hat_rate: 4.0,
        noise: 0.01,
        words: &[
            "machine",
            "pulse",
            "neon",
            "club",
            "যন্ত্র",
            "আলো",
            "রাত",
            "শহর",
        ],
    },
    Style {
        name: "folk",
        tempo: (88.0, 116.0),
        density: 2.0,
        scale: MAJOR,
        register: 64,
        rolloff: 1.6,
        odd: false,
        attack: 0.002,
        decay: 0.32,
        vibrato: 0.0,
        drive: 0.0,
        kick: 0.25,
        snare: 0.0,
        hat: 0.0,
        hat_rate: 0.0,
        noise: 0.015,
        words: &[
            "river",
            "village",
            "home",
            "field",
            "নদী",
            "গ্রাম",
            "মাঠ",
            "মাঝি",
        ],
    },
    Style {
        name: "jazz",
        tempo: (100.0, 160.0),
        density: 3.0,
        scale: DORIAN,
        register: 58,
        rolloff: 1.9,
        odd: false,
        attack: 0.02,
        decay: 0.55,
        vibrato: 0.003,
        drive: 0.0,
        kick: 0.2,
        snare: 0.15,
        hat: 0.3,
        hat_rate: 3.0,
        noise: 0.018,
        words: &[
            "blue",
            "smoke",
            "swing",
            "midnight",
            "ধোঁয়া",
            "সুর",
            "তাল",
            "মধ্যরাত",
        ],
    },
    Style {
        name: "metal",
        tempo: (140.0, 190.0),
        density: 4.0,
        scale: PHRYGIAN,
        register: 40,
        rolloff: 0.7,
        odd: false,
        attack: 0.003,
        decay: 0.25,
        vibrato: 0.0,
        drive: 6.0,
        kick: 0.9,
        snare: 0.7,
        hat: 0.4,
        hat_rate: 4.0,
        noise: 0.05,
        words: &[
            "iron",
            "storm",
            "dark",
            "thunder",
            "লোহা",
            "অন্ধকার",
            "বজ্র",
            "ক্রোধ",
        ],
    },
    Style {
        name: "classical",
        tempo: (66.0, 100.0),
        density: 1.5,
        scale: HARM_MINOR,
        register: 67,
        rolloff: 1.3,
        odd: false,
        attack: 0.09,
        decay: 0.9,
        vibrato: 0.006,
        drive: 0.0,
        kick: 0.0,
        snare: 0.0,
        hat: 0.0,
        hat_rate: 0.0,
        noise: 0.006,
        words: &[
            "grace",
            "hall",
            "violin",
            "eternal",
            "বেহালা",
            "চিরন্তন",
            "সভা",
            "মাধুর্য",
        ],
    },
    Style {
        name: "hiphop",
        tempo: (80.0, 96.0),
        density: 1.0,
        scale: MINOR,
        register: 38,
        rolloff: 2.8,
        odd: false,
        attack: 0.005,
        decay: 0.5,
        vibrato: 0.0,
        drive: 0.3,
        kick: 1.0,
        snare: 0.8,
        hat: 0.3,
        hat_rate: 2.0,
        noise: 0.02,
        words: &["street", "flow", "rhyme", "crew", "রাস্তা", "ছন্দ", "দল", "কথা"],
    },
    Style {
        name: "reggae",
        tempo: (70.0, 90.0),
        density: 2.0,
        scale: MAJOR,
        register: 55,
        rolloff: 1.6,
        odd: true,
        attack: 0.01,
        decay: 0.2,
        vibrato: 0.0,
        drive: 0.0,
        kick: 0.7,
        snare: 0.3,
        hat: 0.2,
        hat_rate: 2.0,
        noise: 0.015,
        words: &[
            "sun",
            "island",
            "peace",
            "roots",
            "সূর্য",
            "দ্বীপ",
            "শান্তি",
            "শিকড়",
        ],
    },
    Style {
        name: "chiptune",
        tempo: (130.0, 160.0),
        density: 4.0,
        scale: PENTA_MAJ,
        register: 72,
        rolloff: 1.0,
        odd: true,
        attack: 0.001,
        decay: 0.1,
        vibrato: 0.0,
        drive: 0.0,
        kick: 0.3,
        snare: 0.0,
        hat: 0.3,
        hat_rate: 4.0,
        noise: 0.004,
        words: &["pixel", "level", "game", "coin", "খেলা", "ধাপ", "মুদ্রা", "পর্দা"],
    },
];

/// Words every class uses, so lyrics overlap across classes too.
const SHARED_WORDS: &[&str] = &[
    "love",
    "night",
    "heart",
    "dream",
    "song",
    "light",
    "rain",
    "time",
    "ভালোবাসা",
    "রাত",
    "হৃদয়",
    "স্বপ্ন",
    "গান",
    "বৃষ্টি",
    "মন",
    "তুমি",
    "আমি",
    "you",
    "me",
];

/// One clip's drawn parameters.
struct Clip {
    tempo: f64,
    density: f64,
    scale: &'static [i32],
    register: i32,
    rolloff: f64,
    odd: bool,
    attack: f64,
    decay: f64,
    vibrato: f64,
    drive: f64,
    kick: f64,
    snare: f64,
    hat: f64,
    hat_rate: f64,
    noise: f64,
}

fn clip_rng(seed: u64, class: usize, index: usize) -> Xoshiro256PlusPlus {
    stream_rng(b"vaerun-synth", seed, class, index)
}

fn stream_rng(domain: &[u8], seed: u64, class: usize, index: usize) -> Xoshiro256PlusPlus {
    let mut h = blake3::Hasher::new();
    h.update(domain);
    h.update(&seed.to_le_bytes());
    h.update(&(class as u64).to_le_bytes());
    h.update(&(index as u64).to_le_bytes());
    let b = h.finalize();
    Xoshiro256PlusPlus::seed_from_u64(u64::from_le_bytes(b.as_bytes()[..8].try_into().unwrap()))
}

fn draw_clip(spec: &SyntheticSpec, class: usize, rng: &mut impl Rng) -> Clip {
    let own = &STYLES[class];
    // With probability `overlap` the clip borrows one attribute group
    // (rhythm, timbre, drums or pitch) from another class.
    let mut groups = [own; 4];
    if rng.gen::<f64>() < spec.overlap {
        let mut other = rng.gen_range(0..spec.classes - 1);
        if other >= class {
            other += 1;
        }
        groups[rng.gen_range(0..4)] = &STYLES[other];
    }
    let [rhythm, timbre, drums, pitch] = groups;
    let jitter = |rng: &mut dyn rand::RngCore, v: f64, r: f64| {
        v * (1.0 + r * (2.0 * rng.gen::<f64>() - 1.0))
    };
    Clip {
        tempo: rng.gen_range(rhythm.tempo.0..=rhythm.tempo.1),
        density: rhythm.density,
        scale: pitch.scale,
        register: pitch.register + rng.gen_range(-3..=3),
        rolloff: jitter(rng, timbre.rolloff, 0.15),
        odd: timbre.odd,
        attack: jitter(rng, timbre.attack, 0.25),
        decay: jitter(rng, timbre.decay, 0.25),
        vibrato: timbre.vibrato,
        drive: jitter(rng, timbre.drive, 0.25),
        kick: jitter(rng, drums.kick, 0.25),
        snare: jitter(rng, drums.snare, 0.25),
        hat: jitter(rng, drums.hat, 0.25),
        hat_rate: drums.hat_rate,
        noise: jitter(rng, rhythm.noise.max(timbre.noise), 0.4),
    }
}

fn midi_hz(m: f64) -> f64 {
    440.0 * 2f64.powf((m - 69.0) / 12.0)
}

/// Renders one clip: melody + bass + drums + noise floor, peak-normalised.
fn render(spec: &SyntheticSpec, clip: &Clip, rng: &mut impl Rng) -> Vec<f32> {
    let sr = spec.sample_rate as f64;
    let n = (spec.duration * sr).round() as usize;
    let mut y = vec![0f64; n];
    let normal = Normal::new(0.0, 1.0).unwrap();
    let beat = 60.0 / clip.tempo;

    // Melody: a random walk over the scale, one note per step.
    let step = beat / clip.density;
    let root = clip.register as f64 + rng.gen_range(0..7) as f64 - 3.0;
    let mut degree: i32 = 0;
    let mut t0 = rng.gen::<f64>() * step * 0.5;
    let partials: Vec<(f64, f64)> = (1..=12)
        .filter(|k| !clip.odd || k % 2 == 1)
        .map(|k| (k as f64, (k as f64).powf(-clip.rolloff)))
        .collect();
    while t0 < spec.duration {
        degree += rng.gen_range(-2..=2);
        degree = degree.clamp(-7, 9);
        let len = clip.scale.len() as i32;
        let octave = degree.div_euclid(len);
        let semis = clip.scale[degree.rem_euclid(len) as usize] + 12 * octave;
        let f = midi_hz(root + semis as f64);
        let dur = step * rng.gen_range(0.7..1.0);
        let amp = 0.5 * rng.gen_range(0.7..1.0);
        let phases: Vec<f64> = partials.iter().map(|_| rng.gen::<f64>() * TAU).collect();
        add_note(
            &mut y,
            sr,
            t0,
            dur + clip.decay,
            f,
            amp,
            clip,
            &partials,
            &phases,
        );
        t0 += step;
    }
    // Bass: the root, an octave or two down, on every beat.
    let mut tb = 0.0;
    while tb < spec.duration {
        let f = midi_hz(root - 24.0);
        add_note(
            &mut y,
            sr,
            tb,
            beat * 0.9,
            f,
            0.35,
            clip,
            &partials[..partials.len().min(3)],
            &[0.0; 3],
        );
        tb += beat;
    }
    // Drums.
    let beats = (spec.duration / beat).ceil() as usize + 1;
    for b in 0..beats {
        let t = b as f64 * beat;
        if clip.kick > 0.0 && (b % 2 == 0 || clip.kick > 0.85) {
            kick(&mut y, sr, t, clip.kick);
        }
        if clip.snare > 0.0 && b % 2 == 1 {
            burst(&mut y, sr, t, 0.12, clip.snare * 0.5, 0.0, rng, &normal);
        }
        if clip.hat > 0.0 && clip.hat_rate > 0.0 {
            let hits = clip.hat_rate.round() as usize;
            for h in 0..hits {
                burst(
                    &mut y,
                    sr,
                    t + h as f64 * beat / hits as f64,
                    0.03,
                    clip.hat * 0.3,
                    1.0,
                    rng,
                    &normal,
                );
            }
        }
    }
    // Noise floor, then soft clipping and a random gain.
    for v in y.iter_mut() {
        *v += clip.noise * normal.sample(rng);
        if clip.drive > 0.0 {
            *v = (*v * (1.0 + clip.drive)).tanh() / (1.0 + clip.drive).tanh();
        }
    }
    let peak = y.iter().fold(0f64, |m, v| m.max(v.abs())).max(1e-9);
    let gain = rng.gen_range(0.5..0.9) / peak;
    y.iter().map(|v| (v * gain) as f32).collect()
}

#[allow(clippy::too_many_arguments)]
fn add_note(
    y: &mut [f64],
    sr: f64,
    t0: f64,
    dur: f64,
    f: f64,
    amp: f64,
    clip: &Clip,
    partials: &[(f64, f64)],
    phases: &[f64],
) {
    let start = (t0 * sr) as usize;
    let end = (((t0 + dur) * sr) as usize).min(y.len());
    let nyquist = sr / 2.0;
    let audible: Vec<(f64, f64, f64)> = partials
        .iter()
        .zip(phases.iter().chain(std::iter::repeat(&0.0)))
        .filter(|((k, _), _)| k * f < nyquist * 0.95)
        .map(|(&(k, a), &p)| (k, a, p))
        .collect();
    for (i, v) in y[start.min(end)..end].iter_mut().enumerate() {
        let t = i as f64 / sr;
        let env = (1.0 - (-t / clip.attack.max(1e-4)).exp()) * (-t / clip.decay.max(1e-3)).exp();
        let vib = 1.0 + clip.vibrato * (TAU * 5.5 * t).sin();
        let ph = TAU * f * vib * t;
        let s: f64 = audible
            .iter()
            .map(|&(k, a, p)| a * (k * ph + p).sin())
            .sum();
        *v += amp * env * s;
    }
}

fn kick(y: &mut [f64], sr: f64, t0: f64, level: f64) {
    let start = (t0 * sr) as usize;
    let end = (((t0 + 0.25) * sr) as usize).min(y.len());
    let mut phase = 0.0;
    for (i, v) in y[start.min(end)..end].iter_mut().enumerate() {
        let t = i as f64 / sr;
        let f = 50.0 + 90.0 * (-t / 0.03).exp();
        phase += TAU * f / sr;
        *v += level * phase.sin() * (-t / 0.12).exp();
    }
}

/// A noise burst; `bright` = 1 differentiates the noise (a crude high-pass) for hats.
#[allow(clippy::too_many_arguments)]
fn burst(
    y: &mut [f64],
    sr: f64,
    t0: f64,
    len: f64,
    level: f64,
    bright: f64,
    rng: &mut impl Rng,
    normal: &Normal<f64>,
) {
    let start = (t0 * sr) as usize;
    let end = (((t0 + len * 3.0) * sr) as usize).min(y.len());
    let mut prev = 0.0;
    for (i, v) in y[start.min(end)..end].iter_mut().enumerate() {
        let t = i as f64 / sr;
        let w = normal.sample(rng);
        let s = if bright > 0.0 { (w - prev) * 0.5 } else { w };
        prev = w;
        *v += level * s * (-t / len).exp();
    }
}

fn is_bengali_word(w: &str) -> bool {
    w.chars().any(|c| ('\u{0980}'..='\u{09FF}').contains(&c))
}

/// A clip's lyrics, or None for an instrumental. Drawn from a generator of
/// its own, so lyrics are known without rendering the audio. Each lyric is
/// English, Bangla or mixed; half its words come from the class's
/// vocabulary, a tenth from another class's, the rest from shared words.
pub fn lyrics_for(spec: &SyntheticSpec, class: usize, index: usize) -> Option<String> {
    if !spec.lyrics {
        return None;
    }
    let mut rng = stream_rng(b"vaerun-lyrics", spec.seed, class, index);
    if rng.gen::<f64>() >= spec.lyrics_coverage {
        return None;
    }
    let language = rng.gen::<f64>();
    let keep = |w: &&&str| -> bool {
        if language < 0.4 {
            !is_bengali_word(w)
        } else if language < 0.8 {
            is_bengali_word(w)
        } else {
            true
        }
    };
    let own: Vec<&str> = STYLES[class].words.iter().filter(keep).copied().collect();
    let shared: Vec<&str> = SHARED_WORDS.iter().filter(keep).copied().collect();
    let n = rng.gen_range(6..=10);
    let words: Vec<&str> = (0..n)
        .map(|_| {
            let r: f64 = rng.gen();
            if r < 0.5 {
                own[rng.gen_range(0..own.len())]
            } else if r < 0.6 {
                let other: Vec<&str> = STYLES[rng.gen_range(0..spec.classes)]
                    .words
                    .iter()
                    .filter(keep)
                    .copied()
                    .collect();
                other[rng.gen_range(0..other.len())]
            } else {
                shared[rng.gen_range(0..shared.len())]
            }
        })
        .collect();
    Some(words.join(" "))
}

/// One generated clip.
pub struct SynthClip {
    pub class: &'static str,
    pub index: usize,
    pub samples: Vec<f32>,
    pub lyrics: Option<String>,
}

pub fn generate_clip(spec: &SyntheticSpec, class: usize, index: usize) -> SynthClip {
    let mut rng = clip_rng(spec.seed, class, index);
    let clip = draw_clip(spec, class, &mut rng);
    let samples = render(spec, &clip, &mut rng);
    let lyrics = lyrics_for(spec, class, index);
    SynthClip {
        class: STYLES[class].name,
        index,
        samples,
        lyrics,
    }
}

/// Writes the corpus in the GTZAN layout: `dir/<class>/<class>.000NN.wav`
/// (16-bit PCM, as GTZAN), with `<class>.000NN.txt` lyrics beside each clip.
pub fn write_corpus(spec: &SyntheticSpec, dir: &Path) -> Result<usize> {
    let jobs: Vec<(usize, usize)> = (0..spec.classes)
        .flat_map(|c| (0..spec.clips_per_class).map(move |i| (c, i)))
        .collect();
    for style in &STYLES[..spec.classes] {
        std::fs::create_dir_all(dir.join(style.name))
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    jobs.par_iter().try_for_each(|&(c, i)| -> Result<()> {
        let clip = generate_clip(spec, c, i);
        // Not `with_extension`: the stem itself contains a dot (`rock.00007`).
        let stem = format!("{}.{:05}", clip.class, i);
        let folder = dir.join(clip.class);
        write_wav16(
            &folder.join(format!("{stem}.wav")),
            &clip.samples,
            spec.sample_rate,
        )?;
        if let Some(l) = &clip.lyrics {
            let mut set = crate::fileset::FileSet::fast();
            set.stage(
                &folder.join(format!("{stem}.txt")),
                format!("{l}\n").as_bytes(),
            )?;
            set.commit()?;
        }
        Ok(())
    })?;
    Ok(jobs.len())
}

pub fn write_wav16(path: &Path, samples: &[f32], sample_rate: u32) -> Result<()> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    // Built in memory and written in one step: `runner synth` writes into a
    // user's folder, where a killed run must not leave half a WAV file.
    let mut bytes = std::io::Cursor::new(Vec::with_capacity(44 + 2 * samples.len()));
    let mut w = hound::WavWriter::new(&mut bytes, spec)?;
    for &s in samples {
        w.write_sample((s.clamp(-1.0, 1.0) * 32767.0).round() as i16)?;
    }
    w.finalize()?;
    let mut set = crate::fileset::FileSet::fast();
    set.stage(path, bytes.get_ref())?;
    set.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> SyntheticSpec {
        SyntheticSpec {
            kind: "synthetic".into(),
            classes: 4,
            clips_per_class: 2,
            duration: 1.0,
            sample_rate: 16000,
            seed: 3,
            overlap: 0.3,
            lyrics: true,
            lyrics_coverage: 0.8,
        }
    }

    #[test]
    fn clips_are_deterministic_and_distinct() {
        let s = spec();
        let a = generate_clip(&s, 1, 0);
        let b = generate_clip(&s, 1, 0);
        let c = generate_clip(&s, 1, 1);
        assert_eq!(a.samples, b.samples);
        assert_eq!(a.lyrics, b.lyrics);
        assert_ne!(a.samples, c.samples);
        assert_eq!(a.samples.len(), 16000);
        let peak = a.samples.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(peak > 0.4 && peak < 0.95, "{peak}");
        assert!(a.samples.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn lyrics_mix_scripts() {
        let s = spec();
        let lyrics: Vec<Option<String>> = (0..40).map(|i| lyrics_for(&s, 2, i)).collect();
        assert_eq!(lyrics[5], generate_clip(&s, 2, 5).lyrics);
        let missing = lyrics.iter().filter(|l| l.is_none()).count();
        assert!((2..=16).contains(&missing), "{missing} of 40 instrumentals");
        let langs: std::collections::BTreeSet<&str> = lyrics
            .iter()
            .map(|l| crate::text::language_of(l.as_deref().unwrap_or("")))
            .collect();
        assert_eq!(
            langs.into_iter().collect::<Vec<_>>(),
            vec!["bn", "en", "mixed", "none"]
        );
        let all: String = lyrics.into_iter().flatten().collect::<Vec<_>>().join(" ");
        assert!(all.chars().any(|c| c.is_ascii_alphabetic()));
        assert!(
            all.chars().any(|c| ('\u{0980}'..='\u{09FF}').contains(&c)),
            "{all}"
        );
    }
}
