//! The compiled model as the engine runs it, in both builds: a view of the bytes that
//! [`binary`](super::binary) lays out, read once when it is loaded — magic, format, length and
//! checksum, then every kind, count, rule index and text — and never copied: texts are borrowed
//! from the bytes, and lists are read item by item when the engine walks them.
//!
//! The browser's kernel holds only this. Natively a [`ValidModel`](super::ValidModel) holds one
//! beside the model document it was compiled from, so the engine runs on one form everywhere.

use super::binary::{LoadError, FORMAT, HEADER_LEN, MAGIC, MAX_TIERS};
use super::{
    id_hash, pattern, Bounds, Calibration, Decay, Dimension, Frequency, Limits, Thresholds,
};
use crate::bytes::{fnv1a32, Reader};
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use core::marker::PhantomData;

/// A list in the compiled bytes, read item by item (each time it is walked).
pub struct List<'a, T> {
    bytes: &'a [u8],
    len: u16,
    item: PhantomData<fn() -> T>,
}

impl<T> Clone for List<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for List<'_, T> {}

impl<T> List<'_, T> {
    /// The list without items.
    pub const EMPTY: Self = List {
        bytes: &[],
        len: 0,
        item: PhantomData,
    };
}

impl<T> Default for List<'_, T> {
    fn default() -> Self {
        List::EMPTY
    }
}

impl<T> fmt::Debug for List<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("List").field("len", &self.len).finish()
    }
}

/// What a [`List`] holds: values that read themselves from the compiled bytes.
pub trait Item<'a>: Sized {
    /// Reads one value (fail-soft: a reader past its end gives defaults, see [`Reader`]).
    fn read(r: &mut Reader<'a>) -> Self;
}

impl<'a, T: Item<'a>> List<'a, T> {
    /// Reads a list (a `u16` count, then the items), checking every item: a list is made only
    /// of items that were read without failing (an empty one otherwise), which is what lets
    /// [`List::iter`] read them again without checking their texts.
    fn read(r: &mut Reader<'a>) -> List<'a, T> {
        let len = r.u16();
        let start = r.rest();
        for _ in 0..len {
            T::read(r);
        }
        if r.failed() {
            return List::default();
        }
        let used = start.len().saturating_sub(r.rest().len());
        List {
            bytes: start.get(..used).unwrap_or_default(),
            len,
            item: PhantomData,
        }
    }

    /// The number of items.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// True for a list without items.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The items, in order.
    pub fn iter(&self) -> Items<'a, T> {
        Items {
            // SAFETY: `List::read` made this list of exactly these bytes after reading `len`
            // items from them without failing; the items are read again in the same order from
            // the same start, so every text read is one that was read (and checked, or itself
            // read from a list made this way) then.
            r: unsafe { Reader::trusted(self.bytes) },
            left: self.len,
            item: PhantomData,
        }
    }
}

/// The items of a [`List`].
pub struct Items<'a, T> {
    r: Reader<'a>,
    left: u16,
    item: PhantomData<fn() -> T>,
}

impl<'a, T: Item<'a>> Iterator for Items<'a, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.left = self.left.checked_sub(1)?;
        Some(T::read(&mut self.r))
    }
}

impl<'a> Item<'a> for &'a str {
    fn read(r: &mut Reader<'a>) -> &'a str {
        r.text_ref()
    }
}

impl<'a> Item<'a> for (&'a str, QueryCond<'a>) {
    fn read(r: &mut Reader<'a>) -> Self {
        let name = r.text_ref();
        let condition = match r.u8() {
            0 => QueryCond::Equals(r.text_ref()),
            1 => QueryCond::Absent(r.bool()),
            2 => QueryCond::OtherThan(List::read(r)),
            _ => {
                r.fail();
                QueryCond::Absent(false)
            }
        };
        (name, condition)
    }
}

impl<'a> Item<'a> for (&'a str, Cond<'a>) {
    fn read(r: &mut Reader<'a>) -> Self {
        (r.text_ref(), Cond::read(r))
    }
}

/// The parts of `all` and `any`: conditions that are not compound themselves.
impl<'a> Item<'a> for When<'a> {
    fn read(r: &mut Reader<'a>) -> When<'a> {
        When::read(r, false)
    }
}

/// What makes a rule fire: [`Matcher`](super::Matcher) as the compiled model holds it.
#[derive(Debug, Clone, Copy)]
pub enum When<'a> {
    Page {
        path: &'a str,
        query: List<'a, (&'a str, QueryCond<'a>)>,
    },
    Download {
        url: Option<&'a str>,
        extensions: List<'a, &'a str>,
    },
    Answer {
        question: &'a str,
        condition: Cond<'a>,
    },
    Form {
        id: Option<&'a str>,
        name: Option<&'a str>,
    },
    Event {
        name: &'a str,
        properties: List<'a, (&'a str, Cond<'a>)>,
    },
    Visits {
        at_least: u32,
    },
    DistinctPages {
        at_least: u32,
    },
    PageViews {
        path: &'a str,
        at_least: u32,
    },
    TimeOnSite {
        at_least_seconds: u32,
    },
    ReturnVisit {
        within_days: f64,
    },
    All(List<'a, When<'a>>),
    Any(List<'a, When<'a>>),
}

/// A condition on an answer or an event property ([`Condition`](super::Condition)).
#[derive(Debug, Clone, Copy, Default)]
pub struct Cond<'a> {
    pub equals: Option<&'a str>,
    pub one_of: Option<List<'a, &'a str>>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// A condition on one query parameter ([`QueryCondition`](super::QueryCondition)).
#[derive(Debug, Clone, Copy)]
pub enum QueryCond<'a> {
    /// The parameter has this value (ignoring ASCII case); `*` matches any value.
    Equals(&'a str),
    /// `true`: the page view has no such parameter.
    Absent(bool),
    /// The parameter is present and its value is none of these (ignoring ASCII case).
    OtherThan(List<'a, &'a str>),
}

impl QueryCond<'_> {
    /// True when a page view whose parameter has `value` (`None`: absent) meets the condition.
    pub fn holds(&self, value: Option<&str>) -> bool {
        match (self, value) {
            (QueryCond::Equals(want), Some(v)) => *want == "*" || v.eq_ignore_ascii_case(want),
            (QueryCond::Absent(absent), v) => *absent == v.is_none(),
            (QueryCond::OtherThan(list), Some(v)) => {
                !list.iter().any(|w| v.eq_ignore_ascii_case(w))
            }
            _ => false,
        }
    }
}

impl<'a> Cond<'a> {
    fn read(r: &mut Reader<'a>) -> Cond<'a> {
        Cond {
            equals: r.optional(Reader::text_ref),
            one_of: r.optional(List::read),
            min: r.optional(Reader::f64),
            max: r.optional(Reader::f64),
        }
    }
}

impl<'a> When<'a> {
    /// Reads a matcher; a compound one (`all`, `any`) only when `compound` allows it, so that
    /// reading never recurses more than once.
    fn read(r: &mut Reader<'a>, compound: bool) -> When<'a> {
        match r.u8() {
            0 => When::Page {
                path: r.text_ref(),
                query: List::read(r),
            },
            1 => When::Download {
                url: r.optional(Reader::text_ref),
                extensions: List::read(r),
            },
            2 => When::Answer {
                question: r.text_ref(),
                condition: Cond::read(r),
            },
            3 => When::Form {
                id: r.optional(Reader::text_ref),
                name: r.optional(Reader::text_ref),
            },
            4 => When::Event {
                name: r.text_ref(),
                properties: List::read(r),
            },
            5 => When::Visits { at_least: r.u32() },
            6 => When::DistinctPages { at_least: r.u32() },
            7 => When::PageViews {
                path: r.text_ref(),
                at_least: r.u32(),
            },
            8 => When::TimeOnSite {
                at_least_seconds: r.u32(),
            },
            9 => When::ReturnVisit {
                within_days: r.f64(),
            },
            10 if compound => When::All(List::read(r)),
            11 if compound => When::Any(List::read(r)),
            _ => {
                r.fail();
                When::Visits { at_least: 0 }
            }
        }
    }

    /// Aggregate conditions award their points once, when they become true.
    pub fn is_aggregate(&self) -> bool {
        matches!(
            self,
            When::Visits { .. }
                | When::DistinctPages { .. }
                | When::PageViews { .. }
                | When::TimeOnSite { .. }
                | When::ReturnVisit { .. }
        )
    }

    /// True for the conditions that hold for one event only (`page`, `download`, `form`,
    /// `event`), and for a compound condition that has one.
    pub fn is_momentary(&self) -> bool {
        match self {
            When::Page { .. } | When::Download { .. } | When::Form { .. } | When::Event { .. } => {
                true
            }
            When::All(parts) | When::Any(parts) => parts.iter().any(|p| p.is_momentary()),
            _ => false,
        }
    }

    /// Rules that count once, while (or once) their condition holds: answers, aggregates and
    /// compound conditions without a `page`, `download`, `form` or `event` part.
    pub fn counts_once(&self) -> bool {
        match self {
            When::Answer { .. } => true,
            When::All(_) | When::Any(_) => !self.is_momentary(),
            _ => self.is_aggregate(),
        }
    }

    /// The parts of a compound condition; none for the others.
    pub fn parts(&self) -> List<'a, When<'a>> {
        match self {
            When::All(parts) | When::Any(parts) => *parts,
            _ => List::default(),
        }
    }

    /// True for a `page_views` condition, or a compound one with a `page_views` part: the
    /// rule's state counts matching page views.
    pub fn counts_page_views(&self) -> bool {
        matches!(self, When::PageViews { .. })
            || self
                .parts()
                .iter()
                .any(|p| matches!(p, When::PageViews { .. }))
    }

    /// The length of the literal start of the condition's path or URL pattern (see
    /// [`pattern::literal_prefix`]); 0 without one.
    pub fn literal(&self) -> usize {
        match self {
            When::Page { path, .. } | When::PageViews { path, .. } => pattern::literal_prefix(path),
            When::Download { url: Some(url), .. } => pattern::literal_prefix(url),
            _ => 0,
        }
    }

    /// The group of rules the engine looks this condition up in.
    fn group(&self) -> RuleGroup {
        match self {
            When::Page { .. } => RuleGroup::Page,
            When::Download { .. } => RuleGroup::Download,
            When::Answer { .. } => RuleGroup::Answer,
            When::Form { .. } => RuleGroup::Form,
            When::Event { .. } => RuleGroup::Event,
            When::All(_) | When::Any(_) => RuleGroup::Compound,
            _ => RuleGroup::Aggregate,
        }
    }
}

/// Groups of rules the engine looks up per event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleGroup {
    Page = 0,
    Download = 1,
    Answer = 2,
    Form = 3,
    Event = 4,
    Aggregate = 5,
    /// `all` and `any`.
    Compound = 6,
}

const GROUPS: usize = 7;

/// One rule of a compiled model.
#[derive(Debug, Clone, Copy)]
pub struct RuleView<'a> {
    /// The rule's id.
    pub id: &'a str,
    pub when: When<'a>,
    pub dimension: Dimension,
    pub points: i32,
    pub frequency: Frequency,
    pub decay: Decay,
}

/// One tier of a compiled model.
#[derive(Debug, Clone)]
pub struct TierView<'a> {
    pub name: &'a str,
    pub min: Thresholds,
    pub max: Thresholds,
    /// The indices of the rules the tier requires.
    pub requires: Vec<usize>,
}

/// Everything read from the bytes, borrowing them.
#[derive(Debug, Default)]
struct View<'a> {
    page: &'a [u8],
    id: &'a str,
    model_version: &'a str,
    session_timeout_minutes: Option<f64>,
    session_timeout_ms: i64,
    allow_demotion: bool,
    calibration: Option<Calibration>,
    limits: Limits,
    rules: Vec<RuleView<'a>>,
    tiers: Vec<TierView<'a>>,
    rule_key: u64,
    by_group: [Vec<usize>; GROUPS],
    literals: Vec<usize>,
    id_hashes: Vec<u32>,
    questions: Vec<&'a str>,
}

self_cell::self_cell!(
    /// The compiled bytes and the view of them.
    struct Cell {
        owner: Box<[u8]>,
        #[covariant]
        dependent: View,
    }
);

/// A compiled model, ready for the engine: the bytes `leadscore build` wrote, checked and
/// indexed (rules per group, pattern prefixes, id hashes, the questions compound rules read).
pub struct Compiled(Cell);

impl Compiled {
    /// Reads a compiled model: checks magic, format, length and checksum, then every value's
    /// bounds. Never panics, whatever the bytes.
    pub fn read(bytes: Box<[u8]>) -> Result<Compiled, LoadError> {
        Cell::try_new(bytes, |b| View::read(b)).map(Compiled)
    }

    fn view(&self) -> &View<'_> {
        self.0.borrow_dependent()
    }

    /// The compiled bytes.
    pub fn bytes(&self) -> &[u8] {
        self.0.borrow_owner()
    }

    /// The page section (JSON text, see [`binary::page`](super::binary::page)).
    pub fn page(&self) -> &[u8] {
        self.view().page
    }

    /// The model's id.
    pub fn id(&self) -> &str {
        self.view().id
    }

    /// The version of the model's content.
    pub fn model_version(&self) -> &str {
        self.view().model_version
    }

    /// `session_timeout_minutes` as written in the model.
    pub fn session_timeout_minutes(&self) -> Option<f64> {
        self.view().session_timeout_minutes
    }

    /// Milliseconds of inactivity after which the next page view starts a new visit.
    pub fn session_timeout_ms(&self) -> i64 {
        self.view().session_timeout_ms
    }

    /// Whether a visitor may fall back to a lower tier.
    pub fn allow_demotion(&self) -> bool {
        self.view().allow_demotion
    }

    /// The calibration from total score to conversion probability, if any.
    pub fn calibration(&self) -> Option<Calibration> {
        self.view().calibration
    }

    /// Bounds per dimension and on the total.
    pub fn limits(&self) -> &Limits {
        &self.view().limits
    }

    /// The rules, in model order.
    pub fn rules(&self) -> &[RuleView<'_>] {
        &self.view().rules
    }

    /// The tiers, highest first.
    pub fn tiers(&self) -> &[TierView<'_>] {
        &self.view().tiers
    }

    /// The matcher of rule `i` (an `any` of nothing, which never holds, past the end).
    #[inline]
    pub fn when(&self, i: usize) -> &When<'_> {
        const NONE: &When<'static> = &When::Any(List::EMPTY);
        self.rules().get(i).map_or(NONE, |r| &r.when)
    }

    /// The indices of the rules of one group, in model order.
    pub fn rules_for(&self, group: RuleGroup) -> &[usize] {
        self.view()
            .by_group
            .get(group as usize)
            .map_or(&[], Vec::as_slice)
    }

    /// The literal prefix length of rule `rule`'s path pattern (0 when it has none).
    pub fn literal(&self, rule: usize) -> usize {
        self.view().literals.get(rule).copied().unwrap_or(0)
    }

    /// True when `path` matches the path pattern `pattern` of rule `rule`.
    pub fn path_matches(&self, rule: usize, pattern: &str, path: &str) -> bool {
        pattern::matches_after(pattern, self.literal(rule), path)
    }

    /// The questions that answer conditions of `all` and `any` rules name (each once,
    /// ignoring ASCII case): the state keeps the current answer to each.
    pub fn compound_questions(&self) -> &[&str] {
        &self.view().questions
    }

    /// Per rule, the 32-bit FNV-1a hash of its id: what visitor state keeps of the id.
    pub fn id_hashes(&self) -> &[u32] {
        &self.view().id_hashes
    }

    /// Fingerprint of the compiled model (FNV-1a 64 of its body): visitor state aligned to a
    /// model with the same key needs no realignment. Any change to the model changes it, and
    /// realigning state that is already aligned changes nothing.
    pub fn rule_key(&self) -> u64 {
        self.view().rule_key
    }
}

impl Clone for Compiled {
    fn clone(&self) -> Compiled {
        // Bytes that were read once read again.
        Compiled(Cell::new(self.bytes().into(), |b| {
            View::read(b).unwrap_or_default()
        }))
    }
}

impl PartialEq for Compiled {
    fn eq(&self, other: &Compiled) -> bool {
        self.bytes() == other.bytes()
    }
}

impl fmt::Debug for Compiled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compiled")
            .field("id", &self.id())
            .field("bytes", &self.bytes().len())
            .finish()
    }
}

impl<'a> View<'a> {
    fn read(bytes: &'a [u8]) -> Result<View<'a>, LoadError> {
        let mut header = Reader::new(bytes);
        if header.take(4) != MAGIC {
            return Err(LoadError::NotAModel);
        }
        if bytes.len() < HEADER_LEN {
            return Err(LoadError::Damaged);
        }
        if header.u16() != FORMAT {
            return Err(LoadError::Version);
        }
        let (reserved, len, sum) = (header.u16(), header.u32(), header.u32());
        let body = bytes.get(HEADER_LEN..).unwrap_or_default();
        if reserved != 0 || body.len() != len as usize || fnv1a32(body) != sum {
            return Err(LoadError::Damaged);
        }
        let mut r = Reader::new(body);
        let page_len = r.u32() as usize;
        let mut v = View {
            page: r.take(page_len),
            id: r.text_ref(),
            model_version: r.text_ref(),
            session_timeout_minutes: r.optional(Reader::f64),
            allow_demotion: r.bool(),
            calibration: r.optional(|r| Calibration {
                intercept: r.f64(),
                slope: r.f64(),
            }),
            ..View::default()
        };
        let mut bounds = || {
            r.optional(|r| Bounds {
                min: r.optional(Reader::f64),
                max: r.optional(Reader::f64),
            })
        };
        v.limits = Limits {
            fit: bounds(),
            engagement: bounds(),
            intent: bounds(),
            product: bounds(),
            total: bounds(),
        };
        let rules = usize::from(r.u16());
        for _ in 0..rules.min(r.rest().len()) {
            v.rules.push(rule(&mut r));
        }
        let tiers = usize::from(r.u16());
        if tiers > MAX_TIERS || rules > v.rules.len() {
            r.fail();
        }
        for _ in 0..tiers.min(r.rest().len()) {
            let tier = tier(&mut r, rules);
            v.tiers.push(tier);
        }
        if !r.finish() {
            return Err(LoadError::Malformed);
        }
        // FNV-1a 64 of the whole body: another model, or another version of it, has another.
        v.rule_key = body.iter().fold(0xcbf2_9ce4_8422_2325, |h: u64, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        v.index();
        Ok(v)
    }

    /// The engine's lookups.
    fn index(&mut self) {
        for (i, rule) in self.rules.iter().enumerate() {
            if let Some(list) = self.by_group.get_mut(rule.when.group() as usize) {
                list.push(i);
            }
            self.literals.push(rule.when.literal());
            self.id_hashes.push(id_hash(rule.id));
            for part in rule.when.parts().iter() {
                if let When::Answer { question, .. } = part {
                    if !self
                        .questions
                        .iter()
                        .any(|q| q.eq_ignore_ascii_case(question))
                    {
                        self.questions.push(question);
                    }
                }
            }
        }
        let minutes = self.session_timeout_minutes.unwrap_or(30.0);
        self.session_timeout_ms = (minutes * 60_000.0) as i64;
    }
}

fn rule<'a>(r: &mut Reader<'a>) -> RuleView<'a> {
    let id = r.text_ref();
    let when = When::read(r, true);
    let dimension = match Dimension::ALL.get(usize::from(r.u8())) {
        Some(d) => *d,
        None => {
            r.fail();
            Dimension::Fit
        }
    };
    let points = r.i32();
    let frequency = match r.u8() {
        0 => Frequency::Once,
        1 => Frequency::EveryTime,
        2 => Frequency::AtMost(r.u32()),
        3 => Frequency::AtMostPerWindow {
            times: r.u32(),
            days: r.f64(),
        },
        _ => {
            r.fail();
            Frequency::Once
        }
    };
    let decay = match r.u8() {
        0 => Decay::Never,
        1 => Decay::HalfLifeDays(r.f64()),
        2 => Decay::ExpiresAfterDays(r.f64()),
        _ => {
            r.fail();
            Decay::Never
        }
    };
    RuleView {
        id,
        when,
        dimension,
        points,
        frequency,
        decay,
    }
}

fn thresholds(r: &mut Reader<'_>) -> Thresholds {
    Thresholds {
        fit: r.optional(Reader::f64),
        engagement: r.optional(Reader::f64),
        intent: r.optional(Reader::f64),
        product: r.optional(Reader::f64),
        total: r.optional(Reader::f64),
    }
}

/// Reads a tier of a model with `rules` rules.
fn tier<'a>(r: &mut Reader<'a>, rules: usize) -> TierView<'a> {
    let name = r.text_ref();
    let min = thresholds(r);
    let max = thresholds(r);
    let requires = r.list(|r| {
        let i = usize::from(r.u16());
        if i >= rules {
            r.fail();
        }
        i
    });
    TierView {
        name,
        min,
        max,
        requires,
    }
}
