//! `vae` and the dense family built on it (`beta_vae`, `cvae`,
//! `autoencoder`): a dense encoder → (μ, log σ²) → z = μ + σ·ε → a dense
//! decoder. Per track the loss is the reconstruction (summed over features)
//! plus the weighted KL(q(z|x) ‖ N(0, I)), averaged over the batch. The
//! latent used for clustering is μ, never a sample.
//!
//! The family differs only in three switches, so one network serves all:
//! whether the code is variational, how the KL is weighted, and whether
//! encoder and decoder see a one-hot condition.

use std::path::Path;

use anyhow::{bail, Result};
use candle_core::Tensor;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use super::generate::{self, Generator};
use super::init::{self, Param};
use super::layers::{self, Activation, GaussianHead, Hidden, Mlp, Mode, NormKind};
use super::linear::Linear;
use super::loss::{kl_per_row, KlWeighting, ReconLoss};
use super::recon::{to_array, Reconstruction};
use super::train::{self, BatchLoss, TrainingParams};
use super::{FitInput, Fitted, Representer};
use crate::dsp::FeatureShape;
use crate::spec::KeyError;

/// Which member of the dense family a table declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Vae,
    BetaVae,
    Cvae,
    Autoencoder,
}

impl Variant {
    pub fn kind(self) -> &'static str {
        match self {
            Variant::Vae => "vae",
            Variant::BetaVae => "beta_vae",
            Variant::Cvae => "cvae",
            Variant::Autoencoder => "autoencoder",
        }
    }

    fn variational(self) -> bool {
        self != Variant::Autoencoder
    }

    /// The optional keys this kind takes, beyond the common ones.
    fn own_keys(self) -> &'static [&'static str] {
        match self {
            Variant::Vae => &["kl_warmup"],
            Variant::BetaVae => &[
                "beta",
                "kl_warmup",
                "capacity_max",
                "gamma",
                "capacity_epochs",
            ],
            Variant::Cvae => &["beta", "kl_warmup", "condition"],
            Variant::Autoencoder => &[],
        }
    }
}

/// Every key of the family; [`Variant::own_keys`] says which kind takes which.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DenseParams {
    pub kind: String,
    /// Size of the latent code z.
    #[serde(default = "d_latent")]
    pub latent_dim: usize,
    /// Widths of the encoder's hidden layers; the decoder mirrors them.
    #[serde(default = "d_hidden")]
    pub hidden: Vec<usize>,
    /// Hidden-layer activation.
    #[serde(default = "d_act")]
    pub activation: Activation,
    /// Dropout after each hidden layer, in [0, 1) (seeded).
    #[serde(default)]
    pub dropout: f64,
    /// Normalisation before each activation: none, batch or layer.
    #[serde(default)]
    pub norm: NormKind,
    /// Reconstruction loss: mse, or bce for inputs in [0, 1].
    #[serde(default)]
    pub recon_loss: ReconLoss,
    /// Weight of the KL term (beta_vae: 4, cvae: 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta: Option<f64>,
    /// Epochs over which the KL weight rises linearly from 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kl_warmup: Option<usize>,
    /// Burgess et al.'s capacity C, in nats, reached after `capacity_epochs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_max: Option<f64>,
    /// Weight of |KL − C| in the capacity schedule (default 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gamma: Option<f64>,
    /// Epochs over which C rises to capacity_max (default: all epochs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_epochs: Option<usize>,
    /// The categorical column a `cvae` is conditioned on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
}

fn d_latent() -> usize {
    16
}
fn d_hidden() -> Vec<usize> {
    vec![128, 64]
}
fn d_act() -> Activation {
    Activation::Relu
}

/// β of the β-VAE when none is given (Higgins et al. report β = 4).
const DEFAULT_BETA: f64 = 4.0;
/// γ of the capacity schedule when none is given (Burgess et al. use 1000).
const DEFAULT_GAMMA: f64 = 1000.0;

pub fn parse(table: &toml::Table, path: &[String]) -> Result<Box<dyn Representer>, KeyError> {
    parse_variant(table, path, Variant::Vae)
}

pub fn schema(gen: &mut schemars::SchemaGenerator) -> serde_json::Value {
    schema_of(Variant::Vae, gen)
}

/// The keys a member of the family takes: the network keys every member
/// shares, its own ([`Variant::own_keys`]) and the training keys.
pub fn schema_of(variant: Variant, gen: &mut schemars::SchemaGenerator) -> serde_json::Value {
    let mut s = crate::spec::schema::object::<DenseParams>(gen);
    crate::spec::schema::retain_properties(&mut s, |k| {
        !OPTIONAL_KEYS.contains(&k) || variant.own_keys().contains(&k)
    });
    crate::spec::schema::merge_properties(
        &mut s,
        &crate::spec::schema::object::<TrainingParams>(gen),
    );
    s
}

/// The keys of [`DenseParams`] that only some members take.
const OPTIONAL_KEYS: &[&str] = &[
    "beta",
    "kl_warmup",
    "capacity_max",
    "gamma",
    "capacity_epochs",
    "condition",
];

pub fn parse_variant(
    table: &toml::Table,
    path: &[String],
    variant: Variant,
) -> Result<Box<dyn Representer>, KeyError> {
    let (training, rest) = TrainingParams::take(table, path)?;
    let mut p: DenseParams = crate::spec::typed_table(&rest, path)?;
    let at = |k: &str| crate::spec::error::join_path(path, &[k.into()]);
    // Also checked against the schema in `models::parse`; kept here for
    // callers that parse a variant directly.
    let given = [
        ("beta", p.beta.is_some()),
        ("kl_warmup", p.kl_warmup.is_some()),
        ("capacity_max", p.capacity_max.is_some()),
        ("gamma", p.gamma.is_some()),
        ("capacity_epochs", p.capacity_epochs.is_some()),
        ("condition", p.condition.is_some()),
    ];
    for (key, present) in given {
        if present && !variant.own_keys().contains(&key) {
            let owners: Vec<String> = [Variant::Vae, Variant::BetaVae, Variant::Cvae]
                .iter()
                .filter(|v| v.own_keys().contains(&key))
                .map(|v| format!("`{}`", v.kind()))
                .collect();
            return Err(KeyError::new(
                &at(key),
                format!(
                    "`{key}` is not a parameter of kind `{}`; it belongs to {}",
                    variant.kind(),
                    owners.join(" and ")
                ),
            ));
        }
    }
    check_net(&p.hidden, p.latent_dim, p.dropout, path)?;
    if p.beta.is_some_and(|b| b < 0.0 || !b.is_finite()) {
        return Err(KeyError::new(&at("beta"), "must be zero or positive"));
    }
    if p.gamma.is_some_and(|g| g <= 0.0 || g.is_nan()) {
        return Err(KeyError::new(&at("gamma"), "must be positive"));
    }
    if p.capacity_max.is_some_and(|c| c < 0.0 || c.is_nan()) {
        return Err(KeyError::new(
            &at("capacity_max"),
            "must be zero or positive (nats)",
        ));
    }
    if p.capacity_epochs == Some(0) {
        return Err(KeyError::new(&at("capacity_epochs"), "must be at least 1"));
    }
    if variant == Variant::BetaVae {
        match p.capacity_max {
            Some(_) => {
                if p.beta.is_some() {
                    return Err(KeyError::new(
                        &at("capacity_max"),
                        "the capacity schedule replaces `beta` by `gamma`; set one of them",
                    ));
                }
                p.gamma.get_or_insert(DEFAULT_GAMMA);
                p.capacity_epochs.get_or_insert(training.epochs);
            }
            None => {
                if p.gamma.is_some() || p.capacity_epochs.is_some() {
                    return Err(KeyError::new(
                        &at(if p.gamma.is_some() {
                            "gamma"
                        } else {
                            "capacity_epochs"
                        }),
                        "only used with the capacity schedule: set capacity_max too",
                    ));
                }
                p.beta.get_or_insert(DEFAULT_BETA);
            }
        }
    }
    if variant == Variant::Cvae && p.condition.is_none() {
        return Err(KeyError::new(
            &at("condition"),
            "missing: the categorical column to condition on, e.g. \"language\" or \"label\"",
        ));
    }
    Ok(Box::new(DenseVae {
        variant,
        p,
        training,
    }))
}

/// The widest layer (and latent) a network may have: a width of 65536 on a
/// 1000-column input is already 65 M weights; a larger one is a typo that
/// would end the process on a failed allocation rather than with an error.
pub const MAX_WIDTH: usize = 65_536;

/// Checks shared by every network's shape keys.
pub fn check_net(
    hidden: &[usize],
    latent_dim: usize,
    dropout: f64,
    path: &[String],
) -> Result<(), KeyError> {
    let at = |k: &str| crate::spec::error::join_path(path, &[k.into()]);
    if latent_dim == 0 {
        return Err(KeyError::new(&at("latent_dim"), "must be at least 1"));
    }
    if latent_dim > MAX_WIDTH {
        return Err(KeyError::new(
            &at("latent_dim"),
            format!("must be at most {MAX_WIDTH}"),
        ));
    }
    if hidden.contains(&0) {
        return Err(KeyError::new(
            &at("hidden"),
            "layer widths must be positive",
        ));
    }
    if hidden.iter().any(|&w| w > MAX_WIDTH) {
        return Err(KeyError::new(
            &at("hidden"),
            format!("layer widths must be at most {MAX_WIDTH}"),
        ));
    }
    if !(0.0..1.0).contains(&dropout) {
        return Err(KeyError::new(&at("dropout"), "must be in [0, 1)"));
    }
    Ok(())
}

pub struct DenseVae {
    pub variant: Variant,
    pub p: DenseParams,
    pub training: TrainingParams,
}

/// The network: encoder, Gaussian head (or a plain linear code for the
/// autoencoder), decoder mirroring the encoder, and the output layer.
struct Net {
    enc: Mlp,
    head: Head,
    dec: Mlp,
    out: Linear,
}

enum Head {
    Gaussian(GaussianHead),
    Code(Linear),
}

impl DenseVae {
    fn kl_weighting(&self) -> KlWeighting {
        match self.p.capacity_max {
            Some(c_max) => KlWeighting::Capacity {
                c_max,
                gamma: self.p.gamma.unwrap_or(DEFAULT_GAMMA),
                epochs: self.p.capacity_epochs.unwrap_or(self.training.epochs) as f64,
            },
            None => KlWeighting::Beta {
                beta: self.p.beta.unwrap_or(1.0),
                warmup: self.p.kl_warmup.unwrap_or(0) as f64,
            },
        }
    }

    fn hidden(&self) -> Hidden {
        Hidden {
            act: self.p.activation,
            norm: self.p.norm,
            dropout: self.p.dropout,
        }
    }

    fn build(
        &self,
        input: usize,
        cond: usize,
        rng: &mut Xoshiro256PlusPlus,
        device: &candle_core::Device,
        params: &mut Vec<Param>,
    ) -> candle_core::Result<Net> {
        let latent = self.p.latent_dim;
        let enc = Mlp::new(
            "encoder",
            input + cond,
            &self.p.hidden,
            self.hidden(),
            rng,
            device,
            params,
        )?;
        let head = if self.variant.variational() {
            Head::Gaussian(GaussianHead::new(
                enc.out_width,
                latent,
                rng,
                device,
                params,
            )?)
        } else {
            Head::Code(init::linear(
                "code",
                enc.out_width,
                latent,
                rng,
                device,
                params,
            )?)
        };
        let widths: Vec<usize> = self.p.hidden.iter().rev().copied().collect();
        let dec = Mlp::new(
            "decoder",
            latent + cond,
            &widths,
            self.hidden(),
            rng,
            device,
            params,
        )?;
        let out = init::linear("output", dec.out_width, input, rng, device, params)?;
        Ok(Net {
            enc,
            head,
            dec,
            out,
        })
    }
}

/// Appends the condition's one-hot columns when there is one.
fn with_condition(x: &Tensor, c: Option<&Tensor>) -> candle_core::Result<Tensor> {
    match c {
        Some(c) => Tensor::cat(&[x, c], 1),
        None => Ok(x.clone()),
    }
}

impl Net {
    /// (μ, log σ²); log σ² is None for the deterministic autoencoder.
    fn encode(
        &self,
        x: &Tensor,
        c: Option<&Tensor>,
        mode: &mut Mode,
    ) -> candle_core::Result<(Tensor, Option<Tensor>)> {
        let h = self.enc.forward(&with_condition(x, c)?, mode)?;
        match &self.head {
            Head::Gaussian(g) => g.forward(&h).map(|(m, l)| (m, Some(l))),
            Head::Code(l) => Ok((l.forward(&h)?, None)),
        }
    }

    fn decode(
        &self,
        z: &Tensor,
        c: Option<&Tensor>,
        mode: &mut Mode,
    ) -> candle_core::Result<Tensor> {
        self.out
            .forward(&self.dec.forward(&with_condition(z, c)?, mode)?)
    }
}

/// The mean of q(z | x) for every row, in evaluation mode.
pub fn encode_all(
    n: usize,
    device: &candle_core::Device,
    rng: &mut Xoshiro256PlusPlus,
    mut mu_of: impl FnMut(&Tensor, &mut Mode) -> candle_core::Result<Tensor>,
) -> Result<ndarray::Array2<f32>> {
    let mut rows = Vec::new();
    let mut dim = 0;
    for start in (0..n).step_by(1024) {
        let idx: Vec<u32> = (start as u32..(start + 1024).min(n) as u32).collect();
        let idx = Tensor::from_vec(idx, (start + 1024).min(n) - start, device)?;
        let mu = mu_of(&idx, &mut Mode { train: false, rng })?;
        dim = mu.dim(1)?;
        rows.extend(mu.flatten_all()?.to_vec1::<f32>()?);
    }
    Ok(ndarray::Array2::from_shape_vec((n, dim), rows)?)
}

/// Rows as a device tensor.
pub fn to_tensor(
    x: &ndarray::Array2<f32>,
    device: &candle_core::Device,
) -> candle_core::Result<Tensor> {
    match x.as_slice() {
        Some(s) => Tensor::from_slice(s, x.dim(), device),
        None => Tensor::from_vec(x.iter().copied().collect(), x.dim(), device),
    }
}

impl Representer for DenseVae {
    fn kind(&self) -> &'static str {
        self.variant.kind()
    }
    fn params(&self) -> serde_json::Value {
        train::merged_params(&self.p, &self.training)
    }
    fn uses_seed(&self) -> bool {
        true
    }
    fn accepts(&self, audio: Option<FeatureShape>, _has_text: bool) -> bool {
        // Summaries as they are, sequences flattened, lyrics columns
        // concatenated (early fusion).
        audio.is_some() || _has_text
    }
    fn condition(&self) -> Option<&str> {
        self.p.condition.as_deref()
    }

    fn fit(&self, input: &FitInput, out_dir: &Path) -> Result<Fitted> {
        let (trained, params, history) = self.train(input)?;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(input.seed);
        let latent = encode_all(input.x.nrows(), input.device, &mut rng, |idx, mode| {
            trained.mu(idx, mode)
        })?;
        let recon = Reconstruction::build(input.x, input.layout, |idx| {
            let idx = Tensor::from_slice(idx, idx.len(), input.device)?;
            to_array(&trained.reconstruct(
                &idx,
                &mut Mode {
                    train: false,
                    rng: &mut rng,
                },
            )?)
        })?;
        let mut config = self.params();
        config["input_dim"] = serde_json::json!(input.x.ncols());
        if let Some(c) = input.condition {
            config["condition_levels"] = serde_json::json!(c.levels);
        }
        train::save_checkpoint(&params, &config, out_dir)?;
        Ok(Fitted {
            latent,
            history,
            recon: Some(recon),
        })
    }

    fn load_generator(
        &self,
        dir: &Path,
        device: &candle_core::Device,
    ) -> Result<Option<Box<dyn Generator>>> {
        if !self.variant.variational() {
            return Ok(None); // the autoencoder has no prior
        }
        let config = generate::read_config(dir)?;
        let input = generate::config_usize(&config, "input_dim")?;
        let levels: Option<Vec<String>> = config
            .get("condition_levels")
            .map(|v| serde_json::from_value(v.clone()))
            .transpose()?;
        let c_dim = levels.as_ref().map_or(0, Vec::len);
        // The initial values are overwritten by the checkpoint's.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
        let mut params = Vec::new();
        let net = self.build(input, c_dim, &mut rng, device, &mut params)?;
        generate::load_params(&params, dir, device)?;
        Ok(Some(Box::new(DenseGenerator {
            net,
            latent: self.p.latent_dim,
            levels,
            recon_loss: self.p.recon_loss,
        })))
    }
}

/// A dense model's decoder loaded from its checkpoint.
struct DenseGenerator {
    net: Net,
    latent: usize,
    levels: Option<Vec<String>>,
    recon_loss: ReconLoss,
}

impl Generator for DenseGenerator {
    fn latent_dim(&self) -> usize {
        self.latent
    }
    fn condition_levels(&self) -> Option<&[String]> {
        self.levels.as_deref()
    }
    fn decode(&self, z: &Tensor, condition: Option<&Tensor>) -> Result<Tensor> {
        // Evaluation mode draws nothing; the generator is only a placeholder.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
        let mut mode = Mode {
            train: false,
            rng: &mut rng,
        };
        Ok(self
            .recon_loss
            .mean(&self.net.decode(z, condition, &mut mode)?)?)
    }
}

/// A network with its data on the device: the loss of a batch, the latent
/// mean and the reconstruction of given rows.
pub(crate) struct Trained<'a> {
    model: &'a DenseVae,
    net: Net,
    x: Tensor,
    cond: Option<Tensor>,
}

impl Trained<'_> {
    fn loss(
        &self,
        rows: &Tensor,
        progress: f64,
        mode: &mut Mode,
    ) -> candle_core::Result<BatchLoss> {
        let xb = self.x.index_select(rows, 0)?;
        let cb = self
            .cond
            .as_ref()
            .map(|c| c.index_select(rows, 0))
            .transpose()?;
        let (mu, logvar) = self.net.encode(&xb, cb.as_ref(), mode)?;
        let recon_loss = self.model.p.recon_loss;
        let Some(lv) = logvar else {
            let out = self.net.decode(&mu, cb.as_ref(), mode)?;
            let reconstruction = recon_loss.per_row(&out, &xb)?.mean_all()?;
            return Ok(BatchLoss {
                total: reconstruction.clone(),
                reconstruction,
                kl: Tensor::zeros((), candle_core::DType::F32, xb.device())?,
            });
        };
        let z = layers::reparameterize(&mu, &lv, mode)?;
        let kl = kl_per_row(&mu, &lv)?.mean_all()?;
        let out = self.net.decode(&z, cb.as_ref(), mode)?;
        let reconstruction = recon_loss.per_row(&out, &xb)?.mean_all()?;
        Ok(BatchLoss {
            total: (&reconstruction + self.model.kl_weighting().apply(&kl, progress)?)?,
            reconstruction,
            kl,
        })
    }

    fn mu(&self, rows: &Tensor, mode: &mut Mode) -> candle_core::Result<Tensor> {
        let xb = self.x.index_select(rows, 0)?;
        let cb = self
            .cond
            .as_ref()
            .map(|c| c.index_select(rows, 0))
            .transpose()?;
        Ok(self.net.encode(&xb, cb.as_ref(), mode)?.0)
    }

    /// The decoder's mean output for the rows, decoded from μ.
    pub(crate) fn reconstruct(
        &self,
        rows: &Tensor,
        mode: &mut Mode,
    ) -> candle_core::Result<Tensor> {
        let cb = self
            .cond
            .as_ref()
            .map(|c| c.index_select(rows, 0))
            .transpose()?;
        let mu = self.mu(rows, mode)?;
        self.model
            .p
            .recon_loss
            .mean(&self.net.decode(&mu, cb.as_ref(), mode)?)
    }
}

impl DenseVae {
    /// Builds the network from the seed and trains it on the input.
    pub(crate) fn train<'a>(
        &'a self,
        input: &FitInput,
    ) -> Result<(Trained<'a>, Vec<Param>, Vec<super::EpochLoss>)> {
        let (n, d) = input.x.dim();
        self.p
            .recon_loss
            .check_inputs(input.x)
            .map_err(anyhow::Error::msg)?;
        let device = input.device;
        let cond = match (self.variant, input.condition) {
            (Variant::Cvae, Some(c)) => Some(c.one_hot(device)?),
            (Variant::Cvae, None) => bail!("cvae: no condition column was provided"),
            _ => None,
        };
        let c_dim = cond.as_ref().map_or(Ok(0), |c| c.dim(1))?;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(input.seed);
        let mut params = Vec::new();
        let net = self.build(d, c_dim, &mut rng, device, &mut params)?;
        let trained = Trained {
            model: self,
            net,
            x: to_tensor(input.x, device)?,
            cond,
        };
        let history = train::fit(
            n,
            &params,
            &self.training.config(),
            &mut rng,
            device,
            input.observer,
            |step, mode| trained.loss(step.rows, step.progress, mode),
        )?;
        Ok((trained, params, history))
    }
}
