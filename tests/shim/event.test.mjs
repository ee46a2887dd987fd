// The event bytes the kernel reads (layout: www/shim/event.js, src/engine/event.rs).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeEvent, MAX_TEXT } from '../../www/shim/event.js';

const f64 = (n) => [...new Uint8Array(new Float64Array([n]).buffer)];
const text = (s) => {
  const b = [...new TextEncoder().encode(s)];
  return [b.length & 255, b.length >> 8, ...b];
};
const bytes = (event) => [...encodeEvent(event)];

test('page view: path, then the query parameters', () => {
  assert.deepEqual(bytes({ type: 'page_view', path: '/pricing', query: { utm_source: 'linkedin' } }),
    [1, ...text('/pricing'), 1, ...text('utm_source'), ...text('linkedin')]);
  assert.deepEqual(bytes({ type: 'page_view', path: '/' }), [1, ...text('/'), 0]);
});

test('download, answer, form submission, custom event, engagement', () => {
  assert.deepEqual(bytes({ type: 'download', url: '/a.pdf' }), [2, ...text('/a.pdf')]);
  assert.deepEqual(bytes({ type: 'answer', question: 'role', value: 'cto' }), [3, ...text('role'), 0, ...text('cto')]);
  assert.deepEqual(bytes({ type: 'answer', question: 'n', value: 200 }), [3, ...text('n'), 1, ...f64(200)]);
  assert.deepEqual(bytes({ type: 'form_submit', id: 'demo' }), [4, 1, ...text('demo')]);
  assert.deepEqual(bytes({ type: 'form_submit', name: 'contact' }), [4, 2, ...text('contact')]);
  assert.deepEqual(bytes({ type: 'form_submit', id: 'a', name: 'b' }), [4, 3, ...text('a'), ...text('b')]);
  assert.deepEqual(bytes({ type: 'form_submit' }), [4, 0]);
  assert.deepEqual(bytes({ type: 'custom', name: 'used', properties: { ok: true, n: 1.5, s: 'x' } }),
    [5, ...text('used'), 3, ...text('ok'), 2, 1, ...text('n'), 1, ...f64(1.5), ...text('s'), 0, ...text('x')]);
  assert.deepEqual(bytes({ type: 'engagement', seconds: 15 }), [6, ...f64(15)]);
  assert.equal(encodeEvent({ type: 'unknown' }), null);
});

test('text is cut to the engine limit on a character boundary; at most 64 entries', () => {
  const long = 'é'.repeat(MAX_TEXT); // 2 bytes each
  const b = encodeEvent({ type: 'download', url: 'x' + long });
  const length = b[1] | (b[2] << 8);
  assert.ok(length <= MAX_TEXT && length >= MAX_TEXT - 1);
  assert.doesNotThrow(() => new TextDecoder('utf-8', { fatal: true }).decode(b.subarray(3)));
  const query = Object.fromEntries(Array.from({ length: 100 }, (_, i) => ['k' + i, 'v']));
  assert.equal(encodeEvent({ type: 'page_view', path: '/', query })[4], 64);
});

test('text: ASCII and the rest encode as TextEncoder does; long ASCII is cut at the limit', () => {
  const encoder = new TextEncoder();
  for (const url of ['/pricing', '/café/menü?x=1', 'é', '/a/😀/b', '', 'x'.repeat(MAX_TEXT)]) {
    const b = encodeEvent({ type: 'download', url });
    assert.deepEqual([...b.subarray(3)], [...encoder.encode(url)], url);
  }
  const b = encodeEvent({ type: 'download', url: 'y'.repeat(MAX_TEXT + 10) });
  assert.equal(b[1] | (b[2] << 8), MAX_TEXT);
  // Mostly ASCII with a two-byte character across the limit: cut before it.
  const c = encodeEvent({ type: 'download', url: 'z'.repeat(MAX_TEXT - 1) + 'é' });
  assert.equal(c[1] | (c[2] << 8), MAX_TEXT - 1);
});

test('a shared encoding is a view the next call reuses; the default is a copy of its own', () => {
  const own = encodeEvent({ type: 'download', url: '/a.pdf' });
  const shared = encodeEvent({ type: 'download', url: '/b.pdf' }, true);
  assert.deepEqual([...shared], [...encodeEvent({ type: 'download', url: '/b.pdf' })]);
  encodeEvent({ type: 'download', url: '/c.pdf' });
  assert.equal(String.fromCharCode(shared[4]), 'c');
  assert.equal(String.fromCharCode(own[4]), 'a');
});
