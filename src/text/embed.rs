//! Sentence embeddings from a local BERT-family model folder (e.g.
//! sentence-transformers/all-MiniLM-L6-v2): `config.json`,
//! `tokenizer.json`, `model.safetensors`. Nothing is downloaded. The
//! embedding is sentence-transformers' recipe: mean of the last hidden
//! states over the real (unpadded) tokens, then L2 normalisation.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor, D};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use serde::{Deserialize, Serialize};
use tokenizers::{PaddingParams, Tokenizer, TruncationParams};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmbeddingParams {
    /// The model folder (relative paths are relative to the experiment file).
    pub model: PathBuf,
    /// Tokens kept per text (longer lyrics are truncated, as the model's
    /// own position table requires).
    #[serde(default = "d_max_length")]
    pub max_length: usize,
    /// Texts per forward pass.
    #[serde(default = "d_batch")]
    pub batch_size: usize,
}

fn d_max_length() -> usize {
    256
}
fn d_batch() -> usize {
    16
}

pub const MODEL_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

/// Checks that the folder has the three files, naming any that are missing.
pub fn check_folder(dir: &Path) -> Result<()> {
    let missing: Vec<&str> = MODEL_FILES
        .iter()
        .filter(|f| !dir.join(f).is_file())
        .copied()
        .collect();
    if !missing.is_empty() {
        bail!(
            "embedding model folder {} is missing {}; it needs {} (e.g. the files of \
             sentence-transformers/all-MiniLM-L6-v2, copied there by hand: nothing is downloaded)",
            dir.display(),
            missing.join(", "),
            MODEL_FILES.join(", ")
        );
    }
    Ok(())
}

/// The content key of a model folder: the hash of its three files.
pub fn folder_key(dir: &Path) -> Result<crate::cache::Key> {
    check_folder(dir)?;
    let mut b = crate::cache::KeyBuilder::new("embedding-model", 1);
    for f in MODEL_FILES {
        let k = crate::cache::hash_file(&dir.join(f))
            .with_context(|| format!("cannot read {}", dir.join(f).display()))?;
        b = b.input(f, &k);
    }
    Ok(b.finish())
}

pub struct Embedder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    batch_size: usize,
}

impl Embedder {
    pub fn load(p: &EmbeddingParams, device: &Device) -> Result<Embedder> {
        let dir = &p.model;
        check_folder(dir)?;
        let config: Config = serde_json::from_slice(&std::fs::read(dir.join("config.json"))?)
            .with_context(|| format!("{}: not a BERT config", dir.join("config.json").display()))?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| anyhow::anyhow!("{}: {e}", dir.join("tokenizer.json").display()))?;
        tokenizer.with_padding(Some(PaddingParams::default()));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: p.max_length.min(config.max_position_embeddings),
                ..Default::default()
            }))
            .map_err(|e| anyhow::anyhow!("tokenizer: {e}"))?;
        let weights = dir.join("model.safetensors");
        // SAFETY: the file is memory-mapped read-only and not modified while
        // the model lives (it is the user's model folder).
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[&weights], DType::F32, device)? };
        let model = BertModel::load(vb, &config)
            .with_context(|| format!("{}: not a BERT model", weights.display()))?;
        Ok(Embedder {
            model,
            tokenizer,
            device: device.clone(),
            batch_size: p.batch_size.max(1),
        })
    }

    /// One unit-length vector per text.
    pub fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(self.batch_size) {
            let enc = self
                .tokenizer
                .encode_batch(chunk.to_vec(), true)
                .map_err(|e| anyhow::anyhow!("tokenizing lyrics: {e}"))?;
            let ids: Vec<Tensor> = enc
                .iter()
                .map(|e| Tensor::new(e.get_ids(), &self.device))
                .collect::<candle_core::Result<_>>()?;
            let mask: Vec<Tensor> = enc
                .iter()
                .map(|e| Tensor::new(e.get_attention_mask(), &self.device))
                .collect::<candle_core::Result<_>>()?;
            let ids = Tensor::stack(&ids, 0)?;
            let mask = Tensor::stack(&mask, 0)?;
            let types = ids.zeros_like()?;
            let hidden = self.model.forward(&ids, &types, Some(&mask))?;
            // Mean over real tokens: Σ h·m / Σ m.
            let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
            let summed = hidden.broadcast_mul(&m)?.sum(1)?;
            let pooled = summed.broadcast_div(&m.sum(1)?)?;
            let norm = pooled.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?;
            let unit = pooled.broadcast_div(&norm.clamp(1e-12, f64::MAX)?)?;
            out.extend(unit.to_vec2::<f32>()?);
        }
        Ok(out)
    }
}

/// Writes a tiny randomly initialised BERT (2 layers, hidden 32) with a
/// word-piece tokenizer into `dir`, in the layout of a Hugging Face folder:
/// for tests, here and in tests/, of the embedding path.
#[doc(hidden)]
pub fn write_tiny_model(dir: &Path) {
    use tokenizers::models::wordpiece::WordPiece;
    use tokenizers::normalizers::BertNormalizer;
    use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
    use tokenizers::processors::bert::BertProcessing;
    let words = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "love",
        "night",
        "rain",
        "heart",
        "song",
        "the",
        "আমি",
        "তুমি",
        "গান",
        "মন",
        "রাত",
    ];
    let vocab_file = dir.join("vocab.txt");
    std::fs::write(&vocab_file, words.join("\n")).unwrap();
    let wp = WordPiece::from_file(vocab_file.to_str().unwrap())
        .unk_token("[UNK]".into())
        .build()
        .unwrap();
    let mut tok = Tokenizer::new(wp);
    tok.with_normalizer(Some(BertNormalizer::new(true, true, Some(false), true)))
        .unwrap();
    tok.with_pre_tokenizer(Some(BertPreTokenizer));
    tok.with_post_processor(Some(BertProcessing::new(
        ("[SEP]".into(), 3),
        ("[CLS]".into(), 2),
    )));
    tok.save(dir.join("tokenizer.json"), false).unwrap();
    let config = serde_json::json!({
        "vocab_size": words.len(), "hidden_size": 32, "num_hidden_layers": 2,
        "num_attention_heads": 2, "intermediate_size": 64, "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1, "max_position_embeddings": 64, "type_vocab_size": 2,
        "initializer_range": 0.02, "layer_norm_eps": 1e-12, "pad_token_id": 0,
        "classifier_dropout": null, "model_type": "bert"
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let varmap = candle_nn::VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let cfg: Config = serde_json::from_value(config).unwrap();
    BertModel::load(vb, &cfg).unwrap();
    varmap.save(dir.join("model.safetensors")).unwrap();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiny_model_embeds_unit_vectors_independent_of_batching() {
        let dir = tempfile::tempdir().unwrap();
        write_tiny_model(dir.path());
        let p = EmbeddingParams {
            model: dir.path().to_path_buf(),
            max_length: 32,
            batch_size: 4,
        };
        let e = Embedder::load(&p, &Device::Cpu).unwrap();
        let texts: Vec<String> = [
            "love the rain",
            "আমি তুমি গান মন রাত love night heart song",
            "song",
        ]
        .map(String::from)
        .to_vec();
        let together = e.embed(&texts).unwrap();
        assert_eq!(together.len(), 3);
        for v in &together {
            assert_eq!(v.len(), 32);
            let n: f32 = v.iter().map(|x| x * x).sum();
            assert!((n - 1.0).abs() < 1e-5, "norm² {n}");
        }
        // Padding is masked: a text embedded alone equals its embedding in a
        // batch with longer texts.
        let alone = e.embed(&texts[..1]).unwrap();
        for (a, b) in alone[0].iter().zip(&together[0]) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
        assert_ne!(together[0], together[2]);
    }

    #[test]
    fn missing_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), "{}").unwrap();
        let e = check_folder(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("tokenizer.json, model.safetensors") && e.contains("nothing is downloaded"),
            "{e}"
        );
    }
}
