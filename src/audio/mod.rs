//! Decoding audio files to mono f32 PCM at the experiment's sample rate.

pub mod au;
pub mod decimate;
pub mod decode;
pub mod resample;

pub use decode::{decode_file, Decoded};
