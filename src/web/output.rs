//! How the host page learns the tier: hidden form fields, the dataLayer, a DOM event, callbacks.

use super::js;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{CustomEvent, CustomEventInit, Element, Event, EventInit};

/// Name of the DOM event dispatched on `document` when the tier changes.
pub const TIER_EVENT: &str = "leadscore:tier";
/// The `event` of the object pushed to `window.dataLayer`.
pub const DATALAYER_EVENT: &str = "leadscore_tier";

/// A tier change as the page sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierChange {
    pub tier: String,
    pub previous_tier: String,
}

impl TierChange {
    fn detail(&self, event: Option<&str>) -> JsValue {
        let mut entries = Vec::with_capacity(3);
        if let Some(e) = event {
            entries.push(("event", JsValue::from_str(e)));
        }
        entries.push(("tier", JsValue::from_str(&self.tier)));
        entries.push(("previous_tier", JsValue::from_str(&self.previous_tier)));
        js::object(&entries)
    }
}

/// Sets every field named `name` in the document to `tier`, dispatching `input` and `change`
/// so that framework-driven forms notice. Fields that already hold `tier` are left alone.
/// Returns how many fields changed.
pub fn fill_fields(name: &str, tier: &str) -> u32 {
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else {
        return 0;
    };
    let nodes = doc.get_elements_by_name(name);
    let mut changed = 0;
    for i in 0..nodes.length() {
        let Some(field) = nodes.get(i).and_then(|n| n.dyn_into::<Element>().ok()) else {
            continue;
        };
        if !matches!(field.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT") {
            continue;
        }
        if js::get_str(&field, "value").as_deref() == Some(tier) {
            continue;
        }
        set_value(&field, tier);
        for kind in ["input", "change"] {
            let init = EventInit::new();
            init.set_bubbles(true);
            if let Ok(event) = Event::new_with_event_init_dict(kind, &init) {
                let _ = field.dispatch_event(&event);
            }
        }
        changed += 1;
    }
    changed
}

/// Sets `value` through the element prototype's setter (what React and friends watch), or plainly.
fn set_value(field: &Element, value: &str) {
    let value = JsValue::from_str(value);
    let setter = js_sys::Reflect::get_prototype_of(field)
        .ok()
        .map(|proto| {
            js_sys::Object::get_own_property_descriptor(&proto, &JsValue::from_str("value"))
        })
        .map(|descriptor| js::get(&descriptor, "set"));
    let done = setter
        .as_ref()
        .and_then(|s| s.dyn_ref::<js_sys::Function>())
        .is_some_and(|set| set.call1(field, &value).is_ok());
    if !done {
        js::set(field, "value", &value);
    }
}

/// Tells the page: `dataLayer.push`, the `leadscore:tier` event on `document`, and each callback.
pub fn announce(change: &TierChange, callbacks: &[JsValue], data_layer: bool) {
    let Some(window) = web_sys::window() else {
        return;
    };
    if data_layer {
        let layer = js::get(&window, "dataLayer");
        let push = js::get(&layer, "push");
        if !layer.is_undefined() && !layer.is_null() {
            js::call1(&push, &layer, &change.detail(Some(DATALAYER_EVENT)));
        }
    }
    if let Some(doc) = window.document() {
        let init = CustomEventInit::new();
        init.set_detail(&change.detail(None));
        if let Ok(event) = CustomEvent::new_with_event_init_dict(TIER_EVENT, &init) {
            let _ = doc.dispatch_event(&event);
        }
    }
    for callback in callbacks {
        js::call1(callback, &JsValue::UNDEFINED, &change.detail(None));
    }
}
