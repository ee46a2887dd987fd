//! The debug panel: tier, sub-scores and contributions, live, in a shadow root so that the host's
//! CSS cannot touch it and its CSS cannot touch the host.

use crate::engine::Score;
use web_sys::{ShadowRoot, ShadowRootInit, ShadowRootMode};

/// `id` of the element that hosts the panel's shadow root.
pub const PANEL_ID: &str = "leadscore-debug";

const STYLE: &str = ":host{all:initial}div{position:fixed;right:8px;bottom:8px;z-index:2147483647;\
max-width:340px;max-height:60vh;overflow:auto;background:#111827;color:#f9fafb;font:12px/1.4 ui-monospace,\
monospace;padding:8px 10px;border-radius:6px;box-shadow:0 4px 12px #0005;opacity:.95}b{color:#fbbf24}\
pre{margin:4px 0 0;white-space:pre-wrap}";

/// The panel, once attached to the page.
pub struct Panel {
    root: ShadowRoot,
}

impl Panel {
    /// Adds the panel to the page.
    pub fn attach() -> Option<Panel> {
        let doc = web_sys::window()?.document()?;
        let host = doc.create_element("div").ok()?;
        host.set_id(PANEL_ID);
        let root = host
            .attach_shadow(&ShadowRootInit::new(ShadowRootMode::Open))
            .ok()?;
        // Built node by node (no innerHTML, so Trusted Types policies do not object).
        let node = |tag: &str, parent: &web_sys::Node, id: &str, text: &str| {
            let el = doc.create_element(tag).ok()?;
            if !id.is_empty() {
                el.set_id(id);
            }
            el.set_text_content(Some(text));
            parent.append_child(&el).ok()?;
            Some(el)
        };
        node("style", &root, "", STYLE)?;
        let panel = node("div", &root, "", "leadscore ")?;
        panel.set_attribute("role", "status").ok()?;
        node("b", &panel, "tier", "")?;
        node("pre", &panel, "scores", "")?;
        let parent: web_sys::Node = match doc.body() {
            Some(body) => body.into(),
            None => doc.document_element()?.into(),
        };
        parent.append_child(&host).ok()?;
        Some(Panel { root })
    }

    /// Shows `score`.
    pub fn show(&self, score: &Score<'_>) {
        let text = |id: &str, value: &str| {
            if let Some(el) = self.root.get_element_by_id(id) {
                el.set_text_content(Some(value));
            }
        };
        text("tier", score.tier);
        text("scores", &describe(score));
    }

    /// Removes the panel.
    pub fn detach(&self) {
        self.root.host().remove();
    }
}

/// The score as a few lines of text.
pub fn describe(score: &Score<'_>) -> String {
    let mut out = String::new();
    for (name, value) in [
        ("fit", score.fit),
        ("engagement", score.engagement),
        ("intent", score.intent),
        ("product", score.product),
        ("total", score.total),
    ] {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(&round1(value));
        out.push('\n');
    }
    for c in &score.contributions {
        out.push_str("  ");
        out.push_str(c.rule);
        out.push(' ');
        out.push_str(c.dimension.name());
        out.push_str(if c.points >= 0.0 { " +" } else { " " });
        out.push_str(&round1(c.points));
        out.push('\n');
    }
    out
}

fn round1(v: f64) -> String {
    crate::model::number_text((v * 10.0).round() / 10.0)
}
