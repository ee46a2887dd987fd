//! Validation: every problem of a model at once, each with its exact path.

use super::types::*;
use super::{
    number_text, pattern, MAX_COMPOUND_QUESTIONS, MAX_DISTINCT_PAGES, MAX_PARTS, MAX_WINDOW_TIMES,
    UNQUALIFIED,
};
use std::fmt;

/// Longest id, name or question accepted, in characters.
pub const MAX_NAME_LEN: usize = 128;
/// Most rules a model may hold.
pub const MAX_RULES: usize = 1000;
/// Longest text a matcher may compare with, in bytes: no event carries more
/// ([`crate::engine::MAX_TEXT_LEN`]).
pub const MAX_TEXT_BYTES: usize = crate::engine::MAX_TEXT_LEN;
/// Most values in one list (`one_of`, `extensions`, `query`, `properties`, `requires`).
pub const MAX_LIST_ITEMS: usize = 1000;
/// Most tiers a model may have (the compiled form numbers them in one byte).
pub const MAX_TIERS: usize = 255;

/// One problem in a model, at a path such as `rules[3].when.page.path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelError {
    /// Where the problem is, in JSON-path-like notation.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// All problems found in a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelErrors(pub Vec<ModelError>);

impl fmt::Display for ModelErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ModelErrors {}

struct Collector(Vec<ModelError>);

impl Collector {
    fn err(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(ModelError {
            path: path.into(),
            message: message.into(),
        });
    }

    fn name(&mut self, path: &str, value: &str, what: &str) {
        if value.trim().is_empty() {
            self.err(path, format!("{what} must not be empty"));
        } else if value.chars().count() > MAX_NAME_LEN {
            self.err(
                path,
                format!("{what} is longer than {MAX_NAME_LEN} characters"),
            );
        }
    }

    fn positive(&mut self, path: &str, value: f64) {
        if !value.is_finite() || value <= 0.0 {
            self.err(
                path,
                format!("must be a positive number, got {}", number_text(value)),
            );
        }
    }

    fn finite(&mut self, path: &str, value: Option<f64>) {
        if let Some(v) = value {
            if !v.is_finite() {
                self.err(
                    path,
                    format!("must be a finite number, got {}", number_text(v)),
                );
            }
        }
    }

    fn at_least_one(&mut self, path: &str, value: u32) {
        if value == 0 {
            self.err(path, "must be at least 1");
        }
    }

    fn text(&mut self, path: &str, value: &str) {
        if value.len() > MAX_TEXT_BYTES {
            self.err(
                path,
                format!("longer than {MAX_TEXT_BYTES} bytes, which no event carries"),
            );
        }
    }

    fn items(&mut self, path: &str, n: usize) {
        if n > MAX_LIST_ITEMS {
            self.err(path, format!("more than {MAX_LIST_ITEMS} items"));
        }
    }

    fn pattern(&mut self, path: &str, value: &str) {
        // Patterns have their own limit (512 characters), within what an event carries.
        if let Err(e) = pattern::check(value) {
            self.err(path, e);
        }
    }

    fn condition(
        &mut self,
        path: &str,
        equals: &Option<String>,
        one_of: &Option<Vec<String>>,
        min: Option<f64>,
        max: Option<f64>,
    ) {
        let kinds = usize::from(equals.is_some())
            + usize::from(one_of.is_some())
            + usize::from(min.is_some() || max.is_some());
        if kinds != 1 {
            self.err(
                path,
                "give exactly one of `equals`, `one_of`, or a range (`min` / `max`)",
            );
        }
        if let Some(e) = equals {
            self.text(&format!("{path}.equals"), e);
        }
        if let Some(list) = one_of {
            if list.is_empty() {
                self.err(format!("{path}.one_of"), "must list at least one value");
            }
            self.items(&format!("{path}.one_of"), list.len());
            for (i, v) in list.iter().enumerate() {
                self.text(&format!("{path}.one_of[{i}]"), v);
            }
        }
        self.finite(&format!("{path}.min"), min);
        self.finite(&format!("{path}.max"), max);
        if let (Some(lo), Some(hi)) = (min, max) {
            if lo > hi {
                self.err(
                    path,
                    format!(
                        "min {} is greater than max {}",
                        number_text(lo),
                        number_text(hi)
                    ),
                );
            }
        }
    }

    fn bounds(&mut self, path: &str, b: &Bounds) {
        self.finite(&format!("{path}.min"), b.min);
        self.finite(&format!("{path}.max"), b.max);
        if let (Some(lo), Some(hi)) = (b.min, b.max) {
            if lo > hi {
                self.err(
                    path,
                    format!(
                        "min {} is greater than max {}",
                        number_text(lo),
                        number_text(hi)
                    ),
                );
            }
        }
    }
}

/// Checks a model and returns every problem found, each with its path.
pub fn validate(model: &Model) -> Result<(), ModelErrors> {
    let mut c = Collector(Vec::new());
    if model.version != FORMAT_VERSION {
        c.err(
            "version",
            format!(
                "unsupported format version {} (this build reads {FORMAT_VERSION})",
                model.version
            ),
        );
    }
    c.name("id", &model.id, "model id");
    c.name("model_version", &model.model_version, "model version");
    if let Some(t) = model.session_timeout_minutes {
        c.positive("session_timeout_minutes", t);
    }
    if model.rules.is_empty() {
        c.err("rules", "a model needs at least one rule");
    }
    if model.rules.len() > MAX_RULES {
        c.err("rules", format!("more than {MAX_RULES} rules"));
    }

    let hashes: Vec<u32> = model.rules.iter().map(|r| super::id_hash(&r.id)).collect();
    for (i, rule) in model.rules.iter().enumerate() {
        let at = format!("rules[{i}]");
        c.name(&format!("{at}.id"), &rule.id, "rule id");
        if let Some(bad) = rule
            .id
            .chars()
            .find(|ch| !(ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.' | ':')))
        {
            c.err(
                format!("{at}.id"),
                format!(
                    "rule id \"{}\" contains '{bad}'; use letters, digits, - _ . :",
                    rule.id
                ),
            );
        }
        if let Some(first) = model.rules.iter().take(i).position(|r| r.id == rule.id) {
            c.err(
                format!("{at}.id"),
                format!(
                    "duplicate rule id \"{}\" (first used at rules[{first}])",
                    rule.id
                ),
            );
        } else if let Some(first) = hashes
            .iter()
            .take(i)
            .position(|&h| Some(&h) == hashes.get(i))
        {
            // Visitor state keeps a rule's id as this hash: two ids must not share it.
            c.err(
                format!("{at}.id"),
                format!(
                    "rule id \"{}\" has the same 32-bit hash as \"{}\" (rules[{first}]), so visitor state could not tell them apart; rename one",
                    rule.id,
                    model.rules.get(first).map_or("", |r| r.id.as_str())
                ),
            );
        }
        check_matcher(&mut c, &format!("{at}.when"), &rule.when);
        match rule.frequency {
            Frequency::Once => {}
            _ if rule.when.counts_once() => {
                let what = if rule.when.parts().is_empty() {
                    format!("`{}` conditions count once", rule.when.kind())
                } else {
                    format!(
                        "an `{}` of answers and aggregates counts once (only one with a page, download, form or event condition fires more often)",
                        rule.when.kind()
                    )
                };
                c.err(
                    format!("{at}.frequency"),
                    format!("{what}; remove `frequency`"),
                );
            }
            Frequency::EveryTime => {}
            Frequency::AtMost(n) => c.at_least_one(&format!("{at}.frequency.at_most"), n),
            Frequency::AtMostPerWindow { times, days } => {
                let p = format!("{at}.frequency.at_most_per_window");
                c.at_least_one(&format!("{p}.times"), times);
                if times > MAX_WINDOW_TIMES {
                    c.err(
                        format!("{p}.times"),
                        format!("must be at most {MAX_WINDOW_TIMES}"),
                    );
                }
                c.positive(&format!("{p}.days"), days);
            }
        }
        match rule.decay {
            Decay::Never => {}
            Decay::HalfLifeDays(d) => c.positive(&format!("{at}.decay.half_life_days"), d),
            Decay::ExpiresAfterDays(d) => c.positive(&format!("{at}.decay.expires_after_days"), d),
        }
        if let Some(ev) = &rule.evidence {
            if !(0.0..=1.0).contains(&ev.conversion_rate) {
                c.err(
                    format!("{at}.evidence.conversion_rate"),
                    "must be between 0 and 1",
                );
            }
        }
    }

    let mut questions: Vec<&str> = Vec::new();
    for part in model.rules.iter().flat_map(|r| r.when.parts()) {
        if let Matcher::Answer { question, .. } = part {
            let q = question.trim();
            if !questions.iter().any(|k| k.eq_ignore_ascii_case(q)) {
                questions.push(q);
            }
        }
    }
    if questions.len() > MAX_COMPOUND_QUESTIONS {
        c.err(
            "rules",
            format!(
                "the answer conditions of `all` and `any` rules name {} questions; at most {MAX_COMPOUND_QUESTIONS} (the visitor's state keeps the current answer to each)",
                questions.len()
            ),
        );
    }

    for (name, b) in [
        ("fit", &model.limits.fit),
        ("engagement", &model.limits.engagement),
        ("intent", &model.limits.intent),
        ("product", &model.limits.product),
        ("total", &model.limits.total),
    ] {
        if let Some(b) = b {
            c.bounds(&format!("limits.{name}"), b);
        }
    }

    if let Some(cal) = &model.calibration {
        c.finite("calibration.intercept", Some(cal.intercept));
        c.finite("calibration.slope", Some(cal.slope));
    }

    check_tiers(&mut c, model);

    if c.0.is_empty() {
        Ok(())
    } else {
        Err(ModelErrors(c.0))
    }
}

fn check_matcher(c: &mut Collector, at: &str, m: &Matcher) {
    match m {
        Matcher::Page { path, query } => {
            c.pattern(&format!("{at}.page.path"), path);
            c.items(&format!("{at}.page.query"), query.len());
            for (k, v) in query {
                c.text(&format!("{at}.page.query"), k);
                if k.is_empty() {
                    c.err(
                        format!("{at}.page.query"),
                        "parameter names must not be empty",
                    );
                }
                let p = format!("{at}.page.query.{k}");
                match v {
                    QueryCondition::Equals(v) => {
                        c.text(&p, v);
                        if v.is_empty() {
                            c.err(p, "value must not be empty (use \"*\" for any value, {\"absent\": true} for none)");
                        }
                    }
                    QueryCondition::Test(QueryTest::Absent(absent)) => {
                        if !absent {
                            c.err(
                                format!("{p}.absent"),
                                "must be true (for a parameter with any value, write \"*\")",
                            );
                        }
                    }
                    QueryCondition::Test(QueryTest::OtherThan(list)) => {
                        let p = format!("{p}.other_than");
                        if list.is_empty() {
                            c.err(
                                &p,
                                "must list at least one value (for any value, write \"*\")",
                            );
                        }
                        c.items(&p, list.len());
                        for (i, v) in list.iter().enumerate() {
                            c.text(&format!("{p}[{i}]"), v);
                            if v.is_empty() || v == "*" {
                                c.err(
                                    format!("{p}[{i}]"),
                                    "must be a value (not empty, not \"*\")",
                                );
                            }
                        }
                    }
                }
            }
        }
        Matcher::Download { url, extensions } => {
            if url.is_none() && extensions.is_empty() {
                c.err(format!("{at}.download"), "give `url` or `extensions`");
            }
            if let Some(u) = url {
                c.pattern(&format!("{at}.download.url"), u);
            }
            c.items(&format!("{at}.download.extensions"), extensions.len());
            for (i, ext) in extensions.iter().enumerate() {
                c.text(&format!("{at}.download.extensions[{i}]"), ext);
                if ext.is_empty() || ext.contains(['.', '/', '*']) {
                    c.err(
                        format!("{at}.download.extensions[{i}]"),
                        format!(
                            "invalid extension \"{ext}\": write it without the dot, e.g. \"pdf\""
                        ),
                    );
                }
            }
        }
        Matcher::Answer {
            question,
            equals,
            one_of,
            min,
            max,
        } => {
            c.name(&format!("{at}.answer.question"), question, "question");
            c.condition(&format!("{at}.answer"), equals, one_of, *min, *max);
        }
        Matcher::Form { id, name } => {
            if id.is_none() && name.is_none() {
                c.err(format!("{at}.form"), "give the form's `id` or `name`");
            }
            if let Some(id) = id {
                c.name(&format!("{at}.form.id"), id, "form id");
            }
            if let Some(name) = name {
                c.name(&format!("{at}.form.name"), name, "form name");
            }
        }
        Matcher::Event { name, properties } => {
            c.name(&format!("{at}.event.name"), name, "event name");
            c.items(&format!("{at}.event.properties"), properties.len());
            for (k, cond) in properties {
                c.text(&format!("{at}.event.properties"), k);
                c.condition(
                    &format!("{at}.event.properties.{k}"),
                    &cond.equals,
                    &cond.one_of,
                    cond.min,
                    cond.max,
                );
            }
        }
        Matcher::Visits { at_least } => c.at_least_one(&format!("{at}.visits.at_least"), *at_least),
        Matcher::DistinctPages { at_least } => {
            let p = format!("{at}.distinct_pages.at_least");
            c.at_least_one(&p, *at_least);
            if *at_least > MAX_DISTINCT_PAGES {
                c.err(p, format!("must be at most {MAX_DISTINCT_PAGES}"));
            }
        }
        Matcher::PageViews { path, at_least } => {
            c.pattern(&format!("{at}.page_views.path"), path);
            c.at_least_one(&format!("{at}.page_views.at_least"), *at_least);
        }
        Matcher::TimeOnSite { at_least_seconds } => c.at_least_one(
            &format!("{at}.time_on_site.at_least_seconds"),
            *at_least_seconds,
        ),
        Matcher::ReturnVisit { within_days } => {
            c.positive(&format!("{at}.return_visit.within_days"), *within_days)
        }
        Matcher::All(parts) | Matcher::Any(parts) => check_compound(c, at, m, parts),
    }
}

/// `all` and `any`: 2 to 16 conditions, no compound among them, no `return_visit`; an `all`
/// has at most one momentary condition, an `any` has only momentary or only state-like ones;
/// at most one `page_views` condition (the rule keeps one count of page views).
fn check_compound(c: &mut Collector, at: &str, m: &Matcher, parts: &[Matcher]) {
    let kind = m.kind();
    let at = format!("{at}.{kind}");
    if parts.len() < 2 {
        c.err(
            &at,
            format!("give at least 2 conditions (a single one needs no `{kind}`)"),
        );
    }
    if parts.len() > MAX_PARTS {
        c.err(&at, format!("more than {MAX_PARTS} conditions"));
    }
    let mut momentary: Option<usize> = None;
    let mut page_views: Option<usize> = None;
    for (i, part) in parts.iter().enumerate() {
        let p = format!("{at}[{i}]");
        match part {
            Matcher::All(_) | Matcher::Any(_) => {
                c.err(
                    &p,
                    format!(
                        "`{}` cannot be nested in `{kind}`: compound conditions nest no further (list the conditions in one `all` or `any`, or write several rules)",
                        part.kind()
                    ),
                );
                continue;
            }
            Matcher::ReturnVisit { .. } => {
                c.err(
                    &p,
                    "`return_visit` cannot be part of a compound condition (it holds only at the start of a visit)",
                );
                continue;
            }
            Matcher::PageViews { .. } => {
                if let Some(first) = page_views {
                    c.err(
                        &p,
                        format!("at most one `page_views` condition per rule (the first is {at}[{first}])"),
                    );
                }
                page_views.get_or_insert(i);
            }
            _ => {}
        }
        check_matcher(c, &p, part);
        if matches!(m, Matcher::All(_)) && part.is_momentary() {
            match momentary {
                Some(first) => c.err(
                    &p,
                    format!(
                        "an `all` holds at most one page, download, form or event condition (the first is {at}[{first}]): two events never happen at once"
                    ),
                ),
                None => momentary = Some(i),
            }
        }
    }
    if matches!(m, Matcher::Any(_)) {
        let first = parts.first().is_some_and(Matcher::is_momentary);
        if let Some(i) = parts.iter().position(|p| p.is_momentary() != first) {
            c.err(
                format!("{at}[{i}]"),
                "an `any` lists either only page, download, form and event conditions or only answers and aggregates (write two rules)",
            );
        }
    }
}

/// The highest score each dimension can reach (`f64::INFINITY` when unbounded), after limits.
pub fn reachable_max(model: &Model) -> ([f64; 4], f64) {
    let mut dims = [0.0f64; 4];
    for rule in &model.rules {
        if rule.points <= 0 {
            continue;
        }
        let times = match rule.frequency {
            _ if rule.when.counts_once() => 1.0,
            Frequency::Once => 1.0,
            Frequency::AtMost(n) => f64::from(n),
            Frequency::EveryTime | Frequency::AtMostPerWindow { .. } => f64::INFINITY,
        };
        if let Some(d) = dims.get_mut(rule.dimension.index()) {
            *d += f64::from(rule.points) * times;
        }
    }
    // Limits clamp both ways: a `min` lifts every visitor's sub-score to it.
    for dim in Dimension::ALL {
        if let (Some(d), Some(b)) = (dims.get_mut(dim.index()), model.limits.of(dim)) {
            *d = b.clamp(*d);
        }
    }
    let mut total: f64 = dims.iter().sum();
    if let Some(b) = model.limits.total {
        total = b.clamp(total);
    }
    (dims, total)
}

/// Most firings of one rule the search in [`warnings`] tries.
const MAX_FIRINGS_TRIED: u32 = 64;
/// Most distinct sums the search in [`warnings`] keeps; beyond it the threshold is not judged.
const MAX_SUMS: usize = 100_000;

/// What may not behave as meant in a valid model: each warning with its path.
///
/// With `allow_demotion` (the default), a tier threshold that a half-life rule's points meet
/// exactly, on top of points that do not decay, holds only at the instant the rule fires: a
/// moment later the points have decayed below it and the visitor drops out of the tier again.
/// Only whole thresholds can be met exactly (points are whole numbers).
pub fn warnings(model: &Model) -> Vec<ModelError> {
    let mut out = Vec::new();
    if !model.allow_demotion {
        return out;
    }
    for (i, tier) in model.tiers.iter().enumerate() {
        for (name, dim, t) in tier.min.entries() {
            if !t.is_finite() || t.fract() != 0.0 || t.abs() > 1e12 {
                continue;
            }
            let t = t as i64;
            let counts = |r: &&Rule| dim.is_none_or(|d| r.dimension == d) && r.points != 0;
            let decaying: Vec<&Rule> = model
                .rules
                .iter()
                .filter(counts)
                .filter(|r| matches!(r.decay, Decay::HalfLifeDays(_)) && r.points > 0)
                .collect();
            if decaying.is_empty() {
                continue;
            }
            let Some(steady) = steady_sums(model.rules.iter().filter(counts)) else {
                continue;
            };
            let exact: Vec<String> = decaying
                .iter()
                .filter(|r| steady.contains(&(t - i64::from(r.points))))
                .map(|r| format!("`{}` ({} points)", r.id, r.points))
                .collect();
            if !exact.is_empty() {
                out.push(ModelError {
                    path: format!("tiers[{i}].min.{name}"),
                    message: format!(
                        "{t} is met exactly when {} fires on top of points that do not decay, \
                         so the tier holds only at that instant: a moment later half-life decay \
                         takes `{name}` below {t} and the visitor drops out again; set the \
                         threshold below what such a firing gives (or `allow_demotion: false`)",
                        exact.join(" or ")
                    ),
                });
            }
        }
    }
    out
}

/// Every sum of full points the rules that do not decay by half-life can give together (answers
/// to one question one at a time); `None` when there are too many to judge.
fn steady_sums<'a>(
    rules: impl Iterator<Item = &'a Rule>,
) -> Option<std::collections::BTreeSet<i64>> {
    // Each choice: the points one rule (or one question's answers) can add, 0 included.
    let mut choices: Vec<(Option<&str>, Vec<i64>)> = Vec::new();
    for rule in rules {
        if matches!(rule.decay, Decay::HalfLifeDays(_)) {
            continue;
        }
        let p = i64::from(rule.points);
        if let Matcher::Answer { question, .. } = &rule.when {
            match choices
                .iter_mut()
                .find(|(q, _)| *q == Some(question.as_str()))
            {
                Some((_, alternatives)) => alternatives.push(p),
                None => choices.push((Some(question.as_str()), vec![0, p])),
            }
            continue;
        }
        let times = match rule.frequency {
            _ if rule.when.counts_once() => 1,
            Frequency::Once => 1,
            Frequency::AtMost(n) => n.min(MAX_FIRINGS_TRIED),
            Frequency::EveryTime | Frequency::AtMostPerWindow { .. } => MAX_FIRINGS_TRIED,
        };
        choices.push((None, (0..=i64::from(times)).map(|k| k * p).collect()));
    }
    let mut sums = std::collections::BTreeSet::from([0i64]);
    for (_, alternatives) in &choices {
        let mut next = std::collections::BTreeSet::new();
        for s in &sums {
            for a in alternatives {
                next.insert(s + a);
            }
            if next.len() > MAX_SUMS {
                return None;
            }
        }
        sums = next;
    }
    Some(sums)
}

fn check_tiers(c: &mut Collector, model: &Model) {
    if model.tiers.is_empty() {
        c.err("tiers", "a model needs at least one tier");
    }
    if model.tiers.len() > MAX_TIERS {
        c.err("tiers", format!("more than {MAX_TIERS} tiers"));
    }
    let (dims, total) = reachable_max(model);
    for (i, tier) in model.tiers.iter().enumerate() {
        let at = format!("tiers[{i}]");
        c.name(&format!("{at}.name"), &tier.name, "tier name");
        if tier.name.eq_ignore_ascii_case(UNQUALIFIED) {
            c.err(
                format!("{at}.name"),
                "\"unqualified\" is the name for visitors in no tier; choose another",
            );
        }
        if let Some(first) = model.tiers.iter().take(i).position(|t| t.name == tier.name) {
            c.err(
                format!("{at}.name"),
                format!(
                    "duplicate tier name \"{}\" (first used at tiers[{first}])",
                    tier.name
                ),
            );
        }
        if tier.min.is_empty() && tier.max.is_empty() && tier.requires.is_empty() {
            c.err(
                at.clone(),
                "has no conditions, so every visitor would be in it; give `min`, `max` or `requires`",
            );
        }
        for (name, dim, value) in tier.min.entries() {
            let path = format!("{at}.min.{name}");
            if !value.is_finite() {
                c.err(
                    path,
                    format!("must be a finite number, got {}", number_text(value)),
                );
                continue;
            }
            let reach = match dim {
                Some(d) => dims.get(d.index()).copied().unwrap_or(0.0),
                None => total,
            };
            if value > reach {
                c.err(
                    path,
                    format!(
                        "{} cannot be reached: the rules and limits of `{name}` give at most {}",
                        number_text(value),
                        number_text(reach)
                    ),
                );
            }
        }
        for (name, _, value) in tier.max.entries() {
            if !value.is_finite() {
                c.err(
                    format!("{at}.max.{name}"),
                    format!("must be a finite number, got {}", number_text(value)),
                );
            }
        }
        c.items(&format!("{at}.requires"), tier.requires.len());
        for (j, req) in tier.requires.iter().enumerate() {
            if !model.rules.iter().any(|r| r.id == *req) {
                c.err(
                    format!("{at}.requires[{j}]"),
                    format!("unknown rule \"{req}\""),
                );
            }
        }
        if let Some(ev) = &tier.evidence {
            if !(0.0..=1.0).contains(&ev.conversion_rate) {
                c.err(
                    format!("{at}.evidence.conversion_rate"),
                    "must be between 0 and 1",
                );
            }
        }
    }
}
