//! The reference peer: a plain native interpreter of the model JSON, the loop a team might write
//! by hand. A straightforward port of `benches/browser/reference.mjs`: the rules read from the
//! JSON once, then for each event a loop over the rules of its kind with string compares (ASCII
//! case ignored, as the engine does; no lowercased copies), and a
//! visitor state of plain counters per rule. It follows the engine's semantics for everything the
//! benchmark model uses, so that its tiers and scores equal the engine's bit for bit: decay is
//! computed as the engine computes it (with `libm`, whole half-lives as exact powers of two),
//! a half-life rule keeps its decayed firings as the engine's state does, the per-dimension sums
//! are added in rule order, clamped, then totalled, and the tier is evaluated after every event.

use leadscore::engine::{Event, Millis, Value, MAX_ENTRIES, MAX_TEXT_LEN};
use serde_json::Value as Json;

const DAY_MS: f64 = 86_400_000.0;
const MAX_DISTINCT_PAGES: usize = 64;
const MAX_FIRINGS_KEPT: usize = 32;
const DIMENSIONS: [&str; 4] = ["fit", "engagement", "intent", "product"];
const AGGREGATES: [&str; 5] = [
    "visits",
    "distinct_pages",
    "page_views",
    "time_on_site",
    "return_visit",
];
pub const UNQUALIFIED: &str = "unqualified";

/// A condition on an answer or property value.
enum Condition {
    Equals(String),
    OneOf(Vec<String>),
    Range(f64, f64),
}

enum Frequency {
    Once,
    EveryTime,
    AtMost(u32),
    PerWindow { times: usize, window_ms: Millis },
}

struct Rule {
    id: String,
    kind: String,
    dim: usize,
    points: f64,
    frequency: Frequency,
    half_life_days: f64,
    expires_ms: Millis,
    pattern: Option<String>,
    query: Vec<(String, String)>,
    extensions: Vec<String>,
    question: String,
    condition: Option<Condition>,
    form_id: Option<String>,
    form_name: Option<String>,
    name: String,
    properties: Vec<(String, Condition)>,
    at_least: f64,
    within_ms: f64,
}

struct Tier {
    name: String,
    /// Thresholds on fit, engagement, intent, product, total.
    min: [Option<f64>; 5],
    max: [Option<f64>; 5],
    requires: Vec<usize>,
}

/// The model JSON, prepared once for scoring.
pub struct Model {
    rules: Vec<Rule>,
    page: Vec<usize>,
    download: Vec<usize>,
    answer: Vec<usize>,
    form: Vec<usize>,
    event: Vec<usize>,
    aggregate: Vec<usize>,
    limits: [(f64, f64); 4],
    total_limits: (f64, f64),
    tiers: Vec<Tier>,
    allow_demotion: bool,
    session_ms: Millis,
}

#[derive(Default, Clone)]
struct RuleState {
    count: u32,
    progress: u32,
    window: Vec<Millis>,
    held: f64,
    held_at: Millis,
    firings: Vec<(Millis, u32)>,
}

/// One visitor.
#[derive(Clone)]
pub struct State {
    last_seen: Option<Millis>,
    clock: Option<Millis>,
    visits: u32,
    seconds: f64,
    pages: Vec<u32>,
    /// 0 unqualified, i + 1 the model's tier i.
    tier: usize,
    rules: Vec<RuleState>,
    new_visit: bool,
    gap: Option<Millis>,
}

/// A score: sub-scores, total, tier and the tier before.
pub struct Score {
    pub sums: [f64; 4],
    pub total: f64,
    pub tier: usize,
    pub previous: usize,
}

fn lower(v: &Json) -> String {
    v.as_str().unwrap_or_default().to_lowercase()
}

fn condition(c: &Json) -> Condition {
    if let Some(e) = c.get("equals") {
        return Condition::Equals(lower(e));
    }
    if let Some(list) = c.get("one_of").and_then(Json::as_array) {
        return Condition::OneOf(list.iter().map(lower).collect());
    }
    Condition::Range(
        c.get("min")
            .and_then(Json::as_f64)
            .unwrap_or(f64::NEG_INFINITY),
        c.get("max").and_then(Json::as_f64).unwrap_or(f64::INFINITY),
    )
}

fn bounds(b: Option<&Json>) -> (f64, f64) {
    let get = |k: &str| b.and_then(|b| b.get(k)).and_then(Json::as_f64);
    (
        get("min").unwrap_or(f64::NEG_INFINITY),
        get("max").unwrap_or(f64::INFINITY),
    )
}

impl Model {
    /// Reads the model JSON (assumed valid: `leadscore check` passes on it).
    pub fn new(json: &Json) -> Model {
        let mut rules = Vec::new();
        for r in json["rules"].as_array().expect("rules") {
            let (kind, when) = r["when"].as_object().expect("when").iter().next().unwrap();
            let frequency = match &r["frequency"] {
                Json::String(s) if s == "every_time" => Frequency::EveryTime,
                f if f.get("at_most").is_some() => {
                    Frequency::AtMost(f["at_most"].as_u64().unwrap() as u32)
                }
                f if f.get("at_most_per_window").is_some() => {
                    let w = &f["at_most_per_window"];
                    Frequency::PerWindow {
                        times: w["times"].as_u64().unwrap() as usize,
                        window_ms: (w["days"].as_f64().unwrap() * DAY_MS) as Millis,
                    }
                }
                _ => Frequency::Once,
            };
            let decay = &r["decay"];
            let text = |k: &str| when.get(k).map(lower);
            let patterns = kind == "page" || kind == "page_views" || kind == "download";
            rules.push(Rule {
                id: r["id"].as_str().unwrap().to_string(),
                kind: kind.clone(),
                dim: DIMENSIONS
                    .iter()
                    .position(|d| r["dimension"] == *d)
                    .unwrap(),
                points: r["points"].as_f64().unwrap(),
                frequency,
                half_life_days: decay["half_life_days"].as_f64().unwrap_or(0.0),
                expires_ms: decay["expires_after_days"]
                    .as_f64()
                    .map_or(0, |d| (d * DAY_MS) as Millis),
                pattern: if patterns {
                    text("path").or_else(|| text("url"))
                } else {
                    None
                },
                query: when
                    .get("query")
                    .and_then(Json::as_object)
                    .map(|q| q.iter().map(|(k, v)| (k.clone(), lower(v))).collect())
                    .unwrap_or_default(),
                extensions: when
                    .get("extensions")
                    .and_then(Json::as_array)
                    .map(|l| l.iter().map(lower).collect())
                    .unwrap_or_default(),
                question: text("question").unwrap_or_default(),
                condition: (kind == "answer").then(|| condition(when)),
                form_id: if kind == "form" { text("id") } else { None },
                form_name: if kind == "form" { text("name") } else { None },
                name: if kind == "event" {
                    text("name").unwrap_or_default()
                } else {
                    String::new()
                },
                properties: when
                    .get("properties")
                    .and_then(Json::as_object)
                    .map(|p| p.iter().map(|(k, c)| (k.clone(), condition(c))).collect())
                    .unwrap_or_default(),
                at_least: when
                    .get("at_least")
                    .or_else(|| when.get("at_least_seconds"))
                    .and_then(Json::as_f64)
                    .unwrap_or(0.0),
                within_ms: when
                    .get("within_days")
                    .and_then(Json::as_f64)
                    .map_or(0.0, |d| d * DAY_MS),
            });
        }
        let of_kind = |k: &str| -> Vec<usize> {
            (0..rules.len())
                .filter(|&i| {
                    let kind = rules[i].kind.as_str();
                    if k == "aggregate" {
                        AGGREGATES.contains(&kind)
                    } else {
                        kind == k
                    }
                })
                .collect()
        };
        let limits = &json["limits"];
        let thresholds = |t: &Json| {
            let mut out = [None; 5];
            for (k, d) in DIMENSIONS.iter().chain(&["total"]).enumerate() {
                out[k] = t.get(*d).and_then(Json::as_f64);
            }
            out
        };
        let tiers = json["tiers"]
            .as_array()
            .expect("tiers")
            .iter()
            .map(|t| Tier {
                name: t["name"].as_str().unwrap().to_string(),
                min: thresholds(&t["min"]),
                max: thresholds(&t["max"]),
                requires: t["requires"]
                    .as_array()
                    .map(|l| {
                        l.iter()
                            .map(|id| rules.iter().position(|r| r.id == *id).unwrap())
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect();
        Model {
            page: of_kind("page"),
            download: of_kind("download"),
            answer: of_kind("answer"),
            form: of_kind("form"),
            event: of_kind("event"),
            aggregate: of_kind("aggregate"),
            limits: DIMENSIONS.map(|d| bounds(limits.get(d))),
            total_limits: bounds(limits.get("total")),
            tiers,
            allow_demotion: json["allow_demotion"].as_bool().unwrap_or(true),
            session_ms: (json["session_timeout_minutes"].as_f64().unwrap_or(30.0) * 60_000.0)
                as Millis,
            rules,
        }
    }

    /// A fresh visitor state.
    pub fn new_state(&self) -> State {
        State {
            last_seen: None,
            clock: None,
            visits: 0,
            seconds: 0.0,
            pages: Vec::new(),
            tier: 0,
            rules: vec![RuleState::default(); self.rules.len()],
            new_visit: false,
            gap: None,
        }
    }

    /// The name of tier `t` (0 unqualified).
    pub fn tier_name(&self, t: usize) -> &str {
        if t == 0 {
            UNQUALIFIED
        } else {
            &self.tiers[t - 1].name
        }
    }

    /// A rule's id.
    pub fn rule_id(&self, i: usize) -> &str {
        &self.rules[i].id
    }

    /// Scores one event: the new score, or `None` when the event is rejected.
    pub fn apply(&self, state: &mut State, event: &Event, now: Millis) -> Option<Score> {
        if !valid(event) {
            return None;
        }
        let now = self.record_visit(state, event, now);
        match event {
            Event::PageView { path, query } => {
                for &i in &self.page {
                    let r = &self.rules[i];
                    let query_holds = r.query.iter().all(|(k, v)| {
                        query
                            .get(k)
                            .is_some_and(|actual| v == "*" || actual.eq_ignore_ascii_case(v))
                    });
                    if query_holds && path_matches(r.pattern.as_deref().unwrap(), path) {
                        self.fire(i, state, now);
                    }
                }
            }
            Event::Download { url } => {
                let path = url_path(url);
                let ext = extension(path);
                for &i in &self.download {
                    let r = &self.rules[i];
                    let by_url = r.pattern.as_deref().is_some_and(|p| path_matches(p, path));
                    let by_ext =
                        ext.is_some_and(|e| r.extensions.iter().any(|x| x.eq_ignore_ascii_case(e)));
                    if by_url || by_ext {
                        self.fire(i, state, now);
                    }
                }
            }
            Event::Answer { question, value } => {
                let question = question.trim();
                for &i in &self.answer {
                    let r = &self.rules[i];
                    if r.question.eq_ignore_ascii_case(question) {
                        let holds = condition_holds(r.condition.as_ref().unwrap(), value);
                        self.answer_rule(i, state, holds, now);
                    }
                }
            }
            Event::FormSubmit { id, name } => {
                let same = |want: &Option<String>, got: &Option<String>| match (want, got) {
                    (Some(w), Some(g)) => w.eq_ignore_ascii_case(g.trim()),
                    _ => false,
                };
                for &i in &self.form {
                    let r = &self.rules[i];
                    if same(&r.form_id, id) || same(&r.form_name, name) {
                        self.fire(i, state, now);
                    }
                }
            }
            Event::Custom { name, properties } => {
                let name = name.trim();
                for &i in &self.event {
                    let r = &self.rules[i];
                    if r.name.eq_ignore_ascii_case(name)
                        && r.properties
                            .iter()
                            .all(|(k, c)| properties.get(k).is_some_and(|v| condition_holds(c, v)))
                    {
                        self.fire(i, state, now);
                    }
                }
            }
            Event::Engagement { .. } => {} // counted by record_visit
        }
        self.aggregates(state, event, now);
        let s = self.score(state, now);
        state.tier = s.tier;
        Some(s)
    }

    /// The engine's clock and visit keeping: time never goes backwards; a non-engagement event
    /// after the session timeout starts a new visit. Returns the effective `now`.
    fn record_visit(&self, state: &mut State, event: &Event, now: Millis) -> Millis {
        let now = self.time(state, now);
        state.clock = Some(now);
        let engagement = matches!(event, Event::Engagement { .. });
        let new_visit = !engagement
            && state
                .last_seen
                .is_none_or(|last| now - last > self.session_ms);
        state.gap = state.last_seen.map(|last| now - last);
        state.new_visit = new_visit;
        state.last_seen = Some(now);
        if new_visit {
            state.visits += 1;
        }
        match event {
            Event::PageView { path, .. } => {
                let hash = page_hash(path);
                if state.pages.len() < MAX_DISTINCT_PAGES && !state.pages.contains(&hash) {
                    state.pages.push(hash);
                }
            }
            Event::Engagement { seconds } => state.seconds += seconds,
            _ => {}
        }
        now
    }

    /// `now`, or the latest time the state has seen when `now` is earlier.
    pub fn time(&self, state: &State, now: Millis) -> Millis {
        now.max(state.clock.unwrap_or(now))
            .max(state.last_seen.unwrap_or(now))
    }

    /// An answer rule counts while the current answer meets it.
    fn answer_rule(&self, i: usize, state: &mut State, holds: bool, now: Millis) {
        let count = state.rules[i].count;
        if holds && count == 0 {
            self.fire(i, state, now);
        } else if !holds && count > 0 {
            state.rules[i] = RuleState::default();
        }
    }

    /// Aggregate conditions award their points once, when they become true.
    fn aggregates(&self, state: &mut State, event: &Event, now: Millis) {
        for &i in &self.aggregate {
            let r = &self.rules[i];
            let reached = match r.kind.as_str() {
                "visits" => f64::from(state.visits) >= r.at_least,
                "distinct_pages" => state.pages.len() as f64 >= r.at_least,
                "page_views" => {
                    if let Event::PageView { path, .. } = event {
                        if path_matches(r.pattern.as_deref().unwrap(), path) {
                            state.rules[i].progress += 1;
                        }
                    }
                    f64::from(state.rules[i].progress) >= r.at_least
                }
                "time_on_site" => state.seconds >= r.at_least,
                "return_visit" => {
                    state.new_visit && state.gap.is_some_and(|g| g as f64 <= r.within_ms)
                }
                _ => false,
            };
            if reached && state.rules[i].count == 0 {
                self.fire(i, state, now);
            }
        }
    }

    /// One firing of rule `i`, if its frequency allows.
    fn fire(&self, i: usize, state: &mut State, now: Millis) {
        let r = &self.rules[i];
        let rs = &mut state.rules[i];
        match r.frequency {
            Frequency::Once => {
                if rs.count != 0 {
                    return;
                }
            }
            Frequency::EveryTime => {}
            Frequency::AtMost(n) => {
                if rs.count >= n {
                    return;
                }
            }
            Frequency::PerWindow { times, window_ms } => {
                let start = now - window_ms;
                rs.window.retain(|&t| t > start);
                if rs.window.len() >= times {
                    return;
                }
                rs.window.push(now);
            }
        }
        rs.count += 1;
        if r.half_life_days != 0.0 {
            rs.held = rs.held * half_life_factor(now - rs.held_at, r.half_life_days) + 1.0;
            rs.held_at = now;
        } else if r.expires_ms != 0 {
            let start = now - r.expires_ms;
            rs.firings.retain(|&(t, _)| t > start);
            match rs.firings.last_mut() {
                Some((t, n)) if *t == now => *n += 1,
                _ => rs.firings.push((now, 1)),
            }
            if rs.firings.len() > MAX_FIRINGS_KEPT {
                let (_, n) = rs.firings.remove(0);
                rs.firings[0].1 += n;
            }
        }
    }

    /// Points rule `i` gives now (after decay, before limits).
    pub fn rule_points(&self, state: &State, i: usize, now: Millis) -> f64 {
        let r = &self.rules[i];
        let rs = &state.rules[i];
        if r.half_life_days != 0.0 {
            let held = rs.held * half_life_factor(now - rs.held_at, r.half_life_days);
            return r.points * held;
        }
        if r.expires_ms != 0 {
            let start = now - r.expires_ms;
            let live: u32 = rs
                .firings
                .iter()
                .filter(|(t, _)| *t > start)
                .map(|(_, n)| n)
                .sum();
            return r.points * f64::from(live);
        }
        r.points * f64::from(rs.count)
    }

    /// Times rule `i` fired (0: it gives nothing).
    pub fn rule_count(&self, state: &State, i: usize) -> u32 {
        state.rules[i].count
    }

    /// How many rules the model has.
    pub fn rules_len(&self) -> usize {
        self.rules.len()
    }

    /// The score at `now`: sums per dimension in rule order, clamped; the total clamped; the
    /// first tier whose thresholds and required rules hold.
    pub fn score(&self, state: &State, now: Millis) -> Score {
        let mut sums = [0.0; 4];
        for i in 0..self.rules.len() {
            if state.rules[i].count != 0 {
                sums[self.rules[i].dim] += self.rule_points(state, i, now);
            }
        }
        for (sum, (lo, hi)) in sums.iter_mut().zip(self.limits) {
            *sum = sum.min(hi).max(lo);
        }
        let (lo, hi) = self.total_limits;
        let total = (sums[0] + sums[1] + sums[2] + sums[3]).min(hi).max(lo);
        let values = [sums[0], sums[1], sums[2], sums[3], total];
        let mut reached = 0;
        for (i, tier) in self.tiers.iter().enumerate() {
            if self.tier_holds(tier, &values, state, now) {
                reached = i + 1;
                break;
            }
        }
        let stored = state.tier;
        let mut tier = reached;
        if !self.allow_demotion && stored != 0 {
            tier = if reached == 0 {
                stored
            } else {
                reached.min(stored)
            };
        }
        Score {
            sums,
            total,
            tier,
            previous: stored,
        }
    }

    fn tier_holds(&self, tier: &Tier, values: &[f64; 5], state: &State, now: Millis) -> bool {
        for ((value, min), max) in values.iter().zip(tier.min).zip(tier.max) {
            if min.is_some_and(|m| *value < m) || max.is_some_and(|m| *value > m) {
                return false;
            }
        }
        for &i in &tier.requires {
            let rs = &state.rules[i];
            if rs.count == 0 {
                return false;
            }
            let expires = self.rules[i].expires_ms;
            if expires != 0 && !rs.firings.iter().any(|(t, _)| *t > now - expires) {
                return false;
            }
        }
        true
    }
}

/// The checks of the engine's `Event::validate` that the benchmark's events can fail.
fn valid(e: &Event) -> bool {
    let text = |s: &str| !s.trim().is_empty() && s.len() <= MAX_TEXT_LEN;
    match e {
        Event::PageView { path, query } => {
            text(path) && path.starts_with('/') && query.len() <= MAX_ENTRIES
        }
        Event::Download { url } => text(url),
        Event::Answer { question, value } => {
            text(question) && !matches!(value, Value::Number(n) if !n.is_finite())
        }
        Event::FormSubmit { id, name } => {
            id.as_ref().is_some_and(|s| !s.trim().is_empty())
                || name.as_ref().is_some_and(|s| !s.trim().is_empty())
        }
        Event::Custom { name, properties } => text(name) && properties.len() <= MAX_ENTRIES,
        Event::Engagement { seconds } => seconds.is_finite() && (0.0..=86_400.0).contains(seconds),
    }
}

/// The share of points left after `elapsed` ms with a half-life of `days`, as the engine
/// computes it: whole half-lives as exact powers of two, the fraction with `libm::exp`.
fn half_life_factor(elapsed: Millis, days: f64) -> f64 {
    if elapsed <= 0 {
        return 1.0;
    }
    let halvings = elapsed as f64 / (days * DAY_MS);
    if halvings.is_nan() || halvings >= 1075.0 {
        return 0.0;
    }
    let whole = halvings.floor();
    let fraction = libm::exp(-(halvings - whole) * std::f64::consts::LN_2);
    let half = (whole / 2.0).trunc();
    fraction * 2f64.powi(-(half as i32)) * 2f64.powi(-((whole - half) as i32))
}

fn condition_holds(c: &Condition, v: &Value) -> bool {
    match c {
        Condition::Equals(want) => equals_text(v, want),
        Condition::OneOf(list) => list.iter().any(|want| equals_text(v, want)),
        Condition::Range(min, max) => as_number(v).is_some_and(|n| n >= *min && n <= *max),
    }
}

/// `want` is lowercase already.
fn equals_text(v: &Value, want: &str) -> bool {
    match v {
        Value::Text(t) => t.trim().eq_ignore_ascii_case(want),
        Value::Bool(b) => want == if *b { "true" } else { "false" },
        Value::Number(n) => parse_number(want) == Some(*n),
    }
}

fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => Some(*n),
        Value::Text(t) => parse_number(t.trim()),
        Value::Bool(_) => None,
    }
}

/// A plain decimal number (the standard parser; not infinite, not NaN), or `None`.
fn parse_number(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// A path pattern (`/pricing`, `/blog/*`, `/docs/**`, lowercase) against a path, ignoring ASCII
/// case and a trailing `/`: `*` within one segment, `**` across segments, `?` one character.
fn path_matches(pattern: &str, path: &str) -> bool {
    glob(trim_slash(pattern).as_bytes(), trim_slash(path).as_bytes())
}

fn trim_slash(s: &str) -> &str {
    if s.len() > 1 && s.ends_with('/') {
        &s[..s.len() - 1]
    } else {
        s
    }
}

fn glob(p: &[u8], t: &[u8]) -> bool {
    match p {
        [] => t.is_empty(),
        // `/**` at the end: the bare prefix too.
        [b'/', b'*', b'*'] => t.is_empty() || t[0] == b'/',
        // `**/`: any number of segments, or none.
        [b'*', b'*', b'/', rest @ ..] => {
            glob(rest, t) || (0..t.len()).any(|i| t[i] == b'/' && glob(rest, &t[i + 1..]))
        }
        [b'*', b'*', rest @ ..] => (0..=t.len()).any(|i| glob(rest, &t[i..])),
        [b'*', rest @ ..] => {
            let segment = t.iter().position(|&c| c == b'/').unwrap_or(t.len());
            (0..=segment).any(|i| glob(rest, &t[i..]))
        }
        [b'?', rest @ ..] => !t.is_empty() && t[0] != b'/' && glob(rest, &t[1..]),
        [c, rest @ ..] => !t.is_empty() && t[0].to_ascii_lowercase() == *c && glob(rest, &t[1..]),
    }
}

/// The path of a URL (`https://x.com/a/b.pdf?x=1` → `/a/b.pdf`); a bare path stays as it is.
fn url_path(url: &str) -> &str {
    let mut start = 0;
    if let Some(scheme) = url.find("://") {
        start = url[scheme + 3..]
            .find('/')
            .map_or(url.len(), |i| scheme + 3 + i);
    }
    let end = url[start..]
        .find(['?', '#'])
        .map_or(url.len(), |i| start + i);
    if start == url.len() {
        return "/";
    }
    &url[start..end]
}

/// The extension of the last path segment (`/a/b.pdf` → `pdf`), if it has a name before it.
fn extension(path: &str) -> Option<&str> {
    let file = path.rfind('/').map_or(0, |i| i + 1);
    let dot = path.rfind('.')?;
    (dot > file && dot + 1 < path.len()).then(|| &path[dot + 1..])
}

/// FNV-1a of the path without trailing slashes, ASCII-lowercased (the engine's page key).
fn page_hash(path: &str) -> u32 {
    let mut bytes = path.as_bytes();
    if bytes.len() > 1 {
        while let [rest @ .., b'/'] = bytes {
            bytes = rest;
        }
    }
    let mut h: u32 = 0x811c_9dc5;
    for b in bytes {
        h = (h ^ u32::from(b.to_ascii_lowercase())).wrapping_mul(0x0100_0193);
    }
    h
}
