// The events the page adapter hands to the scoring kernel, as bytes.
//
// The kernel reads one event per call to `apply(bytes, now)`. The layout (little-endian) is the
// one `engine::Event::from_bytes` reads in `src/engine/event.rs`:
//
//   kind    u8: 1 page_view, 2 download, 3 answer, 4 form_submit, 5 custom, 6 engagement
//   page_view    text path, u8 n, n × (text name, text value)     query parameters
//   download     text url
//   answer       text question, value
//   form_submit  u8 present (1: id, 2: name, 3: both), [text id], [text name]
//   custom       text name, u8 n, n × (text name, value)           properties
//   engagement   f64 seconds
//   text    u16 byte length + UTF-8 bytes (at most MAX_TEXT bytes: longer text is cut on a
//           character boundary)
//   value   u8 tag: 0 text, 1 number (f64), 2 boolean (u8 0/1), then the value
//
// The input is the event as `leadscore score` reads it from an event log: `{type: 'page_view',
// path, query}`, `{type: 'download', url}`, `{type: 'answer', question, value}`,
// `{type: 'form_submit', id, name}`, `{type: 'custom', name, properties}`,
// `{type: 'engagement', seconds}`.

/** Longest text the engine accepts, in bytes. */
export const MAX_TEXT = 2048;
/** Most query parameters or properties one event carries. */
export const MAX_ENTRIES = 64;

const KINDS = { page_view: 1, download: 2, answer: 3, form_submit: 4, custom: 5, engagement: 6 };
/** The page's one UTF-8 encoder (events, kernel arguments, id lengths). */
export const utf8 = new TextEncoder();
/** One buffer for every event: the kernel copies the bytes at once. */
let buf = new Uint8Array(8192);
let view = new DataView(buf.buffer);
let at = 0;

/** Makes room for one more text (or number) and its length. */
function room() {
  if (at + MAX_TEXT + 11 > buf.length) {
    const bigger = new Uint8Array(buf.length * 2);
    bigger.set(buf);
    buf = bigger;
    view = new DataView(buf.buffer);
  }
}
const byte = (b) => { room(); buf[at++] = b; };
const f64 = (n) => { room(); view.setFloat64(at, n, true); at += 8; };
/** Text as UTF-8: ASCII (paths, names, most answers) byte by byte, the rest by `encodeInto`,
 *  which stops before a character that does not fit, so a text over MAX_TEXT bytes is cut on a
 *  character boundary. */
const text = (s) => {
  s = String(s);
  room();
  let n = 0;
  if (s.length <= MAX_TEXT) {
    for (let c; n < s.length && (c = s.charCodeAt(n)) < 128; n++) buf[at + 2 + n] = c;
  }
  if (n < s.length) n += utf8.encodeInto(s.slice(n), buf.subarray(at + 2 + n, at + 2 + MAX_TEXT)).written;
  view.setUint16(at, n, true);
  at += 2 + n;
};
const value = (v) => {
  if (typeof v == 'boolean') { byte(2); byte(v ? 1 : 0); }
  else if (typeof v == 'number') { byte(1); f64(v); }
  else { byte(0); text(v); }
};
const entries = (object, each) => {
  const list = Object.entries(object || {}).slice(0, MAX_ENTRIES);
  byte(list.length);
  for (const [k, v] of list) { text(k); each(v); }
};

/**
 * The bytes of `event`, or null for an event type the engine does not know. With `shared`, a
 * view of the encoder's own buffer, valid until the next call (for a caller that hands it to
 * the kernel at once: the kernel copies it).
 */
export function encodeEvent(event, shared) {
  const kind = KINDS[event.type];
  if (!kind) return null;
  at = 0;
  byte(kind);
  switch (kind) {
    case 1: text(event.path); entries(event.query, text); break;
    case 2: text(event.url); break;
    case 3: text(event.question); value(event.value); break;
    case 4: {
      const id = event.id != null, name = event.name != null;
      byte((id ? 1 : 0) | (name ? 2 : 0));
      if (id) text(event.id);
      if (name) text(event.name);
      break;
    }
    case 5: text(event.name); entries(event.properties, value); break;
    default: f64(Number(event.seconds));
  }
  return shared ? buf.subarray(0, at) : buf.slice(0, at);
}
