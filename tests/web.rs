//! The browser boundary in headless Chromium: state in and out of storage, throwing storage,
//! page activity mapped to engine events, the tier payload's exact fields, and the entry points.
//!
//! `make test-browser` (CHROMEDRIVER=/usr/bin/chromedriver cargo test --target
//! wasm32-unknown-unknown --no-default-features --test web).

#![cfg(target_arch = "wasm32")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use leadscore::engine::{self, Event, Value};
use leadscore::model::{Entries, ValidModel};
use leadscore::payload::TierResult;
use leadscore::web::store::{Record, Store, MAX_OUTBOX, STORAGE_KEY};
use leadscore::web::transport::{self, Sender};
use leadscore::web::watch::{self, Watch};
use leadscore::web::{self, js, Config};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;
use web_sys::Element;

wasm_bindgen_test_configure!(run_in_browser);

const SAAS: &str = include_str!("../www/models/saas.json");

fn model() -> ValidModel {
    web::parse_model(js_sys::JSON::parse(SAAS).unwrap()).unwrap()
}

fn local_storage() -> web_sys::Storage {
    web_sys::window().unwrap().local_storage().unwrap().unwrap()
}

fn document() -> web_sys::Document {
    web_sys::window().unwrap().document().unwrap()
}

/// Parses HTML into a detached container and returns it.
fn html(markup: &str) -> Element {
    let div = document().create_element("div").unwrap();
    div.set_inner_html(markup);
    div
}

fn by_id(root: &Element, id: &str) -> Element {
    root.query_selector(&format!("#{id}")).unwrap().unwrap()
}

fn eval(code: &str) -> JsValue {
    js_sys::Function::new_no_args(code)
        .call0(&JsValue::NULL)
        .unwrap()
}

fn keys_of(json: &str) -> Vec<String> {
    let value = js_sys::JSON::parse(json).unwrap();
    let object: &js_sys::Object = value.unchecked_ref();
    let mut keys: Vec<String> = js_sys::Object::keys(object)
        .iter()
        .map(|k| k.as_string().unwrap())
        .collect();
    keys.sort();
    keys
}

// ---------------------------------------------------------------- state in and out of storage

#[wasm_bindgen_test]
fn state_round_trips_through_local_storage() {
    let model = model();
    local_storage().clear().unwrap();
    let mut store = Store::open();
    assert!(store.is_persistent());

    let mut record = Record::fresh(&model);
    record.lead = Some("crm-7".into());
    for event in [
        Event::Answer {
            question: "role".into(),
            value: Value::Text("cto".into()),
        },
        Event::PageView {
            path: "/pricing".into(),
            query: Entries::new(),
        },
        Event::Engagement { seconds: 12.5 },
    ] {
        engine::apply(&mut record.state, &model, &event, 1_700_000_000_000).unwrap();
    }
    store.save(&record);

    let text = local_storage().get_item(STORAGE_KEY).unwrap().unwrap();
    assert_eq!(keys_of(&text), ["lead", "state", "v", "visitor"]);
    assert!(
        !text.contains("cto"),
        "answers are not stored, only rule state: {text}"
    );

    let loaded = Store::open().load(&model);
    assert_eq!(loaded, record);
    let score = engine::score(&loaded.state, &model, 1_700_000_000_000);
    assert_eq!(score.fit, 20.0);
    assert_eq!(score.intent, 10.0);
    local_storage().clear().unwrap();
}

#[wasm_bindgen_test]
fn corrupt_or_foreign_state_starts_fresh() {
    let model = model();
    let fresh_visitor = |text: &str| {
        local_storage().set_item(STORAGE_KEY, text).unwrap();
        let record = Store::open().load(&model);
        assert_eq!(
            record.state,
            engine::State::new(&model),
            "not fresh for {text}"
        );
        record.visitor
    };
    let a = fresh_visitor("{not json");
    let b = fresh_visitor("[1,2,3]");
    fresh_visitor(r#"{"v":2,"visitor":"abc","state":{"v":1}}"#);
    fresh_visitor(r#"{"v":1,"visitor":"abc","state":{"v":99}}"#);
    fresh_visitor(r#"{"v":1,"visitor":"","state":{"v":1}}"#);
    // Far more pages than the engine ever keeps: foreign or tampered.
    let pages: Vec<String> = (0..500).map(|i| i.to_string()).collect();
    fresh_visitor(&format!(
        r#"{{"v":1,"visitor":"abc","state":{{"v":1,"pages":[{}]}}}}"#,
        pages.join(",")
    ));
    assert_ne!(a, b, "each fresh visitor gets a new random id");
    assert_eq!(a.len(), 32);
    assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
    local_storage().clear().unwrap();
}

#[wasm_bindgen_test]
fn the_outbox_is_bounded() {
    let model = model();
    let mut record = Record::fresh(&model);
    let score = engine::score(&record.state, &model, 0);
    let sender = sender("v");
    for _ in 0..(MAX_OUTBOX + 5) {
        record.enqueue(transport::tier_result(&score, &sender, 0));
    }
    assert_eq!(record.outbox.len(), MAX_OUTBOX);
    let text = record.to_text().unwrap();
    let again = Record::parse(&text, &model).unwrap();
    assert_eq!(again.outbox, record.outbox);
}

#[wasm_bindgen_test]
fn storage_that_throws_falls_back_to_memory() {
    let model = model();
    // A storage whose every method throws, as Safari's private mode or a full quota does.
    let throwing = eval(
        "const fail = () => { throw new DOMException('quota', 'QuotaExceededError'); };
         return { getItem: fail, setItem: fail, removeItem: fail };",
    );
    let mut store = Store::with(Some(throwing.unchecked_into()));
    assert!(store.is_persistent());
    let mut record = Record::fresh(&model);
    record.lead = Some("kept".into());
    store.save(&record);
    assert!(
        !store.is_persistent(),
        "the first failure switches to memory"
    );
    assert_eq!(store.load(&model), record, "the record lives on in memory");
    store.clear();
    assert_ne!(store.load(&model).visitor, record.visitor);
}

#[wasm_bindgen_test]
fn storage_that_throws_on_access_gives_a_memory_store() {
    eval(
        "window.__ls = Object.getOwnPropertyDescriptor(window, 'localStorage');
         Object.defineProperty(window, 'localStorage', { configurable: true,
           get() { throw new DOMException('blocked', 'SecurityError'); } });",
    );
    let store = Store::open();
    eval("Object.defineProperty(window, 'localStorage', window.__ls);");
    assert!(!store.is_persistent());
}

// ---------------------------------------------------------------- event mapping

#[wasm_bindgen_test]
fn only_fields_the_model_references_are_read() {
    let watch = Watch::new(&model());
    let form = html(
        r#"<form id="fit-quiz">
             <select name="role" id="role"><option value="cto" selected>CTO</option></select>
             <input name="Company_Size " id="size" value="200">
             <input type="radio" name="timeline" value="now">
             <input type="radio" name="timeline" value="this-quarter" checked>
             <input name="email" id="email" value="jane@example.com">
             <input type="checkbox" name="newsletter" checked>
           </form>"#,
    );
    let form = form.first_element_child().unwrap();
    let answers = watch.form_answers(&form);
    assert_eq!(
        answers,
        [
            Event::Answer {
                question: "role".into(),
                value: Value::Text("cto".into())
            },
            Event::Answer {
                question: "company_size".into(),
                value: Value::Text("200".into())
            },
            Event::Answer {
                question: "timeline".into(),
                value: Value::Text("this-quarter".into())
            },
        ]
    );
    assert_eq!(watch.answer(&by_id(&form, "email")), None);
    assert_eq!(
        watch.answer(&by_id(&form, "size")),
        Some(Event::Answer {
            question: "company_size".into(),
            value: Value::Text("200".into())
        })
    );
    assert_eq!(
        watch::form_submit(&form),
        Some(Event::FormSubmit {
            id: Some("fit-quiz".into()),
            name: None
        })
    );
}

#[wasm_bindgen_test]
fn radio_and_checkbox_changes() {
    let watch = Watch::new(&model());
    let root = html(
        r#"<input type="radio" name="timeline" value="now" id="off">
           <input type="checkbox" name="role" value="student" id="box">"#,
    );
    assert_eq!(
        watch.answer(&by_id(&root, "off")),
        None,
        "an unchecked radio says nothing"
    );
    assert_eq!(
        watch.answer(&by_id(&root, "box")),
        Some(Event::Answer {
            question: "role".into(),
            value: Value::Text(String::new())
        }),
        "an unchecked checkbox clears the answer"
    );
}

#[wasm_bindgen_test]
fn page_views_keep_only_the_query_parameters_rules_test() {
    let watch = Watch::new(&model());
    let event = watch.page_view(
        "/pricing",
        "?utm_source=linked%20in&email=jane%40example.com&x",
    );
    let Event::PageView { path, query } = event else {
        panic!("not a page view")
    };
    assert_eq!(path, "/pricing");
    assert_eq!(
        query.into_iter().collect::<Vec<_>>(),
        [("utm_source".to_string(), "linked in".to_string())]
    );
    let Event::PageView { query, .. } = watch.page_view("/", "?utm_source=%E0%A4%A") else {
        panic!()
    };
    assert!(query.is_empty(), "undecodable values are dropped");
}

#[wasm_bindgen_test]
fn downloads_by_rule_or_by_marking() {
    let model = model();
    let watch = Watch::new(&model);
    let root = html(
        r#"<a id="ebook" href="/resources/guide.pdf">e</a>
           <a id="cdn" href="https://cdn.example.com/resources/guide.pdf?v=2">c</a>
           <a id="marked" href="/files/report.docx" data-leadscore-download>m</a>
           <a id="attr" href="/files/data.csv" download>d</a>
           <a id="page" href="/pricing">p</a>"#,
    );
    let url = |id: &str| match watch.download(&model, &by_id(&root, id)) {
        Some(Event::Download { url }) => Some(url),
        _ => None,
    };
    assert_eq!(url("ebook").as_deref(), Some("/resources/guide.pdf"));
    assert_eq!(url("cdn").as_deref(), Some("/resources/guide.pdf"));
    assert_eq!(url("marked").as_deref(), Some("/files/report.docx"));
    assert_eq!(url("attr").as_deref(), Some("/files/data.csv"));
    assert_eq!(url("page"), None);
}

#[wasm_bindgen_test]
fn custom_events_keep_scalar_properties() {
    let props = eval("return { feature: 'report', actions: 51, paid: true, nested: {a: 1}, nan: NaN, f: () => 1 };");
    let event = watch::custom(&JsValue::from_str(" feature_used "), &props).unwrap();
    let Event::Custom { name, properties } = event else {
        panic!()
    };
    assert_eq!(name, "feature_used");
    assert_eq!(
        properties.into_iter().collect::<Vec<_>>(),
        [
            ("actions".to_string(), Value::Number(51.0)),
            ("feature".to_string(), Value::Text("report".into())),
            ("paid".to_string(), Value::Bool(true)),
        ]
    );
    assert_eq!(
        watch::custom(&JsValue::from_str("  "), &JsValue::UNDEFINED),
        None
    );
    assert_eq!(
        watch::custom(&JsValue::from_f64(3.0), &JsValue::UNDEFINED),
        None
    );
    assert!(matches!(
        watch::custom(&JsValue::from_str("signup"), &JsValue::NULL),
        Some(Event::Custom { properties, .. }) if properties.is_empty()
    ));
}

// ---------------------------------------------------------------- the tier payload

fn sender(visitor: &str) -> Sender<'_> {
    Sender {
        model_id: "acme-saas",
        model_version: "2026-11-01",
        visitor_id: visitor,
        lead_id: None,
        send_scores: false,
    }
}

fn pql_score(model: &ValidModel) -> engine::State {
    let mut state = engine::State::new(model);
    for name in ["signup", "teammate_invited"] {
        let event = Event::Custom {
            name: name.into(),
            properties: Entries::new(),
        };
        engine::apply(&mut state, model, &event, 1_000).unwrap();
    }
    for feature in ["report", "integration"] {
        let properties = Entries::from([("feature".to_string(), Value::Text(feature.into()))]);
        let event = Event::Custom {
            name: "feature_used".into(),
            properties,
        };
        engine::apply(&mut state, model, &event, 1_000).unwrap();
    }
    state
}

#[wasm_bindgen_test]
fn the_tier_payload_has_exactly_the_contract_fields() {
    let model = model();
    let state = pql_score(&model);
    let mut score = engine::score(&state, &model, 1_000);
    score.previous_tier = "SQL";
    let at = 1_795_000_000_123;
    let result = transport::tier_result(&score, &sender("0123456789abcdef0123456789abcdef"), at);
    let text = transport::payload_text(&result).unwrap();
    assert_eq!(
        keys_of(&text),
        [
            "at",
            "event_id",
            "model_id",
            "model_version",
            "previous_tier",
            "schema",
            "tier",
            "visitor_id"
        ]
    );
    let value = js_sys::JSON::parse(&text).unwrap();
    assert_eq!(js::get(&value, "schema").as_f64(), Some(1.0));
    assert_eq!(js::get_str(&value, "tier").as_deref(), Some("PQL"));
    assert_eq!(js::get_str(&value, "previous_tier").as_deref(), Some("SQL"));
    assert_eq!(
        js::get_str(&value, "at").as_deref(),
        Some("2026-11-18T11:06:40.123Z")
    );
    assert_eq!(result.event_id.len(), 32);
    // The collector's type reads it back unchanged.
    let back: TierResult = serde_wasm_bindgen::from_value(value).unwrap();
    assert_eq!(back, result);

    let other = transport::tier_result(&score, &sender("v"), at);
    assert_ne!(
        other.event_id, result.event_id,
        "a fresh idempotency id per change"
    );
}

#[wasm_bindgen_test]
fn lead_id_and_scores_only_when_asked() {
    let model = model();
    let state = pql_score(&model);
    let score = engine::score(&state, &model, 1_000);
    let sender = Sender {
        lead_id: Some("crm-42"),
        send_scores: true,
        ..sender("v")
    };
    let text = transport::payload_text(&transport::tier_result(&score, &sender, 0)).unwrap();
    let keys = keys_of(&text);
    assert!(keys.contains(&"lead_id".to_string()) && keys.contains(&"scores".to_string()));
    assert_eq!(keys.len(), 10);
    let scores = js::get(&js_sys::JSON::parse(&text).unwrap(), "scores");
    let product = js::get(&scores, "product").as_f64().unwrap();
    assert!((44.9..=45.0).contains(&product), "product {product}");
}

/// JSON text as the browser writes it (so that `1.0` and `1` compare equal).
fn normal(json: &str) -> String {
    js::stringify(&js_sys::JSON::parse(json).unwrap()).unwrap()
}

#[wasm_bindgen_test]
fn records_payloads_and_explanations_are_written_as_serde_writes_them() {
    let model = model();
    let mut record = Record::fresh(&model);
    record.state = pql_score(&model);
    let _ = engine::apply(
        &mut record.state,
        &model,
        &Event::PageView {
            path: "/pricing".into(),
            query: Entries::new(),
        },
        2_000,
    );
    let score = engine::score(&record.state, &model, 3_000);
    let with_all = Sender {
        lead_id: Some("crm-42"),
        send_scores: true,
        ..sender("v")
    };
    for result in [
        transport::tier_result(&score, &with_all, 0),
        transport::tier_result(&score, &sender("v"), 0),
    ] {
        assert_eq!(
            transport::payload_text(&result).unwrap(),
            normal(&serde_json::to_string(&result).unwrap())
        );
        record.enqueue(result);
    }
    let fresh = Record::fresh(&model);
    assert_eq!(
        fresh.to_text().unwrap(),
        normal(&serde_json::to_string(&fresh).unwrap())
    );
    record.lead = Some("crm-42".into());
    record.attempts = 2;
    record.retry_at = 12_345.5;
    assert_eq!(
        record.to_text().unwrap(),
        normal(&serde_json::to_string(&record).unwrap())
    );
    let explained = js::stringify(&js::to_js(&web::store::score_tree(&score))).unwrap();
    assert_eq!(explained, normal(&serde_json::to_string(&score).unwrap()));
}

#[wasm_bindgen_test]
fn backoff_doubles_up_to_five_minutes() {
    assert_eq!(transport::backoff_ms(1), 2_000.0);
    assert_eq!(transport::backoff_ms(2), 4_000.0);
    assert_eq!(transport::backoff_ms(5), 32_000.0);
    assert_eq!(transport::backoff_ms(30), 300_000.0);
    assert_eq!(transport::backoff_ms(u32::MAX), 300_000.0);
}

// ---------------------------------------------------------------- settings and the entry points

#[wasm_bindgen_test]
fn settings_from_data_attributes() {
    let config = Config::from_js(&eval(
        "return { endpoint: ' /v1/tier ', field: 'tier', consent: 'Required', privacy_signals: 'ignore',
                  send_scores: '', debug: 'false' };",
    ));
    assert_eq!(
        config,
        Config {
            endpoint: Some("/v1/tier".into()),
            field: Some("tier".into()),
            consent_required: true,
            ignore_privacy_signals: true,
            send_scores: true,
            debug: false,
        }
    );
    assert_eq!(Config::from_js(&JsValue::UNDEFINED), Config::default());
}

#[wasm_bindgen_test]
fn an_invalid_model_is_refused_with_every_path() {
    let bad = js_sys::JSON::parse(
        r#"{"version": 1, "id": "x", "model_version": "1",
            "rules": [{"id": "a", "when": {"page": {"path": "nope"}}, "dimension": "fit", "points": 1}],
            "tiers": [{"name": "MQL", "requires": ["missing"]}]}"#,
    )
    .unwrap();
    let err = web::parse_model(bad).unwrap_err();
    assert!(err.contains("rules[0].when.page.path: "), "{err}");
    assert!(err.contains("tiers[0].requires[0]: "), "{err}");
    let typo = js_sys::JSON::parse(
        r#"{"version": 1, "id": "x", "model_version": "1", "rules": [], "tiers": [], "pionts": 1}"#,
    )
    .unwrap();
    assert!(web::parse_model(typo)
        .unwrap_err()
        .contains("\n  pionts: unknown field"));
    let nested = js_sys::JSON::parse(
        SAAS.replacen(r#""points": 20 }"#, r#""points": 20, "wieght": 2 }"#, 1)
            .as_str(),
    )
    .unwrap();
    let err = web::parse_model(nested).unwrap_err();
    assert!(err.ends_with("\n  rules[0].wieght: unknown field"), "{err}");
    let with_empty_defaults = SAAS.replace(
        r#""path": "/blog/*" }"#,
        r#""path": "/blog/*", "query": {} }"#,
    );
    assert!(with_empty_defaults.contains(r#""query": {}"#));
    assert!(web::parse_model(js_sys::JSON::parse(&with_empty_defaults).unwrap()).is_ok());
    assert!(web::start(JsValue::UNDEFINED, JsValue::from_str("not a model")).is_err());
}

#[wasm_bindgen_test]
fn the_entry_points_score_store_and_announce() {
    local_storage().clear().unwrap();
    let page = html(r#"<form><input type="hidden" name="ls_tier" id="field"></form>"#);
    document().body().unwrap().append_child(&page).unwrap();
    eval("window.dataLayer = []; window.tierDetails = []; document.addEventListener('leadscore:tier', e => tierDetails.push(e.detail));");
    let config = eval("return { field: 'ls_tier' };");
    web::start(config.clone(), js_sys::JSON::parse(SAAS).unwrap()).unwrap();
    assert!(
        web::start(config, js_sys::JSON::parse(SAAS).unwrap()).is_err(),
        "one widget per page"
    );

    let seen = eval("return window.seen = [];");
    let push = js_sys::Function::new_with_args("c", "window.seen.push(c.tier)");
    web::on(JsValue::from_str("tier"), push.into());
    web::on(
        JsValue::from_str("other"),
        js_sys::Function::new_no_args("throw 1").into(),
    );
    web::on(
        JsValue::from_str("tier"),
        js_sys::Function::new_no_args("throw new Error('host bug')").into(),
    );

    let field = by_id(&page, "field");
    assert_eq!(js::get_str(&field, "value").as_deref(), Some("unqualified"));
    web::track(JsValue::from_str("signup"), JsValue::UNDEFINED);
    web::track(JsValue::from_str("teammate_invited"), JsValue::UNDEFINED);
    web::track(
        JsValue::from_str("feature_used"),
        eval("return {feature: 'report'};"),
    );
    web::track(
        JsValue::from_str("feature_used"),
        eval("return {feature: 'automation'};"),
    );

    assert_eq!(js::get_str(&field, "value").as_deref(), Some("PQL"));
    assert_eq!(
        js::stringify(&seen).as_deref(),
        Some(r#"["PQL"]"#),
        "callbacks run; a throwing one is contained"
    );
    assert_eq!(
        js::stringify(&eval("return window.dataLayer;")).as_deref(),
        Some(r#"[{"event":"leadscore_tier","tier":"PQL","previous_tier":"unqualified"}]"#)
    );
    assert_eq!(
        js::stringify(&eval("return window.tierDetails;")).as_deref(),
        Some(r#"[{"tier":"PQL","previous_tier":"unqualified"}]"#)
    );
    let explained = web::explain();
    assert_eq!(js::get_str(&explained, "tier").as_deref(), Some("PQL"));
    let stored = local_storage().get_item(STORAGE_KEY).unwrap().unwrap();
    assert!(stored.contains("trial-signup"));
    assert!(!stored.contains("outbox"), "no endpoint: nothing queued");

    web::identify(JsValue::from_str("crm-1"));
    assert!(local_storage()
        .get_item(STORAGE_KEY)
        .unwrap()
        .unwrap()
        .contains("crm-1"));
    web::identify(JsValue::from_str(&"x".repeat(200)));
    assert!(
        local_storage()
            .get_item(STORAGE_KEY)
            .unwrap()
            .unwrap()
            .contains("crm-1"),
        "oversized ids are refused"
    );

    web::forget();
    assert_eq!(local_storage().get_item(STORAGE_KEY).unwrap(), None);
    web::track(JsValue::from_str("signup"), JsValue::UNDEFINED);
    assert_eq!(
        local_storage().get_item(STORAGE_KEY).unwrap(),
        None,
        "quiet after forget"
    );

    web::stop();
    assert!(web::explain().is_undefined());
    page.remove();
    local_storage().clear().unwrap();
}

#[wasm_bindgen_test]
fn consent_replays_what_happened_before_and_announces_every_change() {
    local_storage().clear().unwrap();
    let model = js_sys::JSON::parse(
        r#"{"version": 1, "id": "two-steps", "model_version": "1",
            "rules": [
              {"id": "x", "when": {"event": {"name": "x"}}, "dimension": "product", "points": 10},
              {"id": "y", "when": {"event": {"name": "y"}}, "dimension": "product", "points": 10}],
            "tiers": [{"name": "B", "min": {"product": 20}}, {"name": "A", "min": {"product": 10}}]}"#,
    )
    .unwrap();
    web::start(eval("return { consent: 'required' };"), model).unwrap();
    let seen = eval("return window.steps = [];");
    web::on(
        JsValue::from_str("tier"),
        js_sys::Function::new_with_args("c", "window.steps.push(c.previous_tier + '>' + c.tier)")
            .into(),
    );
    web::track(JsValue::from_str("x"), JsValue::UNDEFINED);
    web::track(JsValue::from_str("y"), JsValue::UNDEFINED);
    assert_eq!(
        js::stringify(&seen).as_deref(),
        Some("[]"),
        "nothing happens before consent"
    );
    assert_eq!(local_storage().get_item(STORAGE_KEY).unwrap(), None);

    web::consent(JsValue::TRUE);
    assert_eq!(
        js::stringify(&seen).as_deref(),
        Some(r#"["unqualified>A","A>B"]"#)
    );
    assert!(local_storage().get_item(STORAGE_KEY).unwrap().is_some());
    web::consent(JsValue::FALSE);
    assert_eq!(
        local_storage().get_item(STORAGE_KEY).unwrap(),
        None,
        "withdrawn: erased"
    );
    web::stop();
}

#[wasm_bindgen_test]
fn http_statuses_decide_between_delivered_retried_and_dropped() {
    use transport::Delivery;
    assert_eq!(transport::delivery(200), Delivery::Accepted);
    assert_eq!(transport::delivery(204), Delivery::Accepted);
    assert_eq!(transport::delivery(400), Delivery::Refused);
    assert_eq!(transport::delivery(413), Delivery::Refused);
    assert_eq!(transport::delivery(422), Delivery::Refused);
    assert_eq!(transport::delivery(408), Delivery::Failed);
    assert_eq!(transport::delivery(429), Delivery::Failed);
    assert_eq!(transport::delivery(500), Delivery::Failed);
    assert_eq!(transport::delivery(503), Delivery::Failed);
    assert_eq!(transport::delivery(0), Delivery::Failed);
}
