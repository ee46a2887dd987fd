// Delivery rules: the tier payload, what a status means, the backoff between retries.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ACCEPTED, FAILED, REFUSED, backoff, outcome, payload } from '../../www/shim/outbox.js';

const model = { id: 'acme-saas', version: '2026-11-01' };
const record = { visitor: '0123456789abcdef0123456789abcdef' };
const change = { tier: 'MQL', previous_tier: 'unqualified' };
const NOW = Date.UTC(2026, 10, 24, 10, 0, 0, 5);

test('the payload: exactly the schema fields, an id per change, the time in ISO UTC', () => {
  const p = JSON.parse(JSON.stringify(payload(change, model, record, NOW)));
  assert.deepEqual(p, {
    schema: 1, tier: 'MQL', previous_tier: 'unqualified', model_id: 'acme-saas', model_version: '2026-11-01',
    visitor_id: record.visitor, event_id: p.event_id, at: '2026-11-24T10:00:00.005Z',
  });
  assert.match(p.event_id, /^[0-9a-f]{32}$/);
  assert.notEqual(payload(change, model, record, NOW).event_id, p.event_id);
});

test('the lead id and the sub-scores only when given', () => {
  const scores = { fit: 20, engagement: 5, intent: 0, product: 0, total: 25 };
  const p = JSON.parse(JSON.stringify(payload(change, model, { ...record, lead: 'crm-42' }, NOW, scores)));
  assert.equal(p.lead_id, 'crm-42');
  assert.deepEqual(p.scores, scores);
});

test('2xx accepted; 408, 429, 5xx and no answer retried; other 4xx refused', () => {
  for (const s of [200, 201, 204, 299]) assert.equal(outcome(s), ACCEPTED, s);
  for (const s of [0, 301, 408, 429, 500, 502, 503]) assert.equal(outcome(s), FAILED, s);
  for (const s of [400, 401, 403, 404, 413, 422, 499]) assert.equal(outcome(s), REFUSED, s);
});

test('backoff: 2 s, doubling, at most 5 minutes', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8, 9].map(backoff), [2e3, 4e3, 8e3, 16e3, 32e3, 64e3, 128e3, 256e3, 300e3]);
  assert.equal(backoff(1000), 300e3);
});
