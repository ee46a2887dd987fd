// The stored record: parsing and validation, its text, base64 state, and storage that throws.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  KEY, MAX_OUTBOX, freshRecord, fromBase64, inShare, isLeadId, openStore, parseRecord, randomId, recordText, toBase64,
} from '../../www/shim/store.js';

const VISITOR = '0123456789abcdef0123456789abcdef';
const valid = { v: 2, visitor: VISITOR, state: 'AAEC' };
const parse = (changes) => parseRecord(JSON.stringify({ ...valid, ...changes }));

test('a valid record parses; its text leaves out empty parts and round-trips', () => {
  const record = parseRecord(JSON.stringify(valid));
  assert.deepEqual(record, { ...valid, outbox: [] });
  assert.equal(recordText(record), JSON.stringify(valid));
  const full = { ...valid, lead: 'crm-1', outbox: [{ event_id: VISITOR, tier: 'MQL' }], attempts: 2, retry_at: 5 };
  assert.deepEqual(parseRecord(recordText(full)), full);
});

test('anything else is not a record', () => {
  for (const text of [null, '', 'not json', '[]', '42', '{"v":1,"visitor":"' + VISITOR + '","state":""}']) {
    assert.equal(parseRecord(text), null, String(text));
  }
  const bad = [
    { v: 1 }, { visitor: 'x' }, { visitor: VISITOR.toUpperCase() }, { state: {} }, { state: undefined },
    { lead: '' }, { lead: 'x'.repeat(129) }, { lead: 7 },
    { outbox: {} }, { outbox: [{}] }, { outbox: [{ event_id: 'x' }] },
    { outbox: Array(MAX_OUTBOX + 1).fill({ event_id: VISITOR }) },
    { attempts: -1 }, { attempts: 1.5 }, { attempts: 'x' }, { retry_at: 'x' },
  ];
  for (const changes of bad) assert.equal(parse(changes), null, JSON.stringify(changes));
});

test('ids: 32 hex characters, random; lead ids up to 128 bytes', () => {
  assert.match(randomId(), /^[0-9a-f]{32}$/);
  assert.notEqual(randomId(), randomId());
  assert.match(freshRecord().visitor, /^[0-9a-f]{32}$/);
  assert.ok(isLeadId('x'.repeat(128)));
  assert.ok(!isLeadId('é'.repeat(65)), '130 bytes');
  assert.ok(!isLeadId(''));
});

test('state bytes survive base64; text that is not base64 gives null', () => {
  const bytes = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 255);
  assert.deepEqual(fromBase64(toBase64(bytes)), bytes);
  assert.deepEqual(fromBase64(''), new Uint8Array());
  assert.equal(fromBase64('*not base64*'), null);
});

test('a store over storage that throws falls back to memory, reporting it once', () => {
  const calls = [];
  const storage = {
    items: new Map(),
    getItem(k) { return this.items.get(k) ?? null; },
    setItem() { throw new Error('quota'); },
    removeItem(k) { this.items.delete(k); },
  };
  globalThis.localStorage = storage;
  try {
    const store = openStore(true, () => calls.push('failed'));
    store.write('one');
    store.write('two');
    assert.equal(store.read(), 'two');
    assert.deepEqual(calls, ['failed']);
    const memory = openStore(false, () => calls.push('never'));
    assert.equal(memory.read(), null);
    memory.write('x');
    memory.clear();
    assert.equal(memory.read(), null);
    assert.equal(storage.items.has(KEY), false);
  } finally {
    delete globalThis.localStorage;
  }
});

test('records survive what pages do to built-ins: JSON replaced after load, arrays with toJSON, Array.from', () => {
  const { parse, stringify } = JSON;
  const from = Array.from;
  JSON.parse = () => ({ host: true });
  JSON.stringify = () => '"host"';
  Array.prototype.toJSON = function () {
    return 'an array';
  };
  Array.from = (iterable) => [...iterable]; // Prototype.js's $A: no mapping function
  try {
    const full = { ...valid, outbox: [{ event_id: VISITOR, tier: 'MQL' }], attempts: 1 };
    const text = recordText(full);
    assert.deepEqual(parse(text).outbox, full.outbox);
    assert.deepEqual(parseRecord(text), full);
    assert.match(randomId(), /^[0-9a-f]{32}$/);
    assert.match(freshRecord().visitor, /^[0-9a-f]{32}$/);
  } finally {
    Object.assign(JSON, { parse, stringify });
    delete Array.prototype.toJSON;
    Array.from = from;
  }
});

test('clearing erases the record and the first version\'s record', () => {
  const items = new Map([[KEY, 'x'], ['leadscore:v1', 'y'], ['other', 'z']]);
  globalThis.localStorage = {
    getItem: (k) => items.get(k) ?? null,
    setItem: (k, v) => items.set(k, v),
    removeItem: (k) => items.delete(k),
  };
  try {
    openStore(true, () => assert.fail('storage works')).clear();
    assert.deepEqual([...items.keys()], ['other']);
  } finally {
    delete globalThis.localStorage;
  }
});

test('challenger shares: stable per key, independent per challenger, close to the share over many visitors', () => {
  const visitors = Array.from({ length: 20000 }, () => randomId());
  for (const [share, fraction] of [['0', 0], ['1', 1], ['0.2', 0.2], ['20%', 0.2], ['50%', 0.5]]) {
    const inside = visitors.filter((v) => inShare(v + '/models/b.bin', share)).length / visitors.length;
    assert.ok(Math.abs(inside - fraction) < 0.02, `${share}: ${inside}`);
  }
  for (const v of visitors.slice(0, 100)) assert.equal(inShare(v + 'x', '0.5'), inShare(v + 'x', '0.5'));
  // Two challengers split the same visitors independently (about a quarter in both halves).
  const both = visitors.filter((v) => inShare(v + '/a.bin', '0.5') && inShare(v + '/b.bin', '0.5')).length;
  assert.ok(Math.abs(both / visitors.length - 0.25) < 0.02, String(both));
  for (const share of ['', 'none', '-1', undefined]) assert.equal(inShare(VISITOR, share), false, String(share));
  // The hash itself is part of the contract: a change would move visitors between variants.
  // FNV-1a of this key is 2134677531, 0.49702 of 2^32.
  const key = VISITOR + '/models/challenger.bin';
  assert.equal(inShare(key, '0.4971'), true);
  assert.equal(inShare(key, '0.4970'), false);
  assert.equal(inShare(key, '49.71%'), true);
});
