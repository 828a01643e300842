//! `cvae`: a conditional VAE (Sohn et al. 2015). Encoder and decoder both
//! see a one-hot of a categorical column (`condition = "language"`,
//! `"label"` or any manifest column), so the latent is free to encode what
//! the condition does not already explain. When the condition is the label
//! the external metrics score, results carry a label-leak warning (see the
//! pipeline). The network is [`super::vae`]'s.

use super::vae::{parse_variant, schema_of, Variant};
use super::Representer;
use crate::spec::KeyError;

pub fn parse(table: &toml::Table, path: &[String]) -> Result<Box<dyn Representer>, KeyError> {
    parse_variant(table, path, Variant::Cvae)
}

pub fn schema(gen: &mut schemars::SchemaGenerator) -> serde_json::Value {
    schema_of(Variant::Cvae, gen)
}
