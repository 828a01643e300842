//! Lyrics: tokenising text that mixes Latin and Bengali script, telling
//! which script a text is written in, and turning lyrics into features
//! (TF-IDF, transformer embeddings).

pub mod embed;
pub mod stopwords;
pub mod tfidf;

use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

/// How a feature set turns lyrics into columns: `lyrics = { kind = "tfidf",
/// … }` or `lyrics = { kind = "embedding", model = "path/to/folder" }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LyricsSpec {
    Tfidf(tfidf::TfidfParams),
    Embedding(embed::EmbeddingParams),
}

/// The Bengali Unicode block.
fn is_bengali(c: char) -> bool {
    ('\u{0980}'..='\u{09FF}').contains(&c)
}

/// Splits text into word tokens at Unicode (UAX #29) word boundaries.
/// A Bengali word stays whole: vowel signs, the virama and other combining
/// marks belong to the word they modify (a `\w+` regex, as scikit-learn's
/// default, would cut at each of them). Latin script is lower-cased;
/// punctuation and tokens shorter than `min_chars` characters are dropped.
pub fn tokenize(text: &str, min_chars: usize) -> Vec<String> {
    text.unicode_words()
        .filter(|w| w.chars().count() >= min_chars)
        .map(|w| w.to_lowercase())
        .collect()
}

/// Which script the letters of a text are in: `en` (Latin), `bn`
/// (Bengali), `mixed` (at least a fifth of each), or `none` (no letters,
/// e.g. an instrumental with no lyrics).
pub fn language_of(text: &str) -> &'static str {
    let (mut latin, mut bengali) = (0usize, 0usize);
    for c in text.chars() {
        if is_bengali(c) {
            bengali += 1;
        } else if c.is_alphabetic() {
            latin += 1;
        }
    }
    let total = latin + bengali;
    if total == 0 {
        "none"
    } else if bengali * 5 < total {
        "en"
    } else if latin * 5 < total {
        "bn"
    } else {
        "mixed"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bengali_words_stay_whole() {
        // ভালোবাসা has the vowel signs া and ো (combining marks);
        // স্বপ্ন has two viramas (্).
        let t = tokenize("Love, ভালোবাসা! স্বপ্ন-night a", 2);
        assert_eq!(t, vec!["love", "ভালোবাসা", "স্বপ্ন", "night"]);
    }

    #[test]
    fn scripts_are_told_apart() {
        assert_eq!(language_of("love in the rain"), "en");
        assert_eq!(language_of("আমি তুমি গান"), "bn");
        assert_eq!(language_of("love আমি তুমি rain"), "mixed");
        assert_eq!(language_of("  ... "), "none");
    }
}
