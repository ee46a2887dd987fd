//! Thin wrappers over `js_sys` / `web_sys`: clock, random ids, property access, console.

use crate::model::tree::Tree;
use std::cell::Cell;
use wasm_bindgen::{JsCast, JsValue};

/// Milliseconds since the Unix epoch, from the browser's clock.
pub fn now() -> i64 {
    js_sys::Date::now() as i64
}

/// `2026-11-24T10:00:00.000Z` for a time in milliseconds.
pub fn iso_time(ms: i64) -> String {
    js_sys::Date::new(&JsValue::from_f64(ms as f64))
        .to_iso_string()
        .as_string()
        .unwrap_or_default()
}

/// 32 lowercase hex characters from the browser's cryptographic random source
/// (or `Math.random` where there is none).
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    let filled = web_sys::window()
        .and_then(|w| w.crypto().ok())
        .is_some_and(|c| c.get_random_values_with_u8_array(&mut bytes).is_ok());
    if !filled {
        for b in bytes.iter_mut() {
            *b = (js_sys::Math::random() * 256.0) as u8;
        }
    }
    hex(&bytes)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        for nibble in [b >> 4, b & 0x0f] {
            if let Some(&d) = DIGITS.get(usize::from(nibble)) {
                out.push(char::from(d));
            }
        }
    }
    out
}

/// `target[key]`, or `undefined` when reading it throws.
pub fn get(target: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// `target[key]` as a string, if it is one.
pub fn get_str(target: &JsValue, key: &str) -> Option<String> {
    get(target, key).as_string()
}

/// `target[key]` as a boolean: `true`, `"true"`, `"1"` and `""` (a bare `data-` attribute) are true.
pub fn get_flag(target: &JsValue, key: &str) -> bool {
    let v = get(target, key);
    if let Some(b) = v.as_bool() {
        return b;
    }
    v.as_string()
        .is_some_and(|s| matches!(s.trim(), "" | "1" | "true" | "yes" | "on"))
}

/// `target[key] = value`; false when it threw.
pub fn set(target: &JsValue, key: &str, value: &JsValue) -> bool {
    js_sys::Reflect::set(target, &JsValue::from_str(key), value).unwrap_or(false)
}

/// A plain object from key/value pairs.
pub fn object(entries: &[(&str, JsValue)]) -> JsValue {
    let o: JsValue = js_sys::Object::new().into();
    for (k, v) in entries {
        set(&o, k, v);
    }
    o
}

/// Calls `f.call(this, arg)`, swallowing whatever it throws: a host callback never breaks us.
pub fn call1(f: &JsValue, this: &JsValue, arg: &JsValue) {
    if let Some(f) = f.dyn_ref::<js_sys::Function>() {
        let _ = f.call1(this, arg);
    }
}

/// The JSON text of a value (`None` when it cannot be serialised).
pub fn stringify(value: &JsValue) -> Option<String> {
    js_sys::JSON::stringify(value).ok()?.as_string()
}

/// Deepest nesting copied by [`tree`]; deeper values (or a cycle) read as `null`.
const MAX_DEPTH: u32 = 32;

/// A copy of a JSON-like value (what `JSON.parse` returns). Object entries whose value is
/// `undefined` or a function are left out, as `JSON.stringify` leaves them out.
pub fn tree(value: &JsValue) -> Tree {
    copy(value, MAX_DEPTH)
}

fn copy(value: &JsValue, depth: u32) -> Tree {
    if let Some(b) = value.as_bool() {
        Tree::Bool(b)
    } else if let Some(n) = value.as_f64() {
        Tree::Number(n)
    } else if let Some(s) = value.as_string() {
        Tree::Text(s)
    } else if depth == 0 || value.is_function() || !value.is_object() {
        Tree::Null
    } else if js_sys::Array::is_array(value) {
        let list = js_sys::Array::from(value);
        Tree::List(list.iter().map(|item| copy(&item, depth - 1)).collect())
    } else {
        let mut entries = Vec::new();
        for key in js_sys::Object::keys(value.unchecked_ref::<js_sys::Object>()).iter() {
            let Some(key) = key.as_string() else { continue };
            let item = get(value, &key);
            if !item.is_undefined() && !item.is_function() {
                entries.push((key, copy(&item, depth - 1)));
            }
        }
        Tree::Object(entries)
    }
}

/// The JS value of a tree (numbers, text, arrays and plain objects).
pub fn to_js(tree: &Tree) -> JsValue {
    match tree {
        Tree::Null => JsValue::NULL,
        Tree::Bool(b) => JsValue::from_bool(*b),
        Tree::Number(n) => JsValue::from_f64(*n),
        Tree::Text(s) => JsValue::from_str(s),
        Tree::List(items) => items.iter().map(to_js).collect::<js_sys::Array>().into(),
        Tree::Object(entries) => {
            let object: JsValue = js_sys::Object::new().into();
            for (key, value) in entries {
                set(&object, key, &to_js(value));
            }
            object
        }
    }
}

/// Kinds of trouble the widget reports; each is printed at most once per page.
#[derive(Clone, Copy)]
#[repr(u8)]
pub enum Warning {
    Storage = 1,
    Delivery = 2,
    Internal = 4,
}

thread_local! {
    static WARNED: Cell<u8> = const { Cell::new(0) };
}

/// Prints `leadscore: <message>` with `console.warn`, once per kind of warning and page.
pub fn warn_once(kind: Warning, message: &str) {
    let bit = kind as u8;
    let first = WARNED.with(|w| {
        let seen = w.get();
        w.set(seen | bit);
        seen & bit == 0
    });
    if first {
        let mut text = String::from("leadscore: ");
        text.push_str(message);
        web_sys::console::warn_1(&JsValue::from_str(&text));
    }
}
