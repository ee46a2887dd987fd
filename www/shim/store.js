// What the widget keeps in the visitor's browser: one record under one localStorage key, or in
// memory (before consent, or when storage throws).
//
// {"v":2, "visitor": 32 hex, "lead"?: text, "state": base64 of the kernel's state bytes,
//  "outbox"?: [tier payloads not yet accepted, oldest first], "attempts"?: n, "retry_at"?: ms}

import { utf8 } from './event.js';

/** The one localStorage key the widget writes. */
export const KEY = 'leadscore:v2';
/** Most undelivered tier payloads kept; the oldest go first. */
export const MAX_OUTBOX = 16;
/** Longest lead id, in UTF-8 bytes. */
export const MAX_ID = 128;

const HEX32 = /^[0-9a-f]{32}$/;

/** What `fn(...args)` returns, or null when it throws. */
export function attempt(fn, ...args) {
  try {
    return fn(...args);
  } catch {
    return null;
  }
}

/**
 * JSON as the browser made it, taken when this script runs. A page may have replaced
 * `JSON.parse` or `JSON.stringify` before (then those of a fresh realm, an empty frame added and
 * removed at once, are used) or after, or given arrays a `toJSON` (Prototype.js), which `toJSON`
 * below ignores: either would otherwise make every page load a new visitor.
 */
let { parse, stringify } = JSON;
if (!/native code[^]*native code/.test(parse + stringify)) {
  // Removed before anything is drawn; with no frame, the page's JSON it is.
  attempt(() => {
    const frame = document.documentElement.appendChild(document.createElement('iframe'));
    ({ parse, stringify } = frame.contentWindow.JSON);
    frame.remove();
  });
}
/** JSON text as a value. */
export { parse as parseJSON };
/** `value` as JSON text; an array is written as an array whatever its `toJSON` says. */
export const toJSON = (value) =>
  stringify(value, function (key, v) {
    return Array.isArray(this[key]) ? this[key] : v;
  });

/**
 * 32 lowercase hex characters from the browser's cryptographic random source (not `Array.from`,
 * which pages with Prototype.js replace by one that ignores the mapping function).
 */
export const randomId = () =>
  crypto.getRandomValues(new Uint8Array(16)).reduce((id, b) => id + (b + 256).toString(16).slice(1), '');

/**
 * True when `key` (a visitor's random id and a challenger's URL) falls in `share` of all keys:
 * `share` is 0 to 1, or a percentage ("10%"). FNV-1a of the key, so a visitor keeps the
 * assignment and the assignments to different challengers are independent.
 */
export function inShare(key, share) {
  const fraction = parseFloat(share) / (/%$/.test(share) ? 100 : 1);
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) / 2 ** 32 < fraction;
}

/** True for a lead id the widget keeps: text of 1 to MAX_ID bytes. */
export const isLeadId = (id) =>
  typeof id == 'string' && id != '' && utf8.encode(id).length <= MAX_ID;

/** A new record: of a new visitor, or of `visitor` (their random id). */
export const freshRecord = (visitor = randomId()) => ({ v: 2, visitor, state: '', outbox: [] });

/** The record in stored text, or null when it is not one (corrupt, foreign, another version). */
export const parseRecord = (text) =>
  attempt(() => {
    const r = parse(text);
    const outbox = r.outbox || [];
    const count = (n) => n == null || (Number.isInteger(n) && n >= 0);
    return r.v === 2 && HEX32.test(r.visitor) && (r.lead == null || isLeadId(r.lead)) && typeof r.state == 'string' &&
      outbox.length <= MAX_OUTBOX && outbox.every((p) => HEX32.test(p.event_id)) &&
      count(r.attempts) && Number.isFinite(r.retry_at || 0) ? { ...r, outbox } : null;
  });

/** The record as stored text: empty parts are left out. */
export const recordText = (r) =>
  toJSON({ ...r, outbox: r.outbox[0] && r.outbox, attempts: r.attempts || undefined,
    retry_at: r.retry_at || undefined });

/** Bytes as base64. */
export const toBase64 = (bytes) => btoa(bytes.reduce((text, b) => text + String.fromCharCode(b), ''));

/** Base64 as bytes (null when it is not base64). */
export const fromBase64 = (text) => attempt(() => Uint8Array.from(atob(text), (c) => c.charCodeAt(0)));

/**
 * Where the record lives: localStorage when `persist` and it works, memory otherwise. Storage
 * that throws is replaced by memory for the rest of the page, with one call of `onFail`.
 */
export const openStore = (persist, onFail) => {
  let local = persist;
  let memory = null;
  /** Runs `fn` on localStorage while it works (reading `localStorage` itself may throw). */
  const use = (fn) => {
    try {
      return local && fn(localStorage);
    } catch {
      local = false;
      onFail();
    }
  };
  const read = () => use((storage) => storage.getItem(KEY));
  read();
  return {
    read() {
      const text = read();
      return local ? text : memory;
    },
    write(text) {
      memory = text;
      use((storage) => storage.setItem(KEY, text));
    },
    /** Erases the record, and the one the widget's first version kept (`leadscore:v1`). */
    clear() {
      memory = null;
      use((storage) => {
        storage.removeItem(KEY);
        storage.removeItem('leadscore:v1');
      });
    },
  };
};
