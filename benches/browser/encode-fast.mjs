// A prototype for the breakdown of the benchmark, not used by the widget: the bytes of
// www/shim/event.js `encodeEvent`, written into one reused buffer, ASCII text copied character
// by character (TextEncoder only for other text), instead of a JS array of numbers, one
// TextEncoder.encode per text and a Float64Array per number. The benchmark checks that it gives
// exactly `encodeEvent`'s bytes for every event before it times it.

const MAX_TEXT = 2048;
const MAX_ENTRIES = 64;
const KINDS = { page_view: 1, download: 2, answer: 3, form_submit: 4, custom: 5, engagement: 6 };
const utf8 = new TextEncoder();

let buffer = new Uint8Array(4096);
let view = new DataView(buffer.buffer);
let at = 0;

function room(n) {
  if (at + n <= buffer.length) return;
  const bigger = new Uint8Array(Math.max(buffer.length * 2, at + n));
  bigger.set(buffer.subarray(0, at));
  buffer = bigger;
  view = new DataView(buffer.buffer);
}

function byte(b) {
  room(1);
  buffer[at++] = b & 255;
}

function text(value) {
  const s = String(value);
  const n = Math.min(s.length, MAX_TEXT);
  room(2 + n);
  let ascii = true;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 127) {
      ascii = false;
      break;
    }
    buffer[at + 2 + i] = c;
  }
  if (ascii) {
    // The first MAX_TEXT characters are ASCII: a longer text is cut after them, as encodeEvent
    // cuts it (the byte after them starts a character whatever it is).
    view.setUint16(at, n, true);
    at += 2 + n;
    return;
  }
  let b = utf8.encode(s);
  if (b.length > MAX_TEXT) {
    let end = MAX_TEXT;
    while (end > 0 && (b[end] & 0xc0) === 0x80) end--;
    b = b.subarray(0, end);
  }
  room(2 + b.length);
  view.setUint16(at, b.length, true);
  buffer.set(b, at + 2);
  at += 2 + b.length;
}

function f64(n) {
  room(8);
  view.setFloat64(at, n, true);
  at += 8;
}

function value(v) {
  if (typeof v === 'boolean') {
    byte(2);
    byte(v ? 1 : 0);
  } else if (typeof v === 'number') {
    byte(1);
    f64(v);
  } else {
    byte(0);
    text(v);
  }
}

function entries(object, each) {
  const keys = Object.keys(object || {});
  const n = Math.min(keys.length, MAX_ENTRIES);
  byte(n);
  for (let i = 0; i < n; i++) {
    text(keys[i]);
    each(object[keys[i]]);
  }
}

/** `encodeEvent(event)`'s bytes, as a view of a shared buffer that the next call overwrites. */
export function encodeEventFast(event) {
  const kind = KINDS[event.type];
  if (!kind) return null;
  at = 0;
  byte(kind);
  switch (kind) {
    case 1: text(event.path); entries(event.query, text); break;
    case 2: text(event.url); break;
    case 3: text(event.question); value(event.value); break;
    case 4: {
      const id = event.id != null;
      const name = event.name != null;
      byte((id ? 1 : 0) | (name ? 2 : 0));
      if (id) text(event.id);
      if (name) text(event.name);
      break;
    }
    case 5: text(event.name); entries(event.properties, value); break;
    default: f64(Number(event.seconds));
  }
  return buffer.subarray(0, at);
}
