//! `autoencoder` (baseline): the dense VAE's architecture made
//! deterministic: the encoder's code is a linear layer instead of a
//! Gaussian head, there is no sampling and no KL term, and the loss is the
//! reconstruction alone. It tells how much the variational part adds.

use super::vae::{parse_variant, schema_of, Variant};
use super::Representer;
use crate::spec::KeyError;

pub fn parse(table: &toml::Table, path: &[String]) -> Result<Box<dyn Representer>, KeyError> {
    parse_variant(table, path, Variant::Autoencoder)
}

pub fn schema(gen: &mut schemars::SchemaGenerator) -> serde_json::Value {
    schema_of(Variant::Autoencoder, gen)
}
