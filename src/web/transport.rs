//! Delivering tier results: the payload, `fetch` with `keepalive`, `navigator.sendBeacon`.

use super::js;
use super::store::tier_result_tree;
use crate::engine::Score;
use crate::payload::{Scores, TierResult, PAYLOAD_SCHEMA};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

/// First retry delay; it doubles with each failure up to [`MAX_BACKOFF_MS`].
pub const FIRST_BACKOFF_MS: f64 = 2_000.0;
/// Longest delay between retries.
pub const MAX_BACKOFF_MS: f64 = 300_000.0;

/// What identifies the sender of a result.
pub struct Sender<'a> {
    pub model_id: &'a str,
    pub model_version: &'a str,
    pub visitor_id: &'a str,
    pub lead_id: Option<&'a str>,
    /// Include the sub-scores (the site owner opted in).
    pub send_scores: bool,
}

/// The result of one tier change, with a fresh idempotency id.
pub fn tier_result(score: &Score<'_>, sender: &Sender<'_>, at_ms: i64) -> TierResult {
    TierResult {
        schema: PAYLOAD_SCHEMA,
        tier: score.tier.to_string(),
        previous_tier: score.previous_tier.to_string(),
        model_id: sender.model_id.to_string(),
        model_version: sender.model_version.to_string(),
        visitor_id: sender.visitor_id.to_string(),
        event_id: js::random_id(),
        at: js::iso_time(at_ms),
        lead_id: sender.lead_id.map(str::to_string),
        scores: sender.send_scores.then_some(Scores {
            fit: score.fit,
            engagement: score.engagement,
            intent: score.intent,
            product: score.product,
            total: score.total,
        }),
    }
}

/// The JSON text that is posted.
pub fn payload_text(result: &TierResult) -> Option<String> {
    js::stringify(&js::to_js(&tier_result_tree(result)))
}

/// Delay before retry number `attempts` (1, 2, ...).
pub fn backoff_ms(attempts: u32) -> f64 {
    let doublings = attempts.saturating_sub(1).min(16);
    (FIRST_BACKOFF_MS * f64::from(1u32 << doublings)).min(MAX_BACKOFF_MS)
}

/// Hands `body` to `navigator.sendBeacon` (page being hidden); true when the browser queued it.
pub fn beacon(endpoint: &str, body: &str) -> bool {
    web_sys::window()
        .and_then(|w| {
            w.navigator()
                .send_beacon_with_opt_str(endpoint, Some(body))
                .ok()
        })
        .unwrap_or(false)
}

/// How a post ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The backend answered 2xx.
    Accepted,
    /// The backend refused the result for good (4xx other than 408 and 429): retrying the same
    /// body cannot succeed.
    Refused,
    /// A network error, a timeout, a rate limit or a server error: worth retrying.
    Failed,
}

/// What an HTTP status means for a tier result.
pub fn delivery(status: u16) -> Delivery {
    match status {
        200..=299 => Delivery::Accepted,
        408 | 429 => Delivery::Failed,
        400..=499 => Delivery::Refused,
        _ => Delivery::Failed,
    }
}

/// Posts `body` with `fetch` (`keepalive`, no cookies, no referrer) and calls `done` with how it
/// ended. False when it could not even start.
pub fn post(endpoint: &str, body: &str, done: impl FnOnce(Delivery) + 'static) -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    let init = js::object(&[
        ("method", JsValue::from_str("POST")),
        ("body", JsValue::from_str(body)),
        ("keepalive", JsValue::TRUE),
        ("credentials", JsValue::from_str("omit")),
        ("referrerPolicy", JsValue::from_str("no-referrer")),
        (
            "headers",
            js::object(&[("content-type", JsValue::from_str("application/json"))]),
        ),
    ]);
    // Called through `Function.call`, which reports a synchronous throw (a host page's broken
    // fetch wrapper) as an error instead of unwinding through the widget.
    let fetch = js::get(&window, "fetch");
    let Some(promise) = fetch
        .dyn_ref::<js_sys::Function>()
        .and_then(|f| f.call2(&window, &JsValue::from_str(endpoint), &init).ok())
    else {
        return false;
    };
    let done = std::rc::Rc::new(std::cell::Cell::new(Some(done)));
    let on_ok = {
        let done = done.clone();
        Closure::once_into_js(move |response: JsValue| {
            let status = js::get(&response, "status").as_f64().unwrap_or(0.0);
            if let Some(f) = done.take() {
                f(delivery(status as u16));
            }
        })
    };
    let on_err = Closure::once_into_js(move |_err: JsValue| {
        if let Some(f) = done.take() {
            f(Delivery::Failed);
        }
    });
    let then = js::get(&promise, "then");
    then.dyn_ref::<js_sys::Function>()
        .is_some_and(|then| then.call2(&promise, &on_ok, &on_err).is_ok())
}
