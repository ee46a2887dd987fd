//! Path patterns: `/pricing`, `/pricing/*`, `/docs/**`, `/files/*.pdf`.
//!
//! `*` matches within one path segment, `**` matches any number of segments (including none),
//! `?` matches one character other than `/`. Matching ignores ASCII case and a trailing `/`.
//! Character classes and braces are not supported and make a pattern invalid.

/// Longest pattern accepted, in bytes.
pub const MAX_PATTERN_LEN: usize = 512;
/// Most wildcards a pattern may hold (keeps matching cost small and predictable).
pub const MAX_WILDCARDS: usize = 8;

/// Checks a path pattern; the error says what is wrong with it.
#[cfg(feature = "std")]
pub fn check(pattern: &str) -> Result<(), String> {
    if !pattern.starts_with('/') {
        return Err(format!(
            "invalid pattern \"{pattern}\": must start with \"/\""
        ));
    }
    if pattern.len() > MAX_PATTERN_LEN {
        return Err(format!(
            "invalid pattern: longer than {MAX_PATTERN_LEN} characters"
        ));
    }
    if let Some(c) = pattern
        .chars()
        .find(|c| matches!(c, '[' | ']' | '{' | '}' | '\\') || c.is_whitespace())
    {
        return Err(format!(
            "invalid pattern \"{pattern}\": '{c}' is not supported (use *, ** and ?)"
        ));
    }
    if pattern.as_bytes().windows(3).any(|w| w == b"***") {
        return Err(format!(
            "invalid pattern \"{pattern}\": \"***\" is not a wildcard"
        ));
    }
    let wildcards = pattern.matches("**").count()
        + pattern.replace("**", "").matches('*').count()
        + pattern.matches('?').count();
    if wildcards > MAX_WILDCARDS {
        return Err(format!(
            "invalid pattern \"{pattern}\": more than {MAX_WILDCARDS} wildcards"
        ));
    }
    Ok(())
}

/// True when `path` matches `pattern` (a pattern that passed [`check`]).
pub fn matches(pattern: &str, path: &str) -> bool {
    matches_after(pattern, literal_prefix(pattern), path)
}

/// The length of the part of `pattern` that [`matches_after`] may compare literally: up to the
/// last `/` before the first wildcard, or all of it when it has no wildcard.
pub fn literal_prefix(pattern: &str) -> usize {
    let p = trim_slash(pattern);
    match p.find(['*', '?']) {
        None => p.len(),
        Some(wild) => p.get(..wild).and_then(|s| s.rfind('/')).unwrap_or(0),
    }
}

/// [`matches`] with the pattern's [`literal_prefix`] computed ahead: the literal part is compared
/// directly, so most paths that do not match are rejected without backtracking.
pub fn matches_after(pattern: &str, literal: usize, path: &str) -> bool {
    let (p, t) = (trim_slash(pattern), trim_slash(path));
    if literal >= p.len() {
        return p.eq_ignore_ascii_case(t);
    }
    match (
        p.get(..literal),
        t.get(..literal),
        p.get(literal..),
        t.get(literal..),
    ) {
        (Some(a), Some(b), Some(p_rest), Some(t_rest)) if a.eq_ignore_ascii_case(b) => {
            glob(p_rest.as_bytes(), t_rest.as_bytes())
        }
        _ => false,
    }
}

fn trim_slash(s: &str) -> &str {
    if s.len() > 1 {
        s.strip_suffix('/').unwrap_or(s)
    } else {
        s
    }
}

fn glob(p: &[u8], t: &[u8]) -> bool {
    match p.split_first() {
        None => t.is_empty(),
        Some((b'*', rest)) => {
            if let Some(after) = rest.strip_prefix(b"*") {
                // `**/` may stand for no segment at all.
                if let Some(after_slash) = after.strip_prefix(b"/") {
                    if glob(after_slash, t) {
                        return true;
                    }
                }
                (0..=t.len()).any(|i| t.get(i..).is_some_and(|tail| glob(after, tail)))
            } else {
                for i in 0..=t.len() {
                    if t.get(i..).is_some_and(|tail| glob(rest, tail)) {
                        return true;
                    }
                    if t.get(i) == Some(&b'/') {
                        break;
                    }
                }
                false
            }
        }
        Some((b'/', rest)) if rest == b"**" && t.is_empty() => true,
        Some((b'?', rest)) => match t.split_first() {
            Some((c, tail)) if *c != b'/' => glob(rest, tail),
            _ => false,
        },
        Some((c, rest)) => match t.split_first() {
            Some((d, tail)) if c.eq_ignore_ascii_case(d) => glob(rest, tail),
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_paths_ignore_case_and_trailing_slash() {
        assert!(matches("/pricing", "/pricing"));
        assert!(matches("/pricing", "/Pricing/"));
        assert!(!matches("/pricing", "/pricing/enterprise"));
        assert!(!matches("/pricing", "/pricingx"));
        assert!(matches("/", "/"));
    }

    #[test]
    fn single_star_stays_in_one_segment() {
        assert!(matches("/pricing/*", "/pricing/team"));
        assert!(!matches("/pricing/*", "/pricing/team/annual"));
        assert!(matches("/files/*.pdf", "/files/ebook.pdf"));
        assert!(!matches("/files/*.pdf", "/files/a/ebook.pdf"));
        assert!(matches("/blog/*/comments", "/blog/post-1/comments"));
    }

    #[test]
    fn double_star_spans_segments() {
        assert!(matches("/docs/**", "/docs"));
        assert!(matches("/docs/**", "/docs/a"));
        assert!(matches("/docs/**", "/docs/a/b/c"));
        assert!(!matches("/docs/**", "/documents"));
        assert!(matches("/**/*.pdf", "/a/b/c.pdf"));
        assert!(matches("/**/*.pdf", "/c.pdf"));
        assert!(matches("/**", "/anything/at/all"));
    }

    #[test]
    fn question_mark_is_one_character() {
        assert!(matches("/v?", "/v2"));
        assert!(!matches("/v?", "/v22"));
        assert!(!matches("/a?b", "/a/b"));
    }

    #[test]
    fn invalid_patterns_are_named() {
        assert_eq!(
            check("["),
            Err("invalid pattern \"[\": must start with \"/\"".to_string())
        );
        assert!(check("/a[b]").unwrap_err().contains("'[' is not supported"));
        assert!(check("pricing").unwrap_err().contains("must start with"));
        assert!(check("/a/***").is_err());
        assert!(check("/{a,b}").is_err());
        assert!(check("/*/*/*/*/*/*/*/*/*").is_err());
        assert!(check("/docs/**").is_ok());
        assert!(check("/files/*.pdf").is_ok());
    }
}
