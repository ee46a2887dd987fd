//! Path patterns: `/pricing`, `/pricing/*`, `/docs/**`, `/files/*.pdf`.
//!
//! `*` matches within one path segment, `**` matches any number of segments (including none),
//! `?` matches one character other than `/`. Matching ignores ASCII case and a trailing `/`.
//! Character classes and braces are not supported and make a pattern invalid.

use alloc::vec;
use alloc::vec::Vec;

/// Longest pattern accepted, in bytes.
pub const MAX_PATTERN_LEN: usize = 512;
/// Most wildcards a pattern may hold.
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
    let p = trim_slash(pattern.as_bytes());
    match p.iter().position(|&c| c == b'*' || c == b'?') {
        None => p.len(),
        Some(wild) => p
            .get(..wild)
            .and_then(|s| s.iter().rposition(|&c| c == b'/'))
            .unwrap_or(0),
    }
}

/// [`matches`] with the pattern's [`literal_prefix`] computed ahead: the literal part is compared
/// directly, so most paths that do not match are rejected without backtracking.
pub fn matches_after(pattern: &str, literal: usize, path: &str) -> bool {
    // Bytes, not `str` slices: the literal part ends before a `/` of the pattern, so a path whose
    // first `literal` bytes equal it (ASCII case aside) is cut there on a character boundary too.
    let (p, t) = (trim_slash(pattern.as_bytes()), trim_slash(path.as_bytes()));
    if literal >= p.len() {
        return p.eq_ignore_ascii_case(t);
    }
    match (p.split_at_checked(literal), t.split_at_checked(literal)) {
        (Some((a, p_rest)), Some((b, t_rest))) if a.eq_ignore_ascii_case(b) => match p_rest {
            // The usual tails, answered without the table: `/**` (the folder and everything
            // below it) and `/*` (one segment below the folder).
            b"/**" => t_rest.first().is_none_or(|&c| c == b'/'),
            b"/*" => t_rest
                .split_first()
                .is_some_and(|(&c, rest)| c == b'/' && !rest.contains(&b'/')),
            p_rest => glob(p_rest, t_rest),
        },
        _ => false,
    }
}

/// `s` without one trailing `/`, unless `s` is just `/`.
fn trim_slash(s: &[u8]) -> &[u8] {
    match s.split_last() {
        Some((b'/', rest)) if !rest.is_empty() => rest,
        _ => s,
    }
}

/// Matches the wildcard part of a pattern against the rest of a path in O(pattern × path) steps
/// and linear memory, whatever the input: a table of "does `p[k..]` match `t[i..]`" filled from
/// the end, keeping the four rows that each step needs (`**/` looks three bytes ahead).
/// (A backtracking matcher takes seconds on patterns like `/*a*a*b` and long paths.)
fn glob(p: &[u8], t: &[u8]) -> bool {
    let n = t.len() + 1;
    let mut rows: [Vec<bool>; 4] = [
        vec![false; n],
        vec![false; n],
        vec![false; n],
        vec![false; n],
    ];
    for k in (0..=p.len()).rev() {
        let mut row = rows.get_mut(k % 4).map(core::mem::take).unwrap_or_default();
        let empty = Vec::new();
        let ahead = |d: usize| rows.get((k + d) % 4).unwrap_or(&empty);
        let at = |r: &Vec<bool>, i: usize| r.get(i).copied().unwrap_or(false);
        let text = |i: usize| t.get(i).copied();
        match p.get(k) {
            None => {
                for (i, cell) in row.iter_mut().enumerate() {
                    *cell = i == t.len();
                }
            }
            Some(b'*') if p.get(k + 1) == Some(&b'*') => {
                // `**` spans segments; `**/` may also stand for no segment at all.
                let (after, slash) = (ahead(2), p.get(k + 2) == Some(&b'/'));
                let skip = ahead(3);
                let mut any = false;
                for i in (0..n).rev() {
                    any |= at(after, i);
                    if let Some(cell) = row.get_mut(i) {
                        *cell = any || (slash && at(skip, i));
                    }
                }
            }
            Some(b'*') => {
                // `*` stays within one segment.
                let rest = ahead(1);
                for i in (0..n).rev() {
                    let longer = text(i).is_some_and(|c| c != b'/') && at(&row, i + 1);
                    let here = at(rest, i) || longer;
                    if let Some(cell) = row.get_mut(i) {
                        *cell = here;
                    }
                }
            }
            Some(&c) => {
                // `/**` at the end also matches the path without its last segment.
                let open_end = c == b'/' && p.get(k + 1..) == Some(&b"**"[..]);
                let rest = ahead(1);
                for (i, cell) in row.iter_mut().enumerate() {
                    let one = match (c, text(i)) {
                        (b'?', Some(d)) => d != b'/',
                        (_, Some(d)) => c.eq_ignore_ascii_case(&d),
                        (_, None) => false,
                    };
                    *cell = (open_end && i == t.len()) || (one && at(rest, i + 1));
                }
            }
        }
        if let Some(slot) = rows.get_mut(k % 4) {
            *slot = row;
        }
    }
    rows.first()
        .is_some_and(|r| r.first().copied().unwrap_or(false))
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
    fn usual_tails_agree_with_the_table() {
        let paths = [
            "",
            "/",
            "//",
            "/docs",
            "/docs/",
            "/docs/a",
            "/docs/a/",
            "/docs/a/b",
            "/docsx",
            "/docs/a//b",
            "/DOCS/A",
            "/doc",
            "/docs/a?x",
            "/blog",
            "/blog/",
            "/blog/p",
            "/blog/p/q",
            "/blogs/p",
            "/Blog/P/",
        ];
        for pattern in ["/docs/**", "/blog/*", "/**", "/*", "/docs/api/**"] {
            let literal = literal_prefix(pattern);
            let p = trim_slash(pattern.as_bytes());
            for path in paths {
                let t = trim_slash(path.as_bytes());
                let expected = match (p.get(..literal), t.get(..literal)) {
                    (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => {
                        glob(p.get(literal..).unwrap(), t.get(literal..).unwrap())
                    }
                    _ => false,
                };
                assert_eq!(matches(pattern, path), expected, "{pattern} on {path:?}");
            }
        }
    }

    #[test]
    fn question_mark_is_one_character() {
        assert!(matches("/v?", "/v2"));
        assert!(!matches("/v?", "/v22"));
        assert!(!matches("/a?b", "/a/b"));
    }

    /// The backtracking matcher `glob` replaced: the reference for its meaning.
    fn reference(p: &[u8], t: &[u8]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some((b'*', rest)) => {
                if let Some(after) = rest.strip_prefix(b"*") {
                    if let Some(after_slash) = after.strip_prefix(b"/") {
                        if reference(after_slash, t) {
                            return true;
                        }
                    }
                    (0..=t.len()).any(|i| reference(after, &t[i..]))
                } else {
                    for i in 0..=t.len() {
                        if reference(rest, &t[i..]) {
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
                Some((c, tail)) if *c != b'/' => reference(rest, tail),
                _ => false,
            },
            Some((c, rest)) => match t.split_first() {
                Some((d, tail)) if c.eq_ignore_ascii_case(d) => reference(rest, tail),
                _ => false,
            },
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 4096, ..Default::default() })]
        #[test]
        fn the_linear_matcher_means_what_backtracking_meant(
            p in "[ab/*?]{0,9}",
            t in "[abAB/]{0,12}",
        ) {
            proptest::prop_assert_eq!(glob(p.as_bytes(), t.as_bytes()), reference(p.as_bytes(), t.as_bytes()));
        }
    }

    #[test]
    fn adversarial_paths_match_in_linear_time() {
        // Each took seconds to tens of seconds with the backtracking matcher.
        let dashes = format!("/{}", "-".repeat(2000));
        assert!(!matches("/*-*-*.html", &dashes));
        assert!(!matches("/*a*a*b", &format!("/{}", "a".repeat(2000))));
        assert!(!matches(
            "/*a*a*a*a*a*a*a*b",
            &format!("/{}", "a".repeat(2040))
        ));
        assert!(matches("/**/*a*a*b", &format!("/x/{}b", "a".repeat(2000))));
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
