//! The benchmark's visitors and events: `benches/browser/events.mjs` ported line for line, so
//! that the native benchmark scores the same 10,000 events of 1,000 visitors (same seed, same
//! mulberry32 draws in the same order) as the browser benchmark. A realistic mix for the 30-rule
//! model — mostly page views, then engagement time, answers, product events, downloads and forms
//! — with the variations the engine has to get right (case, spaces, trailing slashes, numbers
//! given as text, full URLs with a query, paths that almost match) and a few invalid events that
//! every variant must reject.

use leadscore::engine::{Event, Millis, Value};

const DAY: Millis = 86_400_000;
const MINUTE: Millis = 60_000;
/// First event of the first visitor: 2026-11-01T00:00:00Z.
pub const T0: Millis = 1_793_491_200_000;
/// The browser benchmark's seed.
pub const SEED: u32 = 20_261_201;

/// One visitor's events, in time order (ms since the epoch).
pub struct Visitor {
    pub events: Vec<(Millis, Event)>,
}

/// mulberry32: a small seeded PRNG, uniform in [0, 1) (the JavaScript's 32-bit arithmetic).
struct Prng(u32);

impl Prng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x6d2b_79f5);
        let mut t = self.0;
        t = (t ^ (t >> 15)).wrapping_mul(t | 1);
        t ^= t.wrapping_add((t ^ (t >> 7)).wrapping_mul(t | 61));
        f64::from(t ^ (t >> 14)) / 4_294_967_296.0
    }

    /// `Math.floor(rnd() * n)`.
    fn below(&mut self, n: usize) -> usize {
        (self.next() * n as f64).floor() as usize
    }

    fn pick<T: Copy>(&mut self, list: &[T]) -> T {
        list[self.below(list.len())]
    }
}

#[derive(Clone, Copy)]
enum V {
    T(&'static str),
    N(f64),
    B(bool),
}

impl V {
    fn value(self) -> Value {
        match self {
            V::T(t) => Value::Text(t.into()),
            V::N(n) => Value::Number(n),
            V::B(b) => Value::Bool(b),
        }
    }
}

/// One event, drawn from the mix.
fn event(rnd: &mut Prng) -> Event {
    let r = rnd.next();
    if r < 0.55 {
        page_view(rnd)
    } else if r < 0.67 {
        Event::Engagement {
            seconds: (rnd.next() * 1200.0).round() / 10.0,
        }
    } else if r < 0.77 {
        answer(rnd)
    } else if r < 0.87 {
        custom(rnd)
    } else if r < 0.93 {
        Event::Download {
            url: rnd.pick(DOWNLOADS).into(),
        }
    } else if r < 0.995 {
        let (id, name) = rnd.pick(FORMS);
        Event::FormSubmit {
            id: id.map(Into::into),
            name: name.map(Into::into),
        }
    } else {
        invalid(rnd.below(4))
    }
}

fn page_view(rnd: &mut Prng) -> Event {
    let r = rnd.next();
    let path = if r < 0.15 {
        rnd.pick(&["/", "/about", "/quiz", "/demo", "/resources", "/customers"])
            .to_string()
    } else if r < 0.33 {
        rnd.pick(&["/pricing", "/pricing/", "/Pricing", "/pricing/enterprise"])
            .to_string()
    } else if r < 0.53 {
        let post = rnd.below(40);
        let comments = if rnd.next() < 0.1 { "/comments" } else { "" };
        format!("/blog/post-{post}{comments}")
    } else if r < 0.70 {
        // The JavaScript builds the list (drawing the api page) before it picks from it.
        let api = format!("/docs/api/{}", rnd.below(30));
        let list = ["/docs", "/docs/getting-started/install", &api, "/documents"];
        rnd.pick(&list).to_string()
    } else if r < 0.77 {
        rnd.pick(&[
            "/careers",
            "/careers/open-roles",
            "/careers/engineering/backend",
        ])
        .to_string()
    } else {
        let feature = rnd.below(6);
        let page = if rnd.next() < 0.85 {
            format!("/{}", rnd.pick(&["reports", "automation", "api", "Sso"]))
        } else {
            String::new()
        };
        format!("/features/{feature}{page}")
    };
    let mut query = Vec::new();
    if rnd.next() < 0.3 {
        let source = rnd.pick(&["linkedin", "LinkedIn", "google", "newsletter"]);
        query.push(("utm_source".to_string(), source.to_string()));
    }
    if rnd.next() < 0.1 {
        let campaign = rnd.pick(&["q4", "launch"]);
        query.push(("utm_campaign".to_string(), campaign.to_string()));
    }
    Event::PageView {
        path,
        query: query.into_iter().collect(),
    }
}

fn answer(rnd: &mut Prng) -> Event {
    let r = rnd.next();
    let (question, value) = if r < 0.45 {
        let question = rnd.pick(&["role", "role", " Role "]);
        let value = rnd.pick(&[
            "founder",
            "CTO",
            " cto ",
            "vp-engineering",
            "director",
            "engineer",
            "marketer",
            "analyst",
            "student",
            "other",
        ]);
        (question, V::T(value))
    } else if r < 0.75 {
        let value = rnd.pick(&[
            V::T("250"),
            V::N(250.0),
            V::T("5"),
            V::N(5.0),
            V::T("9"),
            V::N(20000.0),
            V::T("1e3"),
            V::T(" 50 "),
            V::T("n/a"),
            V::T("5000"),
            V::N(4999.5),
            V::B(true),
        ]);
        ("company_size", value)
    } else {
        let value = rnd.pick(&["now", "this-quarter", "THIS-QUARTER", "next-year", "never"]);
        ("timeline", V::T(value))
    };
    Event::Answer {
        question: question.into(),
        value: value.value(),
    }
}

fn custom(rnd: &mut Prng) -> Event {
    let r = rnd.next();
    let (name, properties): (&str, Vec<(&str, Value)>) = if r < 0.1 {
        ("signup", vec![])
    } else if r < 0.2 {
        (
            "teammate_invited",
            vec![("role", Value::Text("admin".into()))],
        )
    } else if r < 0.7 {
        let name = rnd.pick(&["feature_used", "feature_used", "Feature_Used"]);
        let feature = rnd.pick(&["report", "integration", "automation", "export", " Report "]);
        (name, vec![("feature", Value::Text(feature.into()))])
    } else {
        let actions = if rnd.next() < 0.8 {
            Value::Number(rnd.below(120) as f64)
        } else {
            Value::Text(rnd.below(120).to_string())
        };
        ("session_summary", vec![("actions", actions)])
    };
    Event::Custom {
        name: name.into(),
        properties: properties
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    }
}

const DOWNLOADS: &[&str] = &[
    "/resources/roi-calculator.pdf",
    "/resources/buyers-guide.PDF",
    "https://cdn.acme.example/resources/guide.pdf?utm_source=x#page=2",
    "/resources/archive/2019/report.pdf",
    "/files/brochure.zip",
];

/// Form submissions: `(id, name)`.
const FORMS: &[(Option<&str>, Option<&str>)] = &[
    (Some("fit-quiz"), None),
    (Some("webinar"), None),
    (None, Some("newsletter")),
    (Some("footer"), Some("Newsletter")),
    (Some("demo-request"), None),
    (Some(" Demo-Request "), None),
    (Some("contact-sales"), None),
    (Some("search"), None),
];

/// Events every variant must reject (the engine's `Event::validate`).
fn invalid(which: usize) -> Event {
    match which {
        0 => Event::PageView {
            path: "pricing".into(),
            query: Default::default(),
        },
        1 => Event::Engagement { seconds: 100_000.0 },
        2 => Event::Answer {
            question: "  ".into(),
            value: Value::Text("cto".into()),
        },
        _ => Event::FormSubmit {
            id: None,
            name: None,
        },
    }
}

/// The time to the next event: mostly within a visit, sometimes hours or weeks later.
fn gap(rnd: &mut Prng) -> Millis {
    // `rnd() * 10 * MINUTE` and the others multiply left to right, as in the JavaScript.
    let r = rnd.next();
    let draw =
        |rnd: &mut Prng, n: f64, unit: Millis| (rnd.next() * n * unit as f64).floor() as Millis;
    if r < 0.72 {
        5_000 + draw(rnd, 10.0, MINUTE)
    } else if r < 0.92 {
        31 * MINUTE + draw(rnd, 2.0, DAY)
    } else {
        2 * DAY + draw(rnd, 38.0, DAY)
    }
}

/// `events` events from `visitors` visitors, each visitor's events in time order. Every visitor
/// has at least one event; the rest are spread unevenly (a few visitors do much more than most).
pub fn generate(visitors: usize, events: usize, seed: u32) -> Vec<Visitor> {
    let mut rnd = Prng(seed);
    let mut counts = vec![1usize; visitors];
    for _ in visitors..events {
        // Skewed towards low indices: visitor i gets roughly 1 / (i + 30) of the events.
        let v = ((visitors as f64 * rnd.next().powf(1.6)).floor() as usize).min(visitors - 1);
        counts[v] += 1;
    }
    counts
        .into_iter()
        .map(|n| {
            // `rnd() * 60 * DAY`, multiplied left to right as in the JavaScript.
            let mut t = T0 + (rnd.next() * 60.0 * DAY as f64).floor() as Millis;
            let mut list = Vec::with_capacity(n);
            for i in 0..n {
                if i > 0 {
                    t += gap(&mut rnd);
                }
                list.push((t, event(&mut rnd)));
            }
            Visitor { events: list }
        })
        .collect()
}
