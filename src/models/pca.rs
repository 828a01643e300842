//! `pca` baseline: projection on the leading principal components (linfa-reduction).

use std::path::Path;

use anyhow::{bail, Result};
use linfa::traits::{Fit, Predict};
use serde::{Deserialize, Serialize};

use super::recon::Reconstruction;
use super::{FitInput, Fitted, Representer};
use crate::dsp::FeatureShape;
use crate::spec::KeyError;

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PcaParams {
    pub kind: String,
    /// Principal components kept.
    #[serde(default = "d_components")]
    pub n_components: usize,
    /// Scale components to unit variance.
    #[serde(default)]
    pub whiten: bool,
}

fn d_components() -> usize {
    16
}

pub fn schema(gen: &mut schemars::SchemaGenerator) -> serde_json::Value {
    crate::spec::schema::object::<PcaParams>(gen)
}

pub fn parse(table: &toml::Table, path: &[String]) -> Result<Box<dyn Representer>, KeyError> {
    let p: PcaParams = crate::spec::typed_table(table, path)?;
    if p.n_components == 0 {
        return Err(KeyError::new(
            &crate::spec::error::join_path(path, &["n_components".into()]),
            "must be at least 1",
        ));
    }
    Ok(Box::new(Pca { p }))
}

pub struct Pca {
    p: PcaParams,
}

impl Representer for Pca {
    fn kind(&self) -> &'static str {
        "pca"
    }
    fn params(&self) -> serde_json::Value {
        serde_json::to_value(&self.p).unwrap()
    }
    fn uses_seed(&self) -> bool {
        false
    }
    fn accepts(&self, _audio: Option<FeatureShape>, _has_text: bool) -> bool {
        // Summaries as they are, sequences flattened row by row.
        true
    }
    fn fit(&self, input: &FitInput, _out_dir: &Path) -> Result<Fitted> {
        let (n, d) = input.x.dim();
        let k = self.p.n_components;
        if k > n.min(d) {
            bail!(
                "n_components = {k} exceeds min(tracks, features) = {}",
                n.min(d)
            );
        }
        let x = input.x.mapv(|v| v as f64);
        let ds = linfa::DatasetBase::from(x.clone());
        let model = linfa_reduction::Pca::params(k)
            .whiten(self.p.whiten)
            .fit(&ds)?;
        let z: ndarray::Array2<f64> = model.predict(&x);
        let back = inverse_transform(&model, &z);
        let recon = Reconstruction::build(input.x, input.layout, |idx| {
            Ok(ndarray::Array2::from_shape_fn((idx.len(), d), |(b, j)| {
                back[[idx[b] as usize, j]] as f32
            }))
        })?;
        Ok(Fitted {
            latent: z.mapv(|v| v as f32),
            history: Vec::new(),
            recon: Some(recon),
        })
    }
}

/// The inputs rebuilt from their components: mean + Σᵢ zᵢ eᵢ / ‖eᵢ‖².
/// linfa's `inverse_transform` is z·E + mean, right only without
/// whitening; whitening scales each component row eᵢ by √(n − 1)/σᵢ, and
/// dividing by ‖eᵢ‖² undoes that (‖eᵢ‖ = 1 without whitening).
fn inverse_transform(
    model: &linfa_reduction::Pca<f64>,
    z: &ndarray::Array2<f64>,
) -> ndarray::Array2<f64> {
    let e = model.components();
    let mut scaled = z.clone();
    for (i, row) in e.rows().into_iter().enumerate() {
        let norm_sq = row.dot(&row);
        scaled.column_mut(i).mapv_inplace(|v| v / norm_sq);
    }
    scaled.dot(e) + model.mean()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With as many components as the centred data's rank (2 here), PCA
    /// rebuilds every row, whitened or not.
    #[test]
    fn inverse_transform_rebuilds_data_of_its_rank() {
        let (u, v) = ([1.0f32, 0.5, -1.0, 2.0, 0.0], [0.0f32, 1.0, 1.0, -0.5, 1.5]);
        let coef = [
            (1.0f32, 0.0f32),
            (0.0, 1.0),
            (2.0, -1.0),
            (-1.0, 0.5),
            (0.5, 2.0),
            (-1.5, -1.0),
        ];
        let x = ndarray::Array2::from_shape_fn((6, 5), |(r, j)| {
            3.0 + coef[r].0 * u[j] + coef[r].1 * v[j]
        });
        for whiten in [false, true] {
            let pca = Pca {
                p: PcaParams {
                    kind: "pca".into(),
                    n_components: 2,
                    whiten,
                },
            };
            let f = pca
                .fit(
                    &FitInput {
                        x: &x,
                        layout: &crate::models::Layout::summary(5),
                        condition: None,
                        seed: 0,
                        device: &candle_core::Device::Cpu,
                        observer: None,
                    },
                    std::path::Path::new("."),
                )
                .unwrap();
            let r = f.recon.unwrap();
            // f64 SVD, stored as f32.
            assert!(r.error.all < 1e-10, "whiten = {whiten}: {}", r.error.all);
        }
    }
}
