//! Built-in stop-word lists, chosen with `stop_words = ["en", "bn"]`.
//! Short lists of function words (articles, pronouns, auxiliaries,
//! conjunctions, postpositions), not scikit-learn's 318-word English list:
//! lyrics are short and their pronouns are often the content.

pub const ENGLISH: &[&str] = &[
    "a", "about", "above", "after", "again", "all", "am", "an", "and", "any", "are", "as", "at",
    "be", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could",
    "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had",
    "has", "have", "having", "he", "her", "here", "hers", "him", "his", "how", "i", "if", "in",
    "into", "is", "it", "its", "just", "more", "most", "my", "no", "nor", "not", "now", "of",
    "off", "on", "once", "only", "or", "other", "our", "out", "over", "own", "same", "she",
    "should", "so", "some", "such", "than", "that", "the", "their", "them", "then", "there",
    "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "very",
    "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will",
    "with", "would", "you", "your",
];

pub const BANGLA: &[&str] = &[
    "এবং",
    "ও",
    "আর",
    "কিন্তু",
    "বা",
    "অথবা",
    "যে",
    "যা",
    "যদি",
    "তবে",
    "তাই",
    "এই",
    "ওই",
    "সেই",
    "এক",
    "একটি",
    "একটা",
    "কি",
    "কী",
    "কেন",
    "কোন",
    "কোথায়",
    "কখন",
    "না",
    "নয়",
    "হয়",
    "হবে",
    "ছিল",
    "আছে",
    "থেকে",
    "দিয়ে",
    "জন্য",
    "মধ্যে",
    "উপর",
    "নিচে",
    "সাথে",
    "সঙ্গে",
    "পর্যন্ত",
    "হতে",
    "করে",
    "করা",
    "তো",
    "ই",
    "এ",
    "সে",
    "তার",
    "তা",
    "তারা",
    "আমার",
    "তোমার",
    "আমাদের",
    "তোমাদের",
];

/// The list for a language code, if there is one.
pub fn list(code: &str) -> Option<&'static [&'static str]> {
    match code {
        "en" => Some(ENGLISH),
        "bn" => Some(BANGLA),
        _ => None,
    }
}

pub const LANGUAGES: &[&str] = &["en", "bn"];
