//! Turning what happens in the page into engine [`Event`]s.
//!
//! [`Watch`] knows which parts of the page the model cares about: the questions its answer rules
//! name, the query parameters its page rules test, the files its download rules match. Anything
//! else is never read: a form field whose `name` no answer rule references is skipped before its
//! value is touched, and query parameters no rule tests are dropped.

use super::js;
use crate::engine::{self, Event, Value};
use crate::model::{Entries, Matcher, ValidModel};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Element;

/// Most properties kept from one `track` call (the engine's limit).
const MAX_PROPERTIES: usize = 64;
/// Longest text value kept (the engine's limit, in bytes).
const MAX_TEXT: usize = 2048;

/// What the model asks the page for.
#[derive(Debug, Clone, Default)]
pub struct Watch {
    /// Questions of the answer rules, as written in the model.
    questions: Vec<String>,
    /// Query parameters the page rules test.
    query_keys: Vec<String>,
}

impl Watch {
    /// What `model` needs to see.
    pub fn new(model: &ValidModel) -> Watch {
        let mut w = Watch::default();
        for rule in model.rules() {
            match &rule.when {
                Matcher::Answer { question, .. } => push_unique(&mut w.questions, question.trim()),
                Matcher::Page { query, .. } => {
                    for key in query.keys() {
                        push_unique(&mut w.query_keys, key);
                    }
                }
                _ => {}
            }
        }
        w
    }

    /// The model's question for a field name, if an answer rule references it.
    pub fn question(&self, field_name: &str) -> Option<&str> {
        let name = field_name.trim();
        self.questions
            .iter()
            .find(|q| q.eq_ignore_ascii_case(name))
            .map(String::as_str)
    }

    /// A page view of `path` with the query string `search` (`?a=1&b=2`), keeping only the
    /// parameters the model's page rules test.
    pub fn page_view(&self, path: &str, search: &str) -> Event {
        let mut query = Entries::new();
        if !self.query_keys.is_empty() {
            for pair in search.trim_start_matches('?').split('&') {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                let Some(key) = decode(k) else { continue };
                if let Some(wanted) = self.query_keys.iter().find(|w| **w == key) {
                    if let Some(value) = decode(v) {
                        if !query.contains_key(wanted) {
                            query.insert(wanted.clone(), clip(value));
                        }
                    }
                }
            }
        }
        let path = if path.starts_with('/') { path } else { "/" };
        Event::PageView {
            path: clip(path.to_string()),
            query,
        }
    }

    /// The answer a changed form field gives, if the model references the field's name.
    /// An unchecked radio button gives nothing; an unchecked checkbox clears the answer.
    pub fn answer(&self, field: &Element) -> Option<Event> {
        let question = self.question(&field.get_attribute("name")?)?;
        let kind = js::get_str(field, "type").unwrap_or_default();
        let checked = js::get(field, "checked").as_bool().unwrap_or(false);
        let value = match kind.as_str() {
            "radio" if !checked => return None,
            "checkbox" if !checked => String::new(),
            _ => js::get_str(field, "value")?,
        };
        Some(Event::Answer {
            question: question.to_string(),
            value: Value::Text(clip(value)),
        })
    }

    /// The answers a submitted form carries: one per referenced question, empty fields skipped.
    pub fn form_answers(&self, form: &Element) -> Vec<Event> {
        let mut answers: Vec<Event> = Vec::new();
        let elements = js::get(form, "elements");
        if elements.is_undefined() || elements.is_null() {
            return answers;
        }
        for field in js_sys::Array::from(&elements).iter() {
            let Some(field) = field.dyn_ref::<Element>() else {
                continue;
            };
            let Some(Event::Answer { question, value }) = self.answer(field) else {
                continue;
            };
            let empty = matches!(&value, Value::Text(t) if t.trim().is_empty());
            let seen = answers
                .iter()
                .any(|a| matches!(a, Event::Answer { question: q, .. } if *q == question));
            if !empty && !seen {
                answers.push(Event::Answer { question, value });
            }
        }
        answers
    }

    /// The download a click on `link` (an `<a href>`) means, if it is one: the link carries
    /// `data-leadscore-download` or `download`, or its path matches a download rule of `model`
    /// (decided by the engine, with the same matching it scores with).
    pub fn download(&self, model: &ValidModel, link: &Element) -> Option<Event> {
        let path = js::get_str(link, "pathname").filter(|p| p.starts_with('/'))?;
        let marked =
            link.has_attribute("data-leadscore-download") || link.has_attribute("download");
        (marked || engine::is_download(model, &path)).then(|| Event::Download { url: clip(path) })
    }
}

/// The submission of `form`, named by its `id` and `name` attributes (`None` without either).
pub fn form_submit(form: &Element) -> Option<Event> {
    let attr = |name: &str| {
        form.get_attribute(name)
            .map(|v| clip(v.trim().to_string()))
            .filter(|v| !v.is_empty())
    };
    let (id, name) = (attr("id"), attr("name"));
    (id.is_some() || name.is_some()).then_some(Event::FormSubmit { id, name })
}

/// A custom event from `leadscore('track', name, properties)`. Properties that are not text,
/// finite numbers or booleans are dropped.
pub fn custom(name: &JsValue, properties: &JsValue) -> Option<Event> {
    let name = name
        .as_string()
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())?;
    let mut props = Entries::new();
    if properties.is_object() {
        for entry in js_sys::Object::entries(properties.unchecked_ref()).iter() {
            if props.len() >= MAX_PROPERTIES {
                break;
            }
            let pair: js_sys::Array = entry.unchecked_into();
            let Some(key) = pair.get(0).as_string() else {
                continue;
            };
            let v = pair.get(1);
            let value = if let Some(b) = v.as_bool() {
                Value::Bool(b)
            } else if let Some(n) = v.as_f64().filter(|n| n.is_finite()) {
                Value::Number(n)
            } else if let Some(s) = v.as_string() {
                Value::Text(clip(s))
            } else {
                continue;
            };
            props.insert(key, value);
        }
    }
    Some(Event::Custom {
        name: clip(name),
        properties: props,
    })
}

fn push_unique(list: &mut Vec<String>, item: &str) {
    if !list.iter().any(|x| x == item) {
        list.push(item.to_string());
    }
}

fn decode(text: &str) -> Option<String> {
    let spaced = text.replace('+', " ");
    js_sys::decode_uri_component(&spaced).ok()?.as_string()
}

/// Cuts text to the engine's limit on a character boundary.
fn clip(mut text: String) -> String {
    if text.len() > MAX_TEXT {
        let mut end = MAX_TEXT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}
