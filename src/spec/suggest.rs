//! "Did you mean" suggestions for mistyped keys and kinds.

/// The candidate closest to `word` by edit distance, if it is close enough to
/// be a plausible typo (at most a third of the word's length, at least 1).
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1) + usize::from(word.len() > 6);
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, c.len()))
        .map(|(_, c)| c)
}

/// Turns serde's "unknown field `x`, expected one of `a`, `b`" into a
/// message that names the key and suggests the nearest valid one.
pub fn rewrite_unknown_field(message: &str) -> String {
    let (rest, what) = if let Some(rest) = message.strip_prefix("unknown field `") {
        (rest, "key")
    } else if let Some(rest) = message.strip_prefix("unknown variant `") {
        (rest, "value")
    } else {
        return message.to_string();
    };
    let Some((field, tail)) = rest.split_once('`') else {
        return message.to_string();
    };
    let expected: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
    let mut out = format!("unknown {what} `{field}`");
    match nearest(field, expected.iter().copied()) {
        Some(best) => out.push_str(&format!("; did you mean `{best}`?")),
        None if !expected.is_empty() => {
            out.push_str(&format!("; valid {what}s here: {}", expected.join(", ")))
        }
        None => out.push_str("; this section takes no keys"),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_keys_only() {
        assert_eq!(nearest("modle", ["model", "models", "seed"]), Some("model"));
        assert_eq!(
            nearest("latnet_dim", ["latent_dim", "hidden"]),
            Some("latent_dim")
        );
        assert_eq!(nearest("zzz", ["model", "seed"]), None);
    }

    #[test]
    fn rewrites_serde_unknown_field() {
        let m = rewrite_unknown_field("unknown field `sedes`, expected one of `name`, `seeds`");
        assert_eq!(m, "unknown key `sedes`; did you mean `seeds`?");
        let m = rewrite_unknown_field("unknown field `qqqq`, expected `name` or `seeds`");
        assert_eq!(m, "unknown key `qqqq`; valid keys here: name, seeds");
    }
}
