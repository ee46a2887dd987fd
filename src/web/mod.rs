//! The browser boundary (wasm32 only): the `#[wasm_bindgen]` entry points and the adapters that
//! connect the page to the [`engine`](crate::engine).
//!
//! Nothing here scores: [`watch`] turns DOM activity into engine events, the engine decides, and
//! on a tier change [`transport`] delivers the tier result while [`output`] tells the page
//! (hidden fields, dataLayer, `leadscore:tier`, callbacks). [`store`] keeps the state between
//! pages and [`panel`] shows it in debug mode.
//!
//! The entry points never throw and never panic: a problem makes the widget inert or degraded
//! with one console warning. The only error surfaced to the caller is [`start`]'s (an invalid
//! model or a second start), which the JS shim prints once.

pub mod js;
pub mod output;
pub mod panel;
pub mod store;
pub mod transport;
pub mod watch;

use crate::engine::{self, Event};
use crate::model::{reader, ValidModel};
use crate::payload::MAX_ID_LEN;
use gloo_events::{EventListener, EventListenerOptions};
use gloo_timers::callback::{Interval, Timeout};
use js::Warning;
use output::TierChange;
use panel::Panel;
use std::cell::RefCell;
use store::{Record, Store};
use transport::Sender;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use watch::Watch;
use web_sys::{Element, MutationObserver, MutationObserverInit};

/// Visible time is reported to the engine at least this often while the page is visible.
pub const ENGAGEMENT_INTERVAL_MS: u32 = 15_000;
/// Events kept while waiting for consent.
const MAX_PENDING: usize = 64;
/// Callbacks registered with `on`.
const MAX_CALLBACKS: usize = 32;

/// Settings: the `data-*` attributes of the script tag, or the object given to `init`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// Where tier results are posted; without it nothing is sent.
    pub endpoint: Option<String>,
    /// Name of the hidden form fields that carry the tier.
    pub field: Option<String>,
    /// `consent: "required"`: nothing is stored or sent before `consent(true)`.
    pub consent_required: bool,
    /// `privacy_signals: "ignore"`: send even with Global Privacy Control or Do Not Track.
    pub ignore_privacy_signals: bool,
    /// `send_scores: true`: tier results carry the sub-scores.
    pub send_scores: bool,
    /// `debug: true` (or `?leadscore_debug=1`): the debug panel and `console.table`.
    pub debug: bool,
}

impl Config {
    /// Reads settings from a plain object (`{endpoint, field, consent, privacy_signals,
    /// send_scores, debug}`); anything missing or of the wrong type takes its default.
    pub fn from_js(value: &JsValue) -> Config {
        let text = |key: &str| {
            js::get_str(value, key)
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        Config {
            endpoint: text("endpoint"),
            field: text("field"),
            consent_required: text("consent").is_some_and(|c| c.eq_ignore_ascii_case("required")),
            ignore_privacy_signals: text("privacy_signals")
                .is_some_and(|c| c.eq_ignore_ascii_case("ignore")),
            send_scores: js::get_flag(value, "send_scores"),
            debug: js::get_flag(value, "debug") || debug_in_url(),
        }
    }
}

fn debug_in_url() -> bool {
    web_sys::window()
        .and_then(|w| w.location().search().ok())
        .is_some_and(|s| s.contains("leadscore_debug=1"))
}

/// True when the browser sends Global Privacy Control or Do Not Track.
pub fn privacy_signal() -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    let navigator = js::get(&window, "navigator");
    js::get(&navigator, "globalPrivacyControl").as_bool() == Some(true)
        || js::get_str(&navigator, "doNotTrack").as_deref() == Some("1")
        || js::get_str(&window, "doNotTrack").as_deref() == Some("1")
}

/// Parses and validates a model given as a JS object; the error lists every problem with its path.
pub fn parse_model(model: JsValue) -> Result<ValidModel, String> {
    let mut text = String::from("the model is invalid, so the widget is off:");
    let (parsed, unknown) = match reader::read_model(&js::tree(&model)) {
        Ok(read) => read,
        Err(e) => {
            text.push_str("\n  ");
            text.push_str(&e.to_string());
            return Err(text);
        }
    };
    let errors = match ValidModel::new(parsed) {
        Ok(valid) if unknown.is_empty() => return Ok(valid),
        Ok(_) => Vec::new(),
        Err(errors) => errors.0,
    };
    for path in &unknown {
        text.push_str("\n  ");
        text.push_str(path);
        text.push_str(": unknown field");
    }
    for e in &errors {
        text.push_str("\n  ");
        text.push_str(if e.path.is_empty() {
            "(model)"
        } else {
            &e.path
        });
        text.push_str(": ");
        text.push_str(&e.message);
    }
    Err(text)
}

/// What to do in the page after the widget's state is released (so that callbacks may call
/// back into the widget).
#[derive(Default)]
struct Effects {
    /// Tier changes, in order (one form submission can make more than one).
    changes: Vec<TierChange>,
    fill: Option<(String, String)>,
    callbacks: Vec<JsValue>,
    data_layer: bool,
}

impl Effects {
    fn run(self) {
        if let Some((field, tier)) = &self.fill {
            output::fill_fields(field, tier);
        }
        for change in &self.changes {
            output::announce(change, &self.callbacks, self.data_layer);
        }
    }
}

/// When waiting results go out.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Send {
    /// If the backoff after a failure has passed.
    Due,
    /// Now, whatever the backoff (page load, back online, consent, page hidden).
    Now,
    /// The page is going away (`pagehide`).
    Leaving,
}

struct Widget {
    model: ValidModel,
    config: Config,
    watch: Watch,
    store: Store,
    record: Record,
    /// Storing and sending allowed (always, unless consent is required and not yet given).
    consented: bool,
    /// Global Privacy Control / Do Not Track (and not ignored): nothing is sent.
    privacy_signal: bool,
    /// After `forget`: inert for the rest of the page.
    stopped: bool,
    /// Another tab of the site wrote the record since this one read it.
    stale: bool,
    /// Events seen before consent, applied when it is given.
    pending: Vec<(Event, i64)>,
    callbacks: Vec<JsValue>,
    last_page: Option<Event>,
    visible_since: Option<i64>,
    /// Idempotency id of the result being posted.
    in_flight: Option<String>,
    retry: Option<Timeout>,
    panel: Option<Panel>,
    listeners: Vec<EventListener>,
    interval: Option<Interval>,
    observer: Option<(MutationObserver, Closure<dyn FnMut()>)>,
}

thread_local! {
    static WIDGET: RefCell<Option<Widget>> = const { RefCell::new(None) };
}

/// Runs `f` on the running widget, then the page effects it asked for. `None` when no widget
/// runs (or it is busy: a re-entrant call from inside the widget is dropped, never a panic).
fn with_widget<R>(f: impl FnOnce(&mut Widget, &mut Effects) -> R) -> Option<R> {
    let mut fx = Effects::default();
    let result = WIDGET.with(|cell| {
        let mut guard = cell.try_borrow_mut().ok()?;
        let widget = guard.as_mut()?;
        Some(f(widget, &mut fx))
    });
    if result.is_some() {
        fx.run();
    }
    result
}

impl Widget {
    fn new(model: ValidModel, config: Config) -> Widget {
        let consented = !config.consent_required;
        let mut store = if consented {
            Store::open()
        } else {
            Store::memory()
        };
        let record = if consented {
            store.load(&model)
        } else {
            Record::fresh(&model)
        };
        Widget {
            watch: Watch::new(&model),
            privacy_signal: !config.ignore_privacy_signals && privacy_signal(),
            store,
            record,
            consented,
            stopped: false,
            stale: false,
            pending: Vec::new(),
            callbacks: Vec::new(),
            last_page: None,
            visible_since: None,
            in_flight: None,
            retry: None,
            panel: None,
            listeners: Vec::new(),
            interval: None,
            observer: None,
            model,
            config,
        }
    }

    fn may_send(&self) -> bool {
        self.consented && !self.stopped && !self.privacy_signal && self.config.endpoint.is_some()
    }

    fn current_tier(&self) -> &str {
        self.record
            .state
            .tier
            .as_deref()
            .unwrap_or(engine::UNQUALIFIED)
    }

    /// Asks for the hidden fields to show the current tier (not before consent: the widget
    /// leaves the page alone until then).
    fn refresh_fields(&self, fx: &mut Effects) {
        if let (Some(field), true) = (&self.config.field, self.consented) {
            fx.fill = Some((field.clone(), self.current_tier().to_string()));
        }
    }

    /// Reads the record again when another tab changed it, so that tabs add up instead of
    /// overwriting each other.
    fn sync(&mut self) {
        if self.stale && self.consented && !self.stopped {
            self.stale = false;
            self.record = self.store.load(&self.model);
        }
    }

    /// Folds one event into the score; on a tier change queues the result and the page effects.
    fn apply(&mut self, event: Event, now: i64, fx: &mut Effects) {
        if self.stopped {
            return;
        }
        self.sync();
        if !self.consented {
            if self.pending.len() < MAX_PENDING {
                self.pending.push((event, now));
            }
            return;
        }
        let may_send = self.may_send();
        let Ok(score) = engine::apply(&mut self.record.state, &self.model, &event, now) else {
            return;
        };
        if let Some(panel) = &self.panel {
            panel.show(&score);
        }
        if score.changed() {
            let result = may_send.then(|| {
                let sender = Sender {
                    model_id: &self.model.model().id,
                    model_version: &self.model.model().model_version,
                    visitor_id: &self.record.visitor,
                    lead_id: self.record.lead.as_deref(),
                    send_scores: self.config.send_scores,
                };
                transport::tier_result(&score, &sender, now)
            });
            fx.changes.push(TierChange {
                tier: score.tier.to_string(),
                previous_tier: score.previous_tier.to_string(),
            });
            fx.callbacks = self.callbacks.clone();
            // A tag manager may forward the dataLayer to third parties: with Global Privacy
            // Control or Do Not Track honoured, the tier stays on the page.
            fx.data_layer = !self.privacy_signal;
            if let Some(field) = &self.config.field {
                fx.fill = Some((field.clone(), score.tier.to_string()));
            }
            if let Some(result) = result {
                self.record.enqueue(result);
            }
        }
        self.store.save(&self.record);
        self.flush(now, Send::Due);
    }

    /// A page view, unless the page (as the model sees it) did not change.
    fn page(&mut self, now: i64, fx: &mut Effects) {
        let Some(location) = web_sys::window().map(|w| w.location()) else {
            return;
        };
        let path = location.pathname().unwrap_or_default();
        let search = location.search().unwrap_or_default();
        let event = self.watch.page_view(&path, &search);
        if self.last_page.as_ref() == Some(&event) {
            return;
        }
        self.last_page = Some(event.clone());
        self.apply(event, now, fx);
    }

    /// Reports the visible time since the last report.
    fn engage(&mut self, now: i64, fx: &mut Effects) {
        let Some(since) = self.visible_since else {
            return;
        };
        let seconds = (now - since) as f64 / 1000.0;
        if seconds >= 1.0 {
            self.visible_since = Some(now);
            let seconds = seconds.min(engine_max_seconds());
            self.apply(Event::Engagement { seconds }, now, fx);
        }
    }

    /// Sends what is waiting: `fetch` with `keepalive` (one at a time, each answer confirmed), or
    /// `sendBeacon` when the page is hidden or going away.
    fn flush(&mut self, now: i64, when: Send) {
        if !self.may_send() || self.record.outbox.is_empty() {
            return;
        }
        let Some(endpoint) = self.config.endpoint.clone() else {
            return;
        };
        if when == Send::Leaving || page_hidden() {
            if self.record.attempts == 0 {
                // The page may not come back, and a beacon outlives it. A beacon's answer is never
                // known, so only results the backend has not refused yet go this way.
                let in_flight = self.in_flight.clone();
                let before = self.record.outbox.len();
                self.record.outbox.retain(|r| {
                    in_flight.as_deref() == Some(r.event_id.as_str())
                        || !transport::payload_text(r)
                            .is_some_and(|body| transport::beacon(&endpoint, &body))
                });
                if self.record.outbox.len() != before {
                    self.store.save(&self.record);
                }
            }
            // After failures: retried with confirmation once the page is visible again, or
            // on the next page (hidden often means unloading, where an answer never arrives).
            return;
        }
        if self.in_flight.is_some() || (when == Send::Due && (now as f64) < self.record.retry_at) {
            return;
        }
        let Some(first) = self.record.outbox.first() else {
            return;
        };
        let event_id = first.event_id.clone();
        let Some(body) = transport::payload_text(first) else {
            self.record.outbox.remove(0);
            return;
        };
        self.in_flight = Some(event_id.clone());
        let started = transport::post(&endpoint, &body, move |outcome| {
            with_widget(|w, _| w.delivered(&event_id, outcome, js::now()));
        });
        if !started {
            self.in_flight = None;
            self.failed(now);
        }
    }

    fn delivered(&mut self, event_id: &str, outcome: transport::Delivery, now: i64) {
        if self.in_flight.as_deref() == Some(event_id) {
            self.in_flight = None;
        }
        match outcome {
            transport::Delivery::Accepted => {}
            transport::Delivery::Failed => {
                self.failed(now);
                return;
            }
            transport::Delivery::Refused => js::warn_once(
                Warning::Delivery,
                "the backend refused a tier result; it is dropped, not retried",
            ),
        }
        self.record.outbox.retain(|r| r.event_id != event_id);
        self.record.attempts = 0;
        self.record.retry_at = 0.0;
        self.retry = None;
        self.store.save(&self.record);
        self.flush(now, Send::Due);
    }

    fn failed(&mut self, now: i64) {
        self.record.attempts = self.record.attempts.saturating_add(1);
        let delay = transport::backoff_ms(self.record.attempts);
        self.record.retry_at = now as f64 + delay;
        self.store.save(&self.record);
        js::warn_once(
            Warning::Delivery,
            "the tier result could not be delivered; it is kept and retried",
        );
        self.retry = Some(Timeout::new(delay as u32, || {
            with_widget(|w, _| w.flush(js::now(), Send::Due));
        }));
    }

    fn consent(&mut self, granted: bool, now: i64, fx: &mut Effects) {
        if granted == self.consented || self.stopped {
            return;
        }
        if granted {
            self.store = Store::open();
            self.record = self.store.load(&self.model);
            self.consented = true;
            for (event, at) in std::mem::take(&mut self.pending) {
                self.apply(event, at, fx);
            }
            self.store.save(&self.record);
            self.refresh_fields(fx);
            self.flush(now, Send::Now);
        } else {
            self.store.clear();
            self.store = Store::memory();
            self.record = Record::fresh(&self.model);
            self.consented = false;
            self.pending.clear();
            if let Some(field) = &self.config.field {
                fx.fill = Some((field.clone(), engine::UNQUALIFIED.to_string()));
            }
        }
    }

    fn forget(&mut self, fx: &mut Effects) {
        self.store.clear();
        self.store = Store::memory();
        self.record = Record::fresh(&self.model);
        self.pending.clear();
        self.retry = None;
        self.refresh_fields(fx);
        self.stopped = true;
    }

    fn explain(&self, now: i64) -> JsValue {
        let score = engine::score(&self.record.state, &self.model, now);
        let value = js::to_js(&store::score_tree(&score));
        if self.config.debug {
            web_sys::console::table_1(&js::get(&value, "contributions"));
        }
        value
    }
}

fn engine_max_seconds() -> f64 {
    86_400.0
}

fn page_hidden() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .is_some_and(|d| d.hidden())
}

/// The element an event happened on.
fn target_element(event: &web_sys::Event) -> Option<Element> {
    event.target()?.dyn_into::<Element>().ok()
}

fn on_click(event: &web_sys::Event) {
    let Some(link) = target_element(event).and_then(|el| el.closest("a[href]").ok().flatten())
    else {
        return;
    };
    with_widget(|w, fx| {
        if let Some(download) = w.watch.download(&w.model, &link) {
            w.apply(download, js::now(), fx);
        }
    });
}

fn on_change(event: &web_sys::Event) {
    let Some(field) = target_element(event) else {
        return;
    };
    with_widget(|w, fx| {
        if let Some(answer) = w.watch.answer(&field) {
            w.apply(answer, js::now(), fx);
        }
    });
}

fn on_submit(event: &web_sys::Event) {
    let Some(form) = target_element(event) else {
        return;
    };
    with_widget(|w, fx| {
        let now = js::now();
        for answer in w.watch.form_answers(&form) {
            w.apply(answer, now, fx);
        }
        if let Some(submit) = watch::form_submit(&form) {
            w.apply(submit, now, fx);
        }
    });
}

fn on_hidden_or_visible() {
    with_widget(|w, fx| {
        let now = js::now();
        if page_hidden() {
            w.engage(now, fx);
            w.visible_since = None;
            w.flush(now, Send::Now);
        } else {
            w.visible_since = Some(now);
            w.flush(now, Send::Due);
        }
    });
}

fn listen(window: &web_sys::Window, document: &web_sys::Document) -> Vec<EventListener> {
    let capture = EventListenerOptions::run_in_capture_phase();
    vec![
        EventListener::new_with_options(document, "click", capture, on_click),
        // A middle click opens the link in a new tab without a `click` event.
        EventListener::new_with_options(document, "auxclick", capture, on_click),
        EventListener::new_with_options(document, "change", capture, on_change),
        EventListener::new_with_options(document, "submit", capture, on_submit),
        EventListener::new(document, "visibilitychange", |_| on_hidden_or_visible()),
        EventListener::new(window, "pagehide", |_| {
            with_widget(|w, fx| {
                let now = js::now();
                w.engage(now, fx);
                w.visible_since = None;
                w.flush(now, Send::Leaving);
            });
        }),
        EventListener::new(window, "popstate", |_| {
            with_widget(|w, fx| w.page(js::now(), fx));
        }),
        EventListener::new(window, "storage", |event| {
            let key = js::get(event, "key");
            if key.is_null() || key.as_string().as_deref() == Some(store::STORAGE_KEY) {
                with_widget(|w, _| w.stale = true);
            }
        }),
        EventListener::new(window, "online", |_| {
            with_widget(|w, _| w.flush(js::now(), Send::Now));
        }),
    ]
}

/// Fills hidden fields in forms that builders insert after the page loaded.
fn observe_fields(
    document: &web_sys::Document,
) -> Option<(MutationObserver, Closure<dyn FnMut()>)> {
    let callback: Closure<dyn FnMut()> = Closure::new(|| {
        with_widget(|w, fx| w.refresh_fields(fx));
    });
    let observer = MutationObserver::new(callback.as_ref().unchecked_ref()).ok()?;
    let init = MutationObserverInit::new();
    init.set_child_list(true);
    init.set_subtree(true);
    let root = document.document_element()?;
    observer.observe_with_options(&root, &init).ok()?;
    Some((observer, callback))
}

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
/** Settings: the script tag's data-* attributes, or the object given to `leadscore('init', ...)`. */
export interface Settings {
  /** Where tier results are posted (nothing is sent without it). */
  endpoint?: string;
  /** Name of the hidden form fields that receive the tier. */
  field?: string;
  /** "required": nothing is stored or sent before `consent(true)`. */
  consent?: "required";
  /** "ignore": send even with Global Privacy Control or Do Not Track. */
  privacy_signals?: "ignore";
  /** Include the sub-scores in tier results. */
  send_scores?: boolean;
  /** Show the debug panel (also `?leadscore_debug=1`). */
  debug?: boolean;
}
/** A tier change, as callbacks and the `leadscore:tier` DOM event see it. */
export interface TierChange { tier: string; previous_tier: string; }
/** One rule's part in the score. */
export interface Contribution { rule: string; dimension: "fit" | "engagement" | "intent" | "product"; points: number; times: number; decayed: number; }
/** The visitor's score and what explains it. */
export interface Explanation {
  fit: number; engagement: number; intent: number; product: number; total: number;
  tier: string; previous_tier: string; probability?: number; contributions: Contribution[];
}
"#;

/// Starts the widget with `config` (see [`Config::from_js`]) and a model given as a JS object
/// (what `JSON.parse` or `fetch().json()` returns). Counts the current page view, installs the
/// page listeners and delivers results left over from earlier pages.
///
/// Errors (as a string) when the model is invalid, listing every problem with its path, or
/// when a widget already runs.
#[wasm_bindgen]
pub fn start(
    #[wasm_bindgen(unchecked_param_type = "Settings")] config: JsValue,
    #[wasm_bindgen(unchecked_param_type = "object")] model: JsValue,
) -> Result<(), JsValue> {
    let model = parse_model(model).map_err(|e| JsValue::from_str(&e))?;
    let (Some(window), Some(document)) = (
        web_sys::window(),
        web_sys::window().and_then(|w| w.document()),
    ) else {
        return Err(JsValue::from_str("no document"));
    };
    let config = Config::from_js(&config);
    let installed = WIDGET.with(|cell| {
        let Ok(mut guard) = cell.try_borrow_mut() else {
            return false;
        };
        if guard.is_some() {
            return false;
        }
        *guard = Some(Widget::new(model, config));
        true
    });
    if !installed {
        return Err(JsValue::from_str("already running"));
    }
    with_widget(|w, fx| {
        let now = js::now();
        w.listeners = listen(&window, &document);
        w.interval = Some(Interval::new(ENGAGEMENT_INTERVAL_MS, || {
            with_widget(|w, fx| {
                if !page_hidden() {
                    w.engage(js::now(), fx);
                }
            });
        }));
        if w.config.field.is_some() {
            w.observer = observe_fields(&document);
        }
        if w.config.debug {
            w.panel = Panel::attach();
        }
        if !page_hidden() {
            w.visible_since = Some(now);
        }
        w.page(now, fx);
        if let Some(panel) = &w.panel {
            panel.show(&engine::score(&w.record.state, &w.model, now));
        }
        w.refresh_fields(fx);
        w.flush(now, Send::Now);
    });
    Ok(())
}

/// Stops the widget: removes its listeners, timers and debug panel. Stored state stays.
#[wasm_bindgen]
pub fn stop() {
    let widget = WIDGET.with(|cell| cell.try_borrow_mut().ok().and_then(|mut g| g.take()));
    if let Some(w) = widget {
        if let Some((observer, _)) = &w.observer {
            observer.disconnect();
        }
        if let Some(panel) = &w.panel {
            panel.detach();
        }
    }
}

/// Counts a page view if the location changed (single-page-app navigation).
#[wasm_bindgen]
pub fn page() {
    with_widget(|w, fx| w.page(js::now(), fx));
}

/// A custom event from the host page or app: `track('feature_used', {feature: 'report'})`.
#[wasm_bindgen]
pub fn track(
    #[wasm_bindgen(unchecked_param_type = "string")] name: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "Record<string, string | number | boolean>")]
    properties: JsValue,
) {
    if let Some(event) = watch::custom(&name, &properties) {
        with_widget(|w, fx| w.apply(event, js::now(), fx));
    }
}

/// Attaches a lead id (e.g. the CRM contact id) to the tier results sent from now on.
#[wasm_bindgen]
pub fn identify(#[wasm_bindgen(unchecked_param_type = "string")] lead_id: JsValue) {
    let Some(id) = lead_id.as_string().map(|s| s.trim().to_string()) else {
        return;
    };
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return;
    }
    with_widget(|w, _| {
        if w.stopped {
            return;
        }
        w.record.lead = Some(id);
        if w.consented {
            w.store.save(&w.record);
        }
    });
}

/// Gives (`true`) or withdraws (`false`) consent. Withdrawing erases what was stored.
#[wasm_bindgen]
pub fn consent(#[wasm_bindgen(unchecked_param_type = "boolean")] granted: JsValue) {
    let granted = granted.as_bool().unwrap_or(false);
    with_widget(|w, fx| w.consent(granted, js::now(), fx));
}

/// Erases everything the widget stored and keeps it inert for the rest of the page.
#[wasm_bindgen]
pub fn forget() {
    with_widget(|w, fx| w.forget(fx));
}

/// Registers a callback: `on('tier', ({tier, previous_tier}) => ...)`.
#[wasm_bindgen]
pub fn on(
    #[wasm_bindgen(unchecked_param_type = "\"tier\"")] event: JsValue,
    #[wasm_bindgen(unchecked_param_type = "(change: TierChange) => void")] callback: JsValue,
) {
    if event.as_string().as_deref() != Some("tier") || !callback.is_function() {
        return;
    }
    with_widget(|w, _| {
        if w.callbacks.len() < MAX_CALLBACKS {
            w.callbacks.push(callback);
        }
    });
}

/// The visitor's score now: sub-scores, total, tier and the contributions that explain them.
#[wasm_bindgen(unchecked_return_type = "Explanation | undefined")]
pub fn explain() -> JsValue {
    with_widget(|w, _| {
        w.sync();
        w.explain(js::now())
    })
    .unwrap_or(JsValue::UNDEFINED)
}
