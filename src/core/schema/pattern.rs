//! `pattern` and `patternProperties`: a JS `RegExp` in the browser (regex-lite natively, see
//! `mango::regex`), except for patterns that are plain text with optional `^`/`$` anchors
//! (`^Item `, `@example\.com$` is not one: it has an escape), which are matched as strings.
//! Those are common in real schemas, and a `RegExp` call costs a string copy into JS.

use crate::core::mango::regex::Pattern;

pub(super) enum Matcher {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Contains(String),
    Regex(Pattern),
}

impl Matcher {
    pub(super) fn new(pattern: &str) -> Result<Matcher, String> {
        let start = pattern.strip_prefix('^');
        let rest = start.unwrap_or(pattern);
        let end = rest.strip_suffix('$');
        let text = end.unwrap_or(rest);
        if text.chars().any(|c| ".^$*+?()[]{}|\\/".contains(c)) {
            return Pattern::new(pattern).map(Matcher::Regex);
        }
        let text = text.to_string();
        Ok(match (start.is_some(), end.is_some()) {
            (true, true) => Matcher::Exact(text),
            (true, false) => Matcher::Prefix(text),
            (false, true) => Matcher::Suffix(text),
            (false, false) => Matcher::Contains(text),
        })
    }

    pub(super) fn is_match(&self, s: &str) -> bool {
        match self {
            Matcher::Exact(t) => s == t,
            Matcher::Prefix(t) => s.starts_with(t.as_str()),
            Matcher::Suffix(t) => s.ends_with(t.as_str()),
            Matcher::Contains(t) => s.contains(t.as_str()),
            Matcher::Regex(p) => p.is_match(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Matcher;

    #[test]
    fn plain_text_patterns_match_as_their_regexes_would() {
        let cases = [
            ("^Item ", "Item 3", true),
            ("^Item ", "An Item ", false),
            ("ab", "cabd", true),
            ("^ab$", "abc", false),
            ("c$", "abc", true),
            ("^a.c$", "abc", true),
        ];
        for (p, s, want) in cases {
            assert_eq!(Matcher::new(p).unwrap().is_match(s), want, "{p} on {s}");
        }
        assert!(matches!(Matcher::new("^a.c$").unwrap(), Matcher::Regex(_)));
    }
}
