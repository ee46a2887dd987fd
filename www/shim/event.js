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

/** The event types, in the order of their kind numbers (1 to 6). */
const KINDS = ['page_view', 'download', 'answer', 'form_submit', 'custom', 'engagement'];
/** The page's one UTF-8 encoder (events, kernel arguments, id lengths). */
export const utf8 = new TextEncoder();
/** One buffer for every event: the kernel copies the bytes at once. */
let buf = new Uint8Array(8192);
let view = new DataView(buf.buffer);
let at = 0;

const byte = (b) => (buf[at++] = b);
const f64 = (n) => {
  view.setFloat64(at, n, true);
  at += 8;
};
/**
 * Text as UTF-8: ASCII (paths, names, most answers) byte by byte, the rest by `encodeInto`, which
 * stops before a character that does not fit, so a text over MAX_TEXT bytes is cut on a character
 * boundary. The buffer first grows, when needed, to hold the longest text and the 9 bytes of the
 * value that may follow it; only texts can fill it (an event is one byte, then texts, counts and
 * values), so bytes and numbers need no check of their own.
 */
const text = (s) => {
  s = String(s);
  if (at + MAX_TEXT + 11 > buf.length) {
    const bigger = new Uint8Array(buf.length * 2);
    bigger.set(buf);
    view = new DataView((buf = bigger).buffer);
  }
  let n = 0;
  if (s.length <= MAX_TEXT) {
    for (let c; n < s.length && (c = s.charCodeAt(n)) < 128; n++) buf[at + 2 + n] = c;
  }
  if (n < s.length) n += utf8.encodeInto(s.slice(n), buf.subarray(at + 2 + n, at + 2 + MAX_TEXT)).written;
  view.setUint16(at, n, true);
  at += 2 + n;
};
const value = (v) => {
  if (typeof v == 'boolean') byte(2), byte(+v);
  else if (typeof v == 'number') byte(1), f64(v);
  else byte(0), text(v);
};
const entries = (object, each) => {
  const list = Object.entries(object || {}).slice(0, MAX_ENTRIES);
  byte(list.length);
  for (const [k, v] of list) text(k), each(v);
};

/**
 * The bytes of `event`, or null for an event type the engine does not know. With `shared`, a
 * view of the encoder's own buffer, valid until the next call (for a caller that hands it to
 * the kernel at once: the kernel copies it).
 */
export function encodeEvent(event, shared) {
  const kind = KINDS.indexOf(event.type) + 1;
  if (!kind) return null;
  at = 0;
  byte(kind);
  if (kind == 1) text(event.path), entries(event.query, text);
  else if (kind == 2) text(event.url);
  else if (kind == 3) text(event.question), value(event.value);
  else if (kind == 4) {
    const id = event.id != null;
    const name = event.name != null;
    byte(id + 2 * name);
    if (id) text(event.id);
    if (name) text(event.name);
  } else if (kind == 5) text(event.name), entries(event.properties, value);
  else f64(Number(event.seconds));
  return shared ? buf.subarray(0, at) : buf.slice(0, at);
}
