//! TF-IDF with scikit-learn's `TfidfVectorizer` semantics (defaults:
//! smooth idf, l2 row norm, raw counts), over tokens from
//! [`super::tokenize`]. Written here because no Rust crate reproduces
//! scikit-learn's pruning and weighting exactly:
//!
//! - vocabulary sorted by code point (Python's string order);
//! - `min_df` / `max_df` as a document count (integer) or a fraction of the
//!   documents (float), pruned before `max_features`;
//! - `max_features` keeps the terms with the highest total count over the
//!   corpus (ties broken alphabetically; scikit-learn's unstable argsort
//!   leaves them unspecified), then restores vocabulary order;
//! - idf = ln((1 + n) / (1 + df)) + 1 (smooth) or ln(n / df) + 1;
//! - tf = count, or 1 + ln(count) with `sublinear_tf`; rows scaled to unit
//!   l2 (or l1) norm, empty documents left as zeros.

use std::collections::{BTreeMap, HashMap, HashSet};

use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// A document-frequency bound: a count of documents or a fraction of them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum DocFreq {
    Count(u64),
    Fraction(f64),
}

impl DocFreq {
    fn documents(self, n: usize) -> f64 {
        match self {
            DocFreq::Count(c) => c as f64,
            DocFreq::Fraction(f) => f * n as f64,
        }
    }

    pub fn check(self) -> Result<(), String> {
        match self {
            DocFreq::Fraction(f) if !(0.0..=1.0).contains(&f) => Err(format!(
                "a fraction of the documents must be in [0, 1], got {f} (use an integer for a count)"
            )),
            _ => Ok(()),
        }
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RowNorm {
    #[default]
    L2,
    L1,
    None,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TfidfParams {
    /// Keep the terms with the highest total count (ties alphabetical).
    #[serde(default)]
    pub max_features: Option<usize>,
    /// Ignore terms in fewer documents: an integer count or a fraction.
    #[serde(default = "d_min_df")]
    pub min_df: DocFreq,
    /// Ignore terms in more documents: an integer count or a fraction.
    #[serde(default = "d_max_df")]
    pub max_df: DocFreq,
    /// tf = 1 + ln(count).
    #[serde(default)]
    pub sublinear_tf: bool,
    /// idf = ln((1 + n) / (1 + df)) + 1 rather than ln(n / df) + 1.
    #[serde(default = "d_true")]
    pub smooth_idf: bool,
    /// Weight terms by idf.
    #[serde(default = "d_true")]
    pub use_idf: bool,
    /// Row norm: l2, l1 or none.
    #[serde(default)]
    pub norm: RowNorm,
    /// Built-in stop-word lists to apply: "en", "bn".
    #[serde(default)]
    pub stop_words: Vec<String>,
    /// Tokens shorter than this many characters are dropped (scikit-learn's
    /// default pattern drops one-character tokens too).
    #[serde(default = "d_min_chars")]
    pub min_chars: usize,
}

fn d_min_df() -> DocFreq {
    DocFreq::Count(1)
}
fn d_max_df() -> DocFreq {
    DocFreq::Fraction(1.0)
}
fn d_true() -> bool {
    true
}
fn d_min_chars() -> usize {
    2
}

impl Default for TfidfParams {
    fn default() -> Self {
        TfidfParams {
            max_features: None,
            min_df: d_min_df(),
            max_df: d_max_df(),
            sublinear_tf: false,
            smooth_idf: true,
            use_idf: true,
            norm: RowNorm::L2,
            stop_words: Vec::new(),
            min_chars: d_min_chars(),
        }
    }
}

/// A fitted TF-IDF: the vocabulary and each document's row.
#[derive(Debug)]
pub struct Tfidf {
    pub vocabulary: Vec<String>,
    pub idf: Vec<f64>,
    pub x: Array2<f64>,
}

impl TfidfParams {
    /// Tokenises with the built-in tokenizer and stop-word lists.
    pub fn tokens(&self, text: &str) -> Vec<String> {
        let stop: HashSet<&str> = self
            .stop_words
            .iter()
            .filter_map(|l| super::stopwords::list(l))
            .flatten()
            .copied()
            .collect();
        super::tokenize(text, self.min_chars)
            .into_iter()
            .filter(|t| !stop.contains(t.as_str()))
            .collect()
    }

    /// Fits on the tokenised documents and returns their rows.
    pub fn fit_transform(&self, docs: &[Vec<String>]) -> Result<Tfidf, String> {
        let n = docs.len();
        if n == 0 {
            return Err("no documents to fit TF-IDF on".into());
        }
        let counts: Vec<HashMap<&str, u64>> = docs
            .iter()
            .map(|d| {
                let mut m = HashMap::new();
                for t in d {
                    *m.entry(t.as_str()).or_insert(0) += 1;
                }
                m
            })
            .collect();
        // term → (document frequency, total count); BTreeMap gives code-point order.
        let mut stats: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        for c in &counts {
            for (&t, &k) in c {
                let e = stats.entry(t).or_default();
                e.0 += 1;
                e.1 += k;
            }
        }
        if stats.is_empty() {
            return Err(
                "empty vocabulary: the documents contain no tokens (or only stop words)".into(),
            );
        }
        let (high, low) = (self.max_df.documents(n), self.min_df.documents(n));
        if high < low {
            return Err("max_df corresponds to fewer documents than min_df".into());
        }
        let mut kept: Vec<(&str, u64, u64)> = stats
            .into_iter()
            .filter(|(_, (df, _))| (*df as f64) <= high && (*df as f64) >= low)
            .map(|(t, (df, tf))| (t, df, tf))
            .collect();
        if let Some(limit) = self.max_features {
            if kept.len() > limit {
                // Stable: equal totals keep vocabulary order.
                kept.sort_by_key(|&(_, _, tf)| std::cmp::Reverse(tf));
                kept.truncate(limit);
                kept.sort_by(|a, b| a.0.cmp(b.0));
            }
        }
        if kept.is_empty() {
            return Err("after pruning, no terms remain; lower min_df or raise max_df".into());
        }
        let idf: Vec<f64> = kept
            .iter()
            .map(|&(_, df, _)| {
                if !self.use_idf {
                    1.0
                } else if self.smooth_idf {
                    ((1.0 + n as f64) / (1.0 + df as f64)).ln() + 1.0
                } else {
                    (n as f64 / df as f64).ln() + 1.0
                }
            })
            .collect();
        let index: HashMap<&str, usize> = kept.iter().enumerate().map(|(i, k)| (k.0, i)).collect();
        let mut x = Array2::<f64>::zeros((n, kept.len()));
        for (mut row, c) in x.rows_mut().into_iter().zip(&counts) {
            for (t, &k) in c {
                if let Some(&j) = index.get(t) {
                    let tf = if self.sublinear_tf {
                        1.0 + (k as f64).ln()
                    } else {
                        k as f64
                    };
                    row[j] = tf * idf[j];
                }
            }
            let norm = match self.norm {
                RowNorm::L2 => row.iter().map(|v| v * v).sum::<f64>().sqrt(),
                RowNorm::L1 => row.iter().map(|v| v.abs()).sum::<f64>(),
                RowNorm::None => 1.0,
            };
            if norm > 0.0 {
                row.mapv_inplace(|v| v / norm);
            }
        }
        Ok(Tfidf {
            vocabulary: kept.iter().map(|k| k.0.to_string()).collect(),
            idf,
            x,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs(texts: &[&str]) -> Vec<Vec<String>> {
        let p = TfidfParams::default();
        texts.iter().map(|t| p.tokens(t)).collect()
    }

    #[test]
    fn hand_worked_smooth_idf_l2() {
        // Two documents: "aa bb", "aa". idf(aa) = ln(3/3)+1 = 1,
        // idf(bb) = ln(3/2)+1; row 0 = (1, 1+ln 1.5)/‖·‖, row 1 = (1, 0).
        let t = TfidfParams::default()
            .fit_transform(&docs(&["aa bb", "aa"]))
            .unwrap();
        assert_eq!(t.vocabulary, vec!["aa", "bb"]);
        let b = 1.0 + 1.5f64.ln();
        let norm = (1.0 + b * b).sqrt();
        assert!((t.x[[0, 0]] - 1.0 / norm).abs() < 1e-15);
        assert!((t.x[[0, 1]] - b / norm).abs() < 1e-15);
        assert_eq!(t.x.row(1).to_vec(), vec![1.0, 0.0]);
    }

    #[test]
    fn pruning_errors_are_clear() {
        let p = TfidfParams {
            min_df: DocFreq::Count(3),
            max_df: DocFreq::Count(10),
            ..Default::default()
        };
        assert!(p
            .fit_transform(&docs(&["aa bb", "aa"]))
            .unwrap_err()
            .contains("no terms remain"));
        assert!(TfidfParams::default()
            .fit_transform(&docs(&["!", "?"]))
            .unwrap_err()
            .contains("empty vocabulary"));
        assert!(DocFreq::Fraction(1.5).check().is_err());
    }
}
