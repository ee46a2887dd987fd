//! The model document: what a marketer edits, as serde types.
//!
//! Every struct denies unknown fields, so a typo (`"pionts"`) is an error with its path, not a
//! silently ignored rule. The JSON Schema in `schema/model.schema.json` is generated from these types.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[cfg(feature = "schema")]
use schemars::JsonSchema;

/// The model format version this build reads.
pub const FORMAT_VERSION: u32 = 1;

/// A scoring model: rules that give points, limits, and the tiers they lead to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Model {
    /// Editor hint: the JSON Schema this file follows. Ignored by the engine (not in the
    /// browser's kernel).
    #[cfg(feature = "std")]
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Format version of this document; must be 1.
    pub version: u32,
    /// Identifier of the model, sent with every tier result (e.g. `acme-saas`).
    pub id: String,
    /// Version of this model's content, sent with every tier result (e.g. `2026-11-01`).
    pub model_version: String,
    /// Free text for the people who maintain the model (not in the browser's kernel).
    #[cfg(feature = "std")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Minutes of inactivity after which the next page view starts a new visit (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_timeout_minutes: Option<f64>,
    /// The scoring rules, evaluated in this order.
    pub rules: Vec<Rule>,
    /// Lower and upper bounds per dimension and on the total.
    #[serde(default, skip_serializing_if = "Limits::is_empty")]
    pub limits: Limits,
    /// Tiers from the highest to the lowest; the first whose conditions hold wins.
    pub tiers: Vec<Tier>,
    /// Whether a visitor may fall back to a lower tier when points decay or expire
    /// (default `true`). With `false` a visitor keeps the highest tier reached.
    #[serde(default = "default_true")]
    pub allow_demotion: bool,
    /// Maps a total score to a conversion probability (written by `leadscore train`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
    /// How `leadscore train` made this model: label, mapping, split and data it learned from.
    /// Ignored by the engine, left out of the compiled model and of the browser's kernel.
    #[cfg(feature = "std")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training: Option<Training>,
}

fn default_true() -> bool {
    true
}

/// One scoring rule: when an event matches, the rule gives points to a dimension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Unique, stable identifier. Visitor state is kept per rule id, so renaming a rule resets it.
    pub id: String,
    /// Free text shown in explanations (not in the browser's kernel).
    #[cfg(feature = "std")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// What must happen for the rule to fire.
    pub when: Matcher,
    /// Which sub-score the points go to.
    pub dimension: Dimension,
    /// Points per firing; negative points lower the score.
    pub points: i32,
    /// How often the rule may fire (default `once`). Answer rules and aggregate conditions
    /// always count once.
    #[serde(default)]
    pub frequency: Frequency,
    /// How the points fade. Defaults to `never`.
    #[serde(default)]
    pub decay: Decay,
    /// Evidence behind learned points: how many historical leads the rule covered and how many
    /// converted. Written by `leadscore train`; ignored by the engine, left out of the compiled
    /// model and of the browser's kernel.
    #[cfg(feature = "std")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
}

/// The four sub-scores a model keeps apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// Who the visitor is: role, company size, industry, geography.
    Fit,
    /// Behaviour: visits, downloads, time on site.
    Engagement,
    /// Buying intent: demo requests, pricing pages, contact forms.
    Intent,
    /// Product usage: trial milestones, feature use.
    Product,
}

impl Dimension {
    /// All dimensions, in the order scores list them.
    pub const ALL: [Dimension; 4] = [
        Dimension::Fit,
        Dimension::Engagement,
        Dimension::Intent,
        Dimension::Product,
    ];

    /// The dimension's name as written in model files.
    pub fn name(self) -> &'static str {
        match self {
            Dimension::Fit => "fit",
            Dimension::Engagement => "engagement",
            Dimension::Intent => "intent",
            Dimension::Product => "product",
        }
    }

    /// Position in [`Dimension::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// What makes a rule fire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Matcher {
    /// A page view whose path matches `path` (`/pricing`, `/pricing/*`, `/docs/**`) and whose
    /// query meets the conditions per parameter: a value (`{"utm_source": "linkedin"}`; `*`
    /// matches any value), `{"absent": true}` (the page view has no such parameter) or
    /// `{"other_than": ["google", "linkedin"]}` (present, with none of these values).
    Page {
        path: String,
        #[serde(default, skip_serializing_if = "Entries::is_empty")]
        query: Entries<QueryCondition>,
    },
    /// A download whose URL path matches `url`, or whose file extension is in `extensions`.
    Download {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        extensions: Vec<String>,
    },
    /// The visitor's current answer to `question` meets the condition. The rule counts while
    /// the answer holds: a changed answer moves the points to the rule it matches now.
    Answer {
        question: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        equals: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        one_of: Option<Vec<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
    },
    /// A form submission, by the form's `id` or `name` attribute.
    Form {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// A custom event (product usage, sent by the host app) by name, with optional conditions
    /// on its properties.
    Event {
        name: String,
        #[serde(default, skip_serializing_if = "Entries::is_empty")]
        properties: Entries<Condition>,
    },
    /// Aggregate: the visitor has made at least this many visits (sessions).
    Visits { at_least: u32 },
    /// Aggregate: the visitor has viewed at least this many distinct pages (at most 64).
    DistinctPages { at_least: u32 },
    /// Aggregate: pages matching `path` have been viewed at least `at_least` times.
    PageViews { path: String, at_least: u32 },
    /// Aggregate: at least this many seconds of visible time on the site.
    TimeOnSite { at_least_seconds: u32 },
    /// Aggregate: the visitor came back for a new visit within this many days of the last one.
    ReturnVisit { within_days: f64 },
    /// Every condition holds (2 to 16 of them, none of them `all` or `any`): answers and the
    /// aggregates `visits`, `distinct_pages`, `page_views` and `time_on_site` are read from
    /// the visitor's state, and at most one `page`, `download`, `form` or `event` condition
    /// holds for the event it matches. Without such a condition the rule counts once, while the
    /// conditions hold (a changed answer can take it back); with one, it fires on each
    /// matching event while the other conditions hold, as its frequency allows.
    All(Vec<Matcher>),
    /// At least one condition holds (2 to 16 of them, none of them `all` or `any`): either
    /// all answers and aggregates (the rule counts once, while one of them holds), or all
    /// `page`, `download`, `form` and `event` conditions (the rule fires on each event one of
    /// them matches, as its frequency allows).
    Any(Vec<Matcher>),
}

/// A condition on one query parameter of a page view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(untagged)]
pub enum QueryCondition {
    /// The parameter has this value (ignoring ASCII case); `*` matches any value.
    Equals(String),
    /// `{"absent": true}` or `{"other_than": [...]}`.
    Test(QueryTest),
}

/// A query condition other than a value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum QueryTest {
    /// `true`: the page view has no such parameter.
    Absent(bool),
    /// The parameter is present and its value is none of these (ignoring ASCII case).
    OtherThan(Vec<String>),
}

impl From<&str> for QueryCondition {
    fn from(value: &str) -> QueryCondition {
        QueryCondition::Equals(value.into())
    }
}

impl QueryCondition {
    /// True when a page view whose parameter has `value` (`None`: absent) meets the condition.
    pub fn holds(&self, value: Option<&str>) -> bool {
        match (self, value) {
            (QueryCondition::Equals(want), Some(v)) => want == "*" || v.eq_ignore_ascii_case(want),
            (QueryCondition::Test(QueryTest::Absent(absent)), v) => *absent == v.is_none(),
            (QueryCondition::Test(QueryTest::OtherThan(list)), Some(v)) => {
                !list.iter().any(|w| v.eq_ignore_ascii_case(w))
            }
            _ => false,
        }
    }
}

impl Matcher {
    /// Aggregate conditions award their points once, when they become true.
    pub fn is_aggregate(&self) -> bool {
        matches!(
            self,
            Matcher::Visits { .. }
                | Matcher::DistinctPages { .. }
                | Matcher::PageViews { .. }
                | Matcher::TimeOnSite { .. }
                | Matcher::ReturnVisit { .. }
        )
    }

    /// True for the conditions that hold for one event only (`page`, `download`, `form`,
    /// `event`), and for a compound condition that has one.
    pub fn is_momentary(&self) -> bool {
        match self {
            Matcher::Page { .. }
            | Matcher::Download { .. }
            | Matcher::Form { .. }
            | Matcher::Event { .. } => true,
            Matcher::All(parts) | Matcher::Any(parts) => parts.iter().any(Matcher::is_momentary),
            _ => false,
        }
    }

    /// Rules that count once, while (or once) their condition holds: answers, aggregates and
    /// compound conditions without a `page`, `download`, `form` or `event` part.
    pub fn counts_once(&self) -> bool {
        match self {
            Matcher::Answer { .. } => true,
            Matcher::All(_) | Matcher::Any(_) => !self.is_momentary(),
            _ => self.is_aggregate(),
        }
    }

    /// The parts of a compound condition; none for the others.
    pub fn parts(&self) -> &[Matcher] {
        match self {
            Matcher::All(parts) | Matcher::Any(parts) => parts,
            _ => &[],
        }
    }

    /// The name of the matcher kind as written in model files.
    pub fn kind(&self) -> &'static str {
        match self {
            Matcher::Page { .. } => "page",
            Matcher::Download { .. } => "download",
            Matcher::Answer { .. } => "answer",
            Matcher::Form { .. } => "form",
            Matcher::Event { .. } => "event",
            Matcher::Visits { .. } => "visits",
            Matcher::DistinctPages { .. } => "distinct_pages",
            Matcher::PageViews { .. } => "page_views",
            Matcher::TimeOnSite { .. } => "time_on_site",
            Matcher::ReturnVisit { .. } => "return_visit",
            Matcher::All(_) => "all",
            Matcher::Any(_) => "any",
        }
    }
}

/// A condition on an answer or an event property. Give `equals`, `one_of`, or a numeric range
/// (`min` and/or `max`, both inclusive). Text comparisons ignore case and surrounding spaces.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Condition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_of: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

/// How often a rule may fire.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Frequency {
    /// The first matching event only.
    #[default]
    Once,
    /// Every matching event.
    EveryTime,
    /// At most this many times in all.
    AtMost(u32),
    /// At most `times` times within any window of `days` days.
    AtMostPerWindow { times: u32, days: f64 },
}

/// How a rule's points fade over time.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Decay {
    /// Points keep their full value.
    #[default]
    Never,
    /// Each firing's points halve every this many days.
    HalfLifeDays(f64),
    /// Each firing's points count in full for this many days, then expire.
    ExpiresAfterDays(f64),
}

/// Lower and upper bounds per dimension and on the total.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Limits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fit: Option<Bounds>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engagement: Option<Bounds>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<Bounds>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<Bounds>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<Bounds>,
}

impl Limits {
    /// True when no limit is set.
    pub fn is_empty(&self) -> bool {
        *self == Limits::default()
    }

    /// The bounds of one dimension, if any.
    pub fn of(&self, dimension: Dimension) -> Option<Bounds> {
        match dimension {
            Dimension::Fit => self.fit,
            Dimension::Engagement => self.engagement,
            Dimension::Intent => self.intent,
            Dimension::Product => self.product,
        }
    }
}

/// An inclusive range; a missing side is unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Bounds {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

impl Bounds {
    /// Clamps `value` into the bounds (a bound that is NaN clamps nothing). Comparisons rather
    /// than `f64::min` / `max`, which WebAssembly has no instruction for (a call each).
    pub fn clamp(&self, value: f64) -> f64 {
        let mut v = value;
        if let Some(max) = self.max.filter(|&m| v > m) {
            v = max;
        }
        if let Some(min) = self.min.filter(|&m| v < m) {
            v = min;
        }
        v
    }
}

/// One qualified tier and the conditions to reach it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// Name sent to the backend (`PQL`, `SQL`, `MQL`, or your own).
    pub name: String,
    /// Minimum sub-scores and total (all must hold).
    #[serde(default, skip_serializing_if = "Thresholds::is_empty")]
    pub min: Thresholds,
    /// Maximum sub-scores and total (all must hold).
    #[serde(default, skip_serializing_if = "Thresholds::is_empty")]
    pub max: Thresholds,
    /// Rules that must currently count (e.g. SQL requires `demo-request`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<String>,
    /// What the tier's own training predicted: how many training leads the final model placed
    /// in this tier (and in no higher one) and how many of them converted. Written by
    /// `leadscore train` (and `train --base`); the collector's tier truth compares it with what
    /// really converts. Ignored by the engine, left out of the compiled model and of the
    /// browser's kernel.
    #[cfg(feature = "std")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
}

/// Values per dimension and for the total.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fit: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engagement: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<f64>,
}

impl Thresholds {
    /// True when no threshold is set.
    pub fn is_empty(&self) -> bool {
        *self == Thresholds::default()
    }

    /// The set values as `(name, dimension or None for total, value)`.
    pub fn entries(&self) -> impl Iterator<Item = (&'static str, Option<Dimension>, f64)> {
        [
            ("fit", Some(Dimension::Fit), self.fit),
            ("engagement", Some(Dimension::Engagement), self.engagement),
            ("intent", Some(Dimension::Intent), self.intent),
            ("product", Some(Dimension::Product), self.product),
            ("total", None, self.total),
        ]
        .into_iter()
        .filter_map(|(n, d, v)| v.map(|v| (n, d, v)))
    }
}

/// How `leadscore train` made a model, so that `leadscore eval` and `leadscore train --base` read
/// history files the same way without repeated flags. Ignored by the engine and left out of the
/// compiled model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Training {
    /// The conversion column (0/1, yes/no).
    pub label: String,
    /// The mapping used, with the command line's `--signal` entries and the split file's id
    /// column folded in.
    pub mapping: Mapping,
    /// The mapping file it was read from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapping_file: Option<FileRef>,
    /// Columns left out on the command line (`--ignore`), besides the mapping's own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<String>,
    /// Which rows were learned from and which were held out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<TrainingSplit>,
    /// The history file learned from.
    pub data: TrainingData,
    /// The fitter: `boost` or `logistic`; for `train --base`, what the refit kept: `refit` (new
    /// points), `recalibrate` (the base's points, a new calibration) or `base` (the base as it
    /// was).
    pub fit: String,
    /// Points that double the odds of converting.
    pub pdo: f64,
    /// Seed of the cross-validation folds or the boosting bags.
    pub seed: u64,
}

/// A file named in a `training` section, with a fingerprint of its bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct FileRef {
    /// The path as given to `leadscore train`.
    pub path: String,
    /// `fnv1a64:` and 16 hex digits of the file's bytes: says whether the file changed since.
    pub fingerprint: String,
}

/// How the rows of the history file were split into training and held-out rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum TrainingSplit {
    /// A split file (`ID_COLUMN,split` with `train` / `test` per row).
    File(FileRef),
    /// Ordered by a column that grows with time: the oldest rows trained, the newest
    /// `test_share` held out.
    Ordered { column: String, test_share: f64 },
}

/// The history file a model learned from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TrainingData {
    /// The file as named on the command line.
    pub file: String,
    /// `fnv1a64:` and 16 hex digits of the file's bytes.
    pub fingerprint: String,
    /// Data rows in the file.
    pub rows: u64,
    /// Rows learned from.
    pub training_rows: u64,
    /// Of those, rows that converted.
    pub converted: u64,
    /// Rows held out by the split.
    pub held_out_rows: u64,
}

/// Which column of a history file is which widget signal: the mapping file of `leadscore train`,
/// kept inline in a trained model's `training` section.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// The 0/1 (or yes/no) conversion column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The row id column (matched against a split file); never used as a signal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Columns to leave out (ids, CRM-only fields, anything a website cannot know).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<String>,
    /// Values that mean "missing" (default: empty, `Select`, `NaN`, `null`, `N/A`, `NA`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<Vec<String>>,
    /// Signal per column.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub columns: BTreeMap<String, ColumnSignal>,
}

/// What a history column records, as the widget sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ColumnSignal {
    /// A categorical answer to a question (quiz, form field). One rule per frequent level.
    Answer {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        question: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dimension: Option<Dimension>,
    },
    /// A numeric answer the host page reports (e.g. pages per visit): binned into `min` steps.
    Number {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        question: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dimension: Option<Dimension>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_bins: Option<usize>,
    },
    /// Number of visits (sessions): binned into `visits.at_least` steps.
    Visits {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dimension: Option<Dimension>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_bins: Option<usize>,
    },
    /// Seconds of time on site: binned into `time_on_site.at_least_seconds` steps.
    TimeOnSite {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dimension: Option<Dimension>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_bins: Option<usize>,
    },
    /// Number of distinct pages viewed: binned into `distinct_pages.at_least` steps (at most 64).
    DistinctPages {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dimension: Option<Dimension>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_bins: Option<usize>,
    },
    /// A query parameter of the landing page (e.g. `utm_source`): one page rule per frequent value.
    Source {
        parameter: String,
        /// Landing page pattern (default `/**`, any page).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dimension: Option<Dimension>,
    },
    /// A download happened when the value is one of `values` (default yes/y/true/1).
    Download {
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        values: Option<Vec<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dimension: Option<Dimension>,
    },
    /// A form with this id was submitted when the value is one of `values`.
    Form {
        id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        values: Option<Vec<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dimension: Option<Dimension>,
    },
    /// A custom event with this name happened when the value is one of `values`.
    Event {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        values: Option<Vec<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dimension: Option<Dimension>,
    },
    /// Leave the column out.
    Ignore,
}

/// Historical evidence behind a learned rule or tier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// Training leads the rule covered (or the tier held).
    pub leads: u64,
    /// Share of those leads that converted.
    pub conversion_rate: f64,
}

/// Logistic calibration: `p = 1 / (1 + exp(-(intercept + slope * total)))`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    pub intercept: f64,
    pub slope: f64,
}

impl Calibration {
    /// Conversion probability for a total score.
    pub fn probability(&self, total: f64) -> f64 {
        1.0 / (1.0 + libm::exp(-(self.intercept + self.slope * total)))
    }
}

/// Named values (query parameters, event properties), written in JSON as an object: a map kept
/// as a list sorted by name, each name once. It behaves as a `BTreeMap` for the few operations
/// the engine needs, with a fraction of the code (it matters in the widget). The names are
/// `String`s, or `&str` borrowed from the bytes of an event the kernel reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Entries<V, K = String>(Vec<(K, V)>);

impl<V, K> Default for Entries<V, K> {
    fn default() -> Self {
        Entries(Vec::new())
    }
}

impl<V, K: AsRef<str>> Entries<V, K> {
    /// No entries.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn position(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_ref().cmp(key))
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&V> {
        let i = self.position(key).ok()?;
        self.0.get(i).map(|(_, v)| v)
    }

    /// True when `key` has a value.
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_ok()
    }

    /// Sets the value of `key`; returns the value it replaced.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.position(key.as_ref()) {
            Ok(i) => self.0.get_mut(i).map(|(_, v)| core::mem::replace(v, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    /// The entries, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    /// The names, in order.
    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.0.iter().map(|(k, _)| k)
    }

    /// The values, in the order of their names.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.0.iter().map(|(_, v)| v)
    }

    /// The values, to change them.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.0.iter_mut().map(|(_, v)| v)
    }
}

impl<V, K: AsRef<str>> FromIterator<(K, V)> for Entries<V, K> {
    /// Collects named values; a name given twice keeps its last value.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(items: I) -> Self {
        let mut list: Vec<(K, V)> = Vec::new();
        for (k, v) in items {
            match list.iter_mut().find(|(key, _)| key.as_ref() == k.as_ref()) {
                Some(entry) => entry.1 = v,
                None => list.push((k, v)),
            }
        }
        // An insertion sort: a few entries at most, and no sort code in the browser's kernel.
        for i in 1..list.len() {
            let mut j = i;
            while j > 0 && list.get(j - 1).map(|e| e.0.as_ref()) > list.get(j).map(|e| e.0.as_ref())
            {
                list.swap(j - 1, j);
                j -= 1;
            }
        }
        Entries(list)
    }
}

impl<V, const N: usize> From<[(String, V); N]> for Entries<V> {
    fn from(items: [(String, V); N]) -> Self {
        items.into_iter().collect()
    }
}

impl<V, K> IntoIterator for Entries<V, K> {
    type Item = (K, V);
    type IntoIter = alloc::vec::IntoIter<(K, V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a, V, K> IntoIterator for &'a Entries<V, K> {
    type Item = (&'a K, &'a V);
    type IntoIter =
        core::iter::Map<core::slice::Iter<'a, (K, V)>, fn(&'a (K, V)) -> (&'a K, &'a V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl<V: Serialize, K: Serialize> Serialize for Entries<V, K> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Entries<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<String, V>::deserialize(deserializer)?;
        Ok(Entries(map.into_iter().collect()))
    }
}

#[cfg(feature = "schema")]
impl<V: JsonSchema> JsonSchema for Entries<V> {
    fn inline_schema() -> bool {
        BTreeMap::<String, V>::inline_schema()
    }

    fn schema_name() -> alloc::borrow::Cow<'static, str> {
        BTreeMap::<String, V>::schema_name()
    }

    fn schema_id() -> alloc::borrow::Cow<'static, str> {
        BTreeMap::<String, V>::schema_id()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        BTreeMap::<String, V>::json_schema(generator)
    }
}
