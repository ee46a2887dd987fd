// Delivery rules: the tier payload, what a status means, the backoff between retries.

import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { ACCEPTED, FAILED, REFUSED, TIMEOUT, backoff, outcome, payload, post, sendable } from '../../www/shim/outbox.js';

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

test('the rule summary only when given: rule id -> [times fired, points now]', () => {
  assert.equal('rules' in JSON.parse(JSON.stringify(payload(change, model, record, NOW))), false);
  const rules = { 'demo-request': [1, 30], 'pricing-page': [2, 8] };
  const p = JSON.parse(JSON.stringify(payload(change, model, { ...record, lead: 'crm-42' }, NOW, undefined, rules)));
  assert.deepEqual(p.rules, rules);
  assert.equal('scores' in p, false);
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

/** Runs `fn` with `fetch` replaced by `fake`. */
async function withFetch(fake, fn) {
  const real = globalThis.fetch;
  globalThis.fetch = fake;
  try {
    return await fn();
  } finally {
    globalThis.fetch = real;
  }
}

test('a post is CORS-simple: a JSON string body (sent as text/plain), no custom header, no cookies', async () => {
  const seen = [];
  const result = await withFetch(async (url, init) => {
    seen.push([url, init]);
    return { status: 200 };
  }, () => post('https://collector.example/v1/tier', { schema: 1, tier: 'MQL' }));
  assert.equal(result, ACCEPTED);
  const [[url, init]] = seen;
  assert.equal(url, 'https://collector.example/v1/tier');
  assert.equal(init.method, 'POST');
  assert.equal(init.body, '{"schema":1,"tier":"MQL"}');
  assert.equal(init.headers, undefined, 'a string body goes as text/plain;charset=UTF-8');
  assert.equal(init.credentials, 'omit');
  assert.equal(init.keepalive, true);
});

test('a post that never settles is aborted after TIMEOUT and counts as failed', async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    let signal;
    const pending = withFetch((url, init) => {
      signal = init.signal;
      return new Promise((_, reject) => init.signal.addEventListener('abort', () => reject(init.signal.reason)));
    }, () => post('/v1/tier', {}));
    mock.timers.tick(TIMEOUT - 1);
    assert.equal(signal.aborted, false);
    mock.timers.tick(1);
    assert.equal(signal.aborted, true);
    assert.equal(await pending, FAILED);
  } finally {
    mock.timers.reset();
  }
});

test('a post that fails at once or is answered is not aborted afterwards', async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    for (const fake of [() => Promise.reject(new TypeError('offline')), async () => ({ status: 503 })]) {
      let signal;
      const result = await withFetch((url, init) => {
        signal = init.signal;
        return fake();
      }, () => post('/v1/tier', {}));
      assert.equal(result, FAILED);
      mock.timers.tick(TIMEOUT);
      assert.equal(signal.aborted, false, 'the timer was cleared');
    }
  } finally {
    mock.timers.reset();
  }
});

test('only the payload fields leave the page, whatever the stored record holds', () => {
  const stored = {
    schema: 1, tier: 'SQL', previous_tier: 'MQL', model_id: 'm', model_version: '1', visitor_id: 'v',
    event_id: 'e', at: '2026-01-01T00:00:00.000Z', url: 'https://example.com/?email=x', answers: { role: 'cto' },
    scores: { fit: 1, engagement: 2, intent: 3, product: 4, total: 10, page: '/secret' },
    rules: { pricing: [2, 8], url: '/secret', answer: ['cto', 1], odd: [1, 2, 3], half: [1, 0.5] },
  };
  assert.deepEqual(sendable(stored), {
    schema: 1, tier: 'SQL', previous_tier: 'MQL', model_id: 'm', model_version: '1', visitor_id: 'v',
    event_id: 'e', at: '2026-01-01T00:00:00.000Z',
    scores: { fit: 1, engagement: 2, intent: 3, product: 4, total: 10 },
    rules: { pricing: [2, 8] },
  });
});
