//! `beta_vae`: the dense VAE with a weighted KL term, β · KL (Higgins et al.
//! 2017; default β = 4), optionally warmed up linearly over `kl_warmup`
//! epochs; or, with `capacity_max`, the capacity schedule of Burgess et al.
//! (2018): γ · |KL − C|, C rising linearly to `capacity_max` nats over
//! `capacity_epochs` (default: all epochs). The network is [`super::vae`]'s.

use super::vae::{parse_variant, schema_of, Variant};
use super::Representer;
use crate::spec::KeyError;

pub fn parse(table: &toml::Table, path: &[String]) -> Result<Box<dyn Representer>, KeyError> {
    parse_variant(table, path, Variant::BetaVae)
}

pub fn schema(gen: &mut schemars::SchemaGenerator) -> serde_json::Value {
    schema_of(Variant::BetaVae, gen)
}
