//! The pure scoring state machine.
//!
//! [`apply`] folds one [`Event`] into a visitor's [`State`] and returns the new [`Score`];
//! [`score`] reads the score at any time without changing anything; [`tick`] re-evaluates the
//! tier when only time has passed (decay). No I/O, no clock: `now` is always a parameter, and
//! time never moves backwards for a state (a `now` earlier than the latest the state has seen
//! counts as that latest time).

mod event;
mod score;
mod state;

pub use crate::model::{id_hash, UNQUALIFIED};
pub use event::{parse_number, Event, EventError, Value, MAX_ENTRIES, MAX_TEXT_LEN};
pub use score::{score, Contribution, Score};
pub(crate) use score::{score_aligned, Detail};
pub use state::{Millis, RuleState, State, MAX_FIRINGS_KEPT, STATE_FORMAT};

use crate::model::{
    pattern, Compiled, Cond, Decay, Entries, Frequency, List, QueryCond, RuleGroup, When,
    MAX_DISTINCT_PAGES,
};
use alloc::string::{String, ToString};

const DAY_MS: f64 = 86_400_000.0;

/// Applies one event at time `now` and returns the visitor's new score.
///
/// Events older than the last one seen are applied as if they happened at that time, so state
/// never moves backwards. A rejected event leaves the state untouched.
pub fn apply<'m, S: AsRef<str>>(
    state: &mut State,
    model: &'m Compiled,
    event: &Event<S>,
    now: Millis,
) -> Result<Score<'m>, EventError> {
    step(state, model, event, now, Detail::Explained)
}

/// [`apply`] without the explanation: the returned score has no `contributions` (nothing is
/// allocated or sorted for them). What scoring a stream of events needs; ask [`score`] for the
/// explanation when someone wants to read it.
pub fn advance<'m, S: AsRef<str>>(
    state: &mut State,
    model: &'m Compiled,
    event: &Event<S>,
    now: Millis,
) -> Result<Score<'m>, EventError> {
    step(state, model, event, now, Detail::TierOnly)
}

fn step<'m, S: AsRef<str>>(
    state: &mut State,
    model: &'m Compiled,
    event: &Event<S>,
    now: Millis,
    detail: Detail,
) -> Result<Score<'m>, EventError> {
    event.validate()?;
    state.align(model);
    let now = state.time(now);
    state.clock = Some(now);
    let visit = record_visit(state, model, event, now);
    match event {
        Event::PageView { path, .. } => remember_page(state, path.as_ref()),
        Event::Answer { question, value } => answer(state, model, question.as_ref(), value, now),
        Event::Engagement { seconds } => state.seconds += seconds,
        _ => {}
    }
    let subject = Subject::of(event);
    if let Some(group) = subject.group {
        for &i in model.rules_for(group) {
            if subject.matches(model.when(i), model.literal(i)) {
                fire(state, model, i, now);
            }
        }
    }
    aggregates(state, model, event, &visit, now);
    compounds(state, model, event, &subject, now);
    let result = score_aligned(state, model, now, detail);
    store_tier(state, &result);
    Ok(result)
}

/// What an event means for the visit it belongs to.
struct Visit {
    /// The event starts a new visit (sessions end after the model's inactivity timeout).
    new: bool,
    /// Time since the previous event, if any.
    gap: Option<Millis>,
}

/// Counts the event's visit and moves the clock of the state to `now`.
fn record_visit<S>(state: &mut State, model: &Compiled, event: &Event<S>, now: Millis) -> Visit {
    let new = !matches!(event, Event::Engagement { .. })
        && state
            .last_seen
            .is_none_or(|last| now.saturating_sub(last) > model.session_timeout_ms());
    let gap = state.last_seen.map(|last| now.saturating_sub(last));
    state.first_seen.get_or_insert(now);
    state.last_seen = Some(now);
    if new {
        state.visits = state.visits.saturating_add(1);
    }
    Visit { new, gap }
}

/// The rules of one group: each with its index and matcher.
fn matchers(model: &Compiled, group: RuleGroup) -> impl Iterator<Item = (usize, &When<'_>)> {
    model.rules_for(group).iter().map(|&i| (i, model.when(i)))
}

/// Remembers a viewed page for `distinct_pages`.
fn remember_page(state: &mut State, path: &str) {
    let hash = page_hash(path);
    if state.pages.len() < MAX_DISTINCT_PAGES as usize && !state.pages.contains(&hash) {
        state.pages.push(hash);
    }
}

/// An event as `page`, `download`, `form` and `event` conditions compare it, worked out once per
/// event: a page's path and query, a download's URL path and file extension, a form's id and
/// name, a custom event's name and properties (names and ids without surrounding white space).
struct Subject<'e, S> {
    /// The rules whose condition can match the event (`None`: no such condition).
    group: Option<RuleGroup>,
    path: &'e str,
    ext: Option<&'e str>,
    id: Option<&'e str>,
    name: Option<&'e str>,
    query: Option<&'e Entries<S, S>>,
    properties: Option<&'e Entries<Value<S>, S>>,
}

impl<'e, S: AsRef<str>> Subject<'e, S> {
    fn of(event: &'e Event<S>) -> Subject<'e, S> {
        let mut s = Subject {
            group: None,
            path: "",
            ext: None,
            id: None,
            name: None,
            query: None,
            properties: None,
        };
        match event {
            Event::PageView { path, query } => {
                s.group = Some(RuleGroup::Page);
                s.path = path.as_ref();
                s.query = Some(query);
            }
            Event::Download { url } => {
                s.group = Some(RuleGroup::Download);
                s.path = url_path(url.as_ref());
                s.ext = extension(s.path);
            }
            Event::FormSubmit { id, name } => {
                s.group = Some(RuleGroup::Form);
                s.id = trimmed(id);
                s.name = trimmed(name);
            }
            Event::Custom { name, properties } => {
                s.group = Some(RuleGroup::Event);
                s.name = Some(name.as_ref().trim());
                s.properties = Some(properties);
            }
            _ => {}
        }
        s
    }

    /// True when a `page`, `download`, `form` or `event` condition (whose path or URL pattern
    /// has a [`pattern::literal_prefix`] of `literal`) matches the event.
    /// Inlined natively, where speed counts; one copy in the widget, where bytes count.
    #[cfg_attr(not(target_arch = "wasm32"), inline(always))]
    fn matches(&self, m: &When<'_>, literal: usize) -> bool {
        match m {
            When::Page { path, query } => match self.query {
                Some(q) => {
                    query_holds(query, q) && pattern::matches_after(path, literal, self.path)
                }
                None => false,
            },
            When::Download { url, extensions } => {
                self.group == Some(RuleGroup::Download)
                    && (url.is_some_and(|p| pattern::matches_after(p, literal, self.path))
                        || self
                            .ext
                            .is_some_and(|e| extensions.iter().any(|x| x.eq_ignore_ascii_case(e))))
            }
            When::Form { id, name } => {
                self.group == Some(RuleGroup::Form)
                    && (same_text(*id, self.id) || same_text(*name, self.name))
            }
            When::Event { name, properties } => match (self.name, self.properties) {
                (Some(n), Some(p)) => {
                    name.eq_ignore_ascii_case(n)
                        && properties.iter().all(|(k, c)| match p.get(k) {
                            Some(v) => condition_holds(v, &c),
                            None => false,
                        })
                }
                _ => false,
            },
            _ => false,
        }
    }
}

/// True when a form's id or name is the one a rule names.
fn same_text(want: Option<&str>, got: Option<&str>) -> bool {
    match (want, got) {
        (Some(w), Some(g)) => w.eq_ignore_ascii_case(g),
        _ => false,
    }
}

/// True when a page view's query meets every query condition of a page rule (most page rules
/// have none: answered without a call).
#[inline]
fn query_holds<S: AsRef<str>>(
    conditions: &List<'_, (&str, QueryCond<'_>)>,
    query: &Entries<S, S>,
) -> bool {
    conditions.is_empty()
        || conditions
            .iter()
            .all(|(k, c)| c.holds(query.get(k).map(AsRef::as_ref)))
}

/// An optional text without surrounding white space.
fn trimmed<S: AsRef<str>>(s: &Option<S>) -> Option<&str> {
    s.as_ref().map(|s| s.as_ref().trim())
}

/// An answer: each answer rule of the question counts while the current answer meets it.
fn answer<S: AsRef<str>>(
    state: &mut State,
    model: &Compiled,
    question: &str,
    value: &Value<S>,
    now: Millis,
) {
    let question = question.trim();
    // The current answer to a question that compound rules name, for them to read.
    if let Some(q) = model
        .compound_questions()
        .iter()
        .find(|q| q.eq_ignore_ascii_case(question))
    {
        match state.answers.iter_mut().find(|(k, _)| k == q) {
            Some((_, v)) => *v = value.to_owned_value(),
            None => state
                .answers
                .push((String::from(*q), value.to_owned_value())),
        }
    }
    for (i, m) in matchers(model, RuleGroup::Answer) {
        let When::Answer {
            question: q,
            condition,
        } = m
        else {
            continue;
        };
        if !q.eq_ignore_ascii_case(question) {
            continue;
        }
        let holds = condition_holds(value, condition);
        let active = state.rules.get(i).is_some_and(|s| s.count > 0);
        if holds && !active {
            fire(state, model, i, now);
        } else if !holds && active {
            if let Some(s) = state.rules.get_mut(i) {
                retract(s);
            }
        }
    }
}

/// Aggregate conditions: each awards its points once, when it becomes true.
fn aggregates<S: AsRef<str>>(
    state: &mut State,
    model: &Compiled,
    event: &Event<S>,
    visit: &Visit,
    now: Millis,
) {
    for &i in model.rules_for(RuleGroup::Aggregate) {
        let Some(rule) = model.rules().get(i) else {
            continue;
        };
        if let (When::PageViews { path: p, .. }, Event::PageView { path, .. }) = (rule.when, event)
        {
            if model.path_matches(i, p, path.as_ref()) {
                count_page_view(state, i);
            }
        }
        let reached = match &rule.when {
            When::ReturnVisit { within_days } => {
                visit.new
                    && visit
                        .gap
                        .is_some_and(|g| (g as f64) <= within_days * DAY_MS)
            }
            m => state_holds(state, i, m),
        };
        if reached && state.rules.get(i).is_some_and(|rs| rs.count == 0) {
            fire(state, model, i, now);
        }
    }
}

fn count_page_view(state: &mut State, i: usize) {
    if let Some(rs) = state.rules.get_mut(i) {
        rs.progress = rs.progress.saturating_add(1);
    }
}

/// True when a condition read from the visitor's state holds for rule `i`: the current answer
/// meets an answer condition, an aggregate is reached (`page_views` counts in rule `i`'s
/// progress).
fn state_holds(state: &State, i: usize, m: &When<'_>) -> bool {
    match m {
        When::Answer {
            question,
            condition,
        } => state
            .answers
            .iter()
            .find(|(q, _)| q.eq_ignore_ascii_case(question))
            .is_some_and(|(_, v)| condition_holds(v, condition)),
        When::Visits { at_least } => state.visits >= *at_least,
        When::DistinctPages { at_least } => state.pages.len() >= *at_least as usize,
        When::PageViews { at_least, .. } => {
            state.rules.get(i).map_or(0, |rs| rs.progress) >= *at_least
        }
        When::TimeOnSite { at_least_seconds } => state.seconds >= f64::from(*at_least_seconds),
        _ => false,
    }
}

/// `all` and `any` rules, after the event's own effects on the state (answers, visits, pages,
/// time). Without a momentary condition a rule counts while its conditions hold: it fires when
/// they come to hold and is taken back when they no longer do (only a changed answer can do
/// that: aggregates never fall). With one it fires, as its frequency allows, on an event that
/// a momentary condition matches while (for `all`) the other conditions hold.
fn compounds<S: AsRef<str>>(
    state: &mut State,
    model: &Compiled,
    event: &Event<S>,
    subject: &Subject<'_, S>,
    now: Millis,
) {
    for &i in model.rules_for(RuleGroup::Compound) {
        let Some(rule) = model.rules().get(i) else {
            continue;
        };
        let parts = rule.when.parts();
        let all = matches!(rule.when, When::All(_));
        if let Event::PageView { path, .. } = event {
            if parts
                .iter()
                .any(|p| matches!(p, When::PageViews { path: pat, .. } if pattern::matches(pat, path.as_ref())))
            {
                count_page_view(state, i);
            }
        }
        let part_holds = |p: When<'_>| {
            if p.is_momentary() {
                subject.matches(&p, p.literal())
            } else {
                state_holds(state, i, &p)
            }
        };
        let holds = if all {
            parts.iter().all(part_holds)
        } else {
            parts.iter().any(part_holds)
        };
        if rule.when.is_momentary() {
            if holds {
                fire(state, model, i, now);
            }
            continue;
        }
        match state.rules.get_mut(i) {
            Some(rs) if !holds && rs.count > 0 => retract(rs),
            Some(rs) if holds && rs.count == 0 => fire(state, model, i, now),
            _ => {}
        }
    }
}

/// Re-evaluates the tier at `now` when no event happened (points decayed or expired). A `now`
/// earlier than the latest time the state has seen counts as that time, as in [`apply`].
pub fn tick<'m>(state: &mut State, model: &'m Compiled, now: Millis) -> Score<'m> {
    state.align(model);
    let now = state.time(now);
    state.clock = Some(now);
    let result = score(state, model, now);
    store_tier(state, &result);
    result
}

/// Remembers the new tier ([`score`] reads the stored one as `previous_tier`); allocates only
/// when the tier changed.
fn store_tier(state: &mut State, result: &Score<'_>) {
    if result.changed() {
        state.tier = (result.tier != UNQUALIFIED).then(|| result.tier.to_string());
    }
}

/// Records one firing of rule `i`, if its frequency allows.
fn fire(state: &mut State, model: &Compiled, i: usize, now: Millis) {
    let (Some(rule), Some(rs)) = (model.rules().get(i), state.rules.get_mut(i)) else {
        return;
    };
    let allowed = match rule.frequency {
        Frequency::Once => rs.count == 0,
        Frequency::EveryTime => true,
        Frequency::AtMost(n) => rs.count < n,
        Frequency::AtMostPerWindow { times, days } => {
            let start = now.saturating_sub((days * DAY_MS) as i64);
            rs.window.retain(|&t| t > start);
            if rs.window.len() < times as usize {
                rs.window.push(now);
                true
            } else {
                false
            }
        }
    };
    if !allowed {
        return;
    }
    rs.count = rs.count.saturating_add(1);
    rs.last = Some(now);
    match rule.decay {
        Decay::Never => {}
        Decay::HalfLifeDays(days) => {
            rs.held = rs.held * half_life_factor(now.saturating_sub(rs.held_at), days) + 1.0;
            rs.held_at = now;
        }
        Decay::ExpiresAfterDays(days) => {
            let start = now.saturating_sub((days * DAY_MS) as i64);
            rs.firings.retain(|&(t, _)| t > start);
            match rs.firings.last_mut() {
                Some((t, n)) if *t == now => *n = n.saturating_add(1),
                _ => rs.firings.push((now, 1)),
            }
            if rs.firings.len() > MAX_FIRINGS_KEPT {
                // Merge the two oldest firings into the younger one: the points stay, and
                // expire with the younger firing.
                let n = rs.firings.first().map_or(0, |f| f.1);
                let mut kept = false;
                // Drops the first entry (`retain` rather than `remove(0)`: no panic path in the
                // kernel).
                rs.firings.retain(|_| core::mem::replace(&mut kept, true));
                if let Some(first) = rs.firings.first_mut() {
                    first.1 = first.1.saturating_add(n);
                }
            }
        }
    }
}

/// Takes back an answer rule whose answer no longer matches.
fn retract(rs: &mut RuleState) {
    rs.count = 0;
    rs.held = 0.0;
    rs.held_at = 0;
    rs.firings.clear();
}

/// The share of points left after `elapsed` milliseconds with a half-life of `days`:
/// `2^-(elapsed / half-life)`, exact for whole half-lives (the whole part is a power of two,
/// the fraction `exp(-f·ln 2)`; no table-driven `exp2`, which would add 4 KB to the widget).
pub(crate) fn half_life_factor(elapsed: Millis, days: f64) -> f64 {
    if elapsed <= 0 {
        return 1.0;
    }
    let halvings = elapsed as f64 / (days * DAY_MS);
    if halvings.is_nan() || halvings >= 1075.0 {
        // Beyond the smallest f64: nothing is left.
        return 0.0;
    }
    let whole = libm::floor(halvings);
    let fraction = libm::exp(-(halvings - whole) * core::f64::consts::LN_2);
    // 2^-whole, split in two factors so that each is a normal f64.
    let half = (whole / 2.0) as u64;
    let power = |n: u64| f64::from_bits((1023 - n) << 52);
    fraction * power(half) * power(whole as u64 - half)
}

/// True when an answer or property value meets a condition.
fn condition_holds<S: AsRef<str>>(value: &Value<S>, c: &Cond<'_>) -> bool {
    if let Some(e) = c.equals {
        return value.equals_text(e);
    }
    if let Some(list) = c.one_of {
        return list.iter().any(|e| value.equals_text(e));
    }
    match value.as_number() {
        Some(n) => c.min.is_none_or(|lo| n >= lo) && c.max.is_none_or(|hi| n <= hi),
        None => false,
    }
}

/// True when a download of `url` would fire at least one of the model's download rules. The
/// widget asks this to decide whether a link click is a download at all.
pub fn is_download(model: &Compiled, url: &str) -> bool {
    let event = Event::Download { url };
    let subject = Subject::of(&event);
    model
        .rules_for(RuleGroup::Download)
        .iter()
        .any(|&i| subject.matches(model.when(i), model.literal(i)))
        || model.rules_for(RuleGroup::Compound).iter().any(|&i| {
            model
                .when(i)
                .parts()
                .iter()
                .any(|p| subject.matches(&p, p.literal()))
        })
}

/// The path of a URL (`https://x.com/a/b.pdf?x=1` → `/a/b.pdf`); a bare path stays as it is.
/// Byte searches only: every delimiter is ASCII, so each cut falls on a character boundary.
fn url_path(url: &str) -> &str {
    let bytes = url.as_bytes();
    let mut start = 0;
    if let Some(i) = bytes.windows(3).position(|w| w == b"://") {
        let host = i + 3;
        start = bytes
            .iter()
            .skip(host)
            .position(|&b| b == b'/')
            .map_or(bytes.len(), |j| host + j);
    }
    let end = bytes
        .iter()
        .skip(start)
        .position(|&b| b == b'?' || b == b'#')
        .map_or(bytes.len(), |j| start + j);
    match url.get(start..end) {
        Some("") if start == bytes.len() => "/",
        Some(path) => path,
        None => url,
    }
}

/// The extension of the last path segment (`/a/b.pdf` → `pdf`), if it has a name before it.
fn extension(path: &str) -> Option<&str> {
    let bytes = path.as_bytes();
    let file = bytes.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
    let dot = bytes.iter().rposition(|&b| b == b'.')?;
    (dot > file && dot + 1 < bytes.len())
        .then(|| path.get(dot + 1..))
        .flatten()
}

fn page_hash(path: &str) -> u32 {
    let mut bytes = path.as_bytes();
    if bytes.len() > 1 {
        while let Some((b'/', rest)) = bytes.split_last() {
            bytes = rest;
        }
    }
    let mut h: u32 = 0x811c_9dc5;
    for b in bytes {
        h ^= u32::from(b.to_ascii_lowercase());
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_paths_and_extensions() {
        assert_eq!(
            url_path("https://cdn.example.com/files/a.pdf?x=1#y"),
            "/files/a.pdf"
        );
        assert_eq!(url_path("/files/a.pdf"), "/files/a.pdf");
        assert_eq!(url_path("https://example.com"), "/");
        assert_eq!(extension("/files/a.PDF"), Some("PDF"));
        assert_eq!(extension("/files/.hidden"), None);
        assert_eq!(extension("/files/noext"), None);
        assert_eq!(extension("/files.d/noext"), None);
        assert_eq!(extension("/files/a."), None);
        assert_eq!(url_path("https://example.com?x=1"), "/");
        assert_eq!(page_hash("/pricing/"), page_hash("/PRICING"));
        assert_eq!(page_hash("///"), page_hash(""));
        assert_ne!(page_hash("/"), page_hash(""));
    }
}
