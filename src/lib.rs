//! vaerun: reproducible studies of unsupervised music clustering with
//! variational autoencoders, declared in one TOML file.
//!
//! Data flow: `spec` (load, validate, expand the grid) → `pipeline` (the
//! only module that knows the stage order) → `data` / `audio` / `dsp` →
//! `models` → `cluster` → `report`; every stage is cached by `cache`.

pub mod audio;
pub mod buffer;
pub mod cache;
pub mod cli;
pub mod cluster;
pub mod data;
pub mod dsp;
pub mod fileset;
pub mod models;
pub mod pipeline;
pub mod report;
pub mod sample;
pub mod slurm;
pub mod spec;
pub mod text;
