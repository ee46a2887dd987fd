// Closing the loop in the page: the opt-in rule summary (only with consent and for identified
// leads) and the champion / challenger split (stable per visitor, only the assigned model fetched).

import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './server.mjs';
import { launch, newPage, widgetReady, until, sleep, widgetWarnings } from './browser.mjs';
import { inShare, randomId } from '../../www/shim/store.js';

let server;
let browser;
before(async () => {
  server = await startServer();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.close();
});
beforeEach(() => server.reset());

/** A test page embedding the widget with `attributes` on its script tag. */
function page(attributes) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">
<script>window.leadscore = window.leadscore || function () { (leadscore.q = leadscore.q || []).push(arguments); };</script>
<script async src="/leadscore/leadscore.js" data-endpoint="/v1/tier" ${attributes}></script>
</head><body><h1>Loop</h1></body></html>`;
}

const becomePql = (p) =>
  p.evaluate(() => {
    leadscore('track', 'signup');
    leadscore('track', 'teammate_invited');
    leadscore('track', 'feature_used', { feature: 'report' });
    leadscore('track', 'feature_used', { feature: 'integration' });
  });

/** The fields of a default tier result, and of one with a lead id. */
const DEFAULT = ['at', 'event_id', 'model_id', 'model_version', 'previous_tier', 'schema', 'tier', 'visitor_id'];
const IDENTIFIED = [...DEFAULT, 'lead_id'].sort();

/** Loads `attributes`' page, runs `steps` (identify / consent), becomes PQL; the first result sent. */
async function pqlResult(attributes, steps) {
  server.options.pages['/loop.html'] = page(attributes);
  const { context, page: p } = await newPage(browser);
  try {
    await p.goto(server.url + '/loop.html');
    await widgetReady(p);
    await p.evaluate(steps);
    // The explanation at each tier change, as the page's callback sees it.
    await p.evaluate(() => leadscore('on', 'tier', () => (window.changes = window.changes || []).push(leadscore('explain'))));
    await becomePql(p);
    await until(() => server.accepted.length >= 1, 'the PQL result');
    const [score] = await p.evaluate(() => window.changes);
    assert.deepEqual(p.errors, []);
    assert.deepEqual(widgetWarnings(p), []);
    return { result: server.accepted[0], score };
  } finally {
    await context.close();
    server.reset();
  }
}

test('rule summaries: off by default; on, only with consent and identify, and then exactly the summary', async () => {
  const both = () => { leadscore('consent', true); leadscore('identify', 'crm-7'); };
  const off = await pqlResult('data-model="/models/saas.bin"', both);
  assert.deepEqual(Object.keys(off.result).sort(), IDENTIFIED);

  const on = 'data-model="/models/saas.bin" data-send-rules';
  const noConsent = await pqlResult(on, () => leadscore('identify', 'crm-7'));
  assert.deepEqual(Object.keys(noConsent.result).sort(), IDENTIFIED);
  const anonymous = await pqlResult(on, () => leadscore('consent', true));
  assert.deepEqual(Object.keys(anonymous.result).sort(), DEFAULT);
  const { result, score } = await pqlResult(on, both);
  assert.deepEqual(Object.keys(result).sort(), [...IDENTIFIED, 'rules'].sort());
  const expected = Object.fromEntries(score.contributions.map((c) => [c.rule, [c.times, Math.round(c.points)]]));
  assert.deepEqual(result.rules, expected);
  assert.ok(Object.keys(result.rules).length >= 2, JSON.stringify(result.rules));
  for (const [rule, [times, points]] of Object.entries(result.rules)) {
    assert.ok(Number.isInteger(times) && times >= 1 && Number.isInteger(points), `${rule}: ${times}, ${points}`);
  }
});

/** A visitor id that the 50 % challenger `url` takes (`inside`) or leaves to the champion. */
function visitorFor(url, inside) {
  for (;;) {
    const id = randomId();
    if (inShare(id + url, '50%') === inside) return id;
  }
}

/** Paths of the models requested since request number `from`. */
const modelRequests = (from = 0) =>
  server.requests.slice(from).filter((r) => r.path.startsWith('/models/')).map((r) => r.path);

test('challenger: assigned by the visitor id, kept across page loads, only the assigned model fetched', async () => {
  // The champion is the wholesale model, the challenger the SaaS one (so a PQL result tells which scored).
  const challenger = '/models/saas.bin';
  server.options.pages['/ab.html'] = page(
    `data-model="/models/wholesale.bin" data-challenger="${challenger}" data-challenger-share="50%"`);

  for (const inside of [true, false]) {
    const visitor = visitorFor(challenger, inside);
    const { context, page: p } = await newPage(browser);
    try {
      await p.addInitScript((record) => {
        if (!localStorage.getItem('leadscore:v2')) localStorage.setItem('leadscore:v2', record);
      }, JSON.stringify({ v: 2, visitor, state: '' }));
      for (let load = 0; load < 3; load++) {
        const from = server.requests.length;
        await p.goto(server.url + '/ab.html');
        await widgetReady(p);
        await sleep(100);
        assert.deepEqual(modelRequests(from), [inside ? challenger : '/models/wholesale.bin'], `load ${load}`);
        const stored = JSON.parse(await p.evaluate(() => localStorage.getItem('leadscore:v2')));
        assert.equal(stored.visitor, visitor);
      }
      if (inside) {
        await becomePql(p);
        await until(() => server.accepted.length >= 1, 'the challenger\'s result');
        assert.equal(server.accepted[0].model_id, 'acme-saas');
        assert.equal(server.accepted[0].visitor_id, visitor);
      }
      assert.deepEqual(p.errors, []);
    } finally {
      await context.close();
    }
  }

  // A new visitor: a fresh id decides, and the next loads keep it.
  const { context, page: p } = await newPage(browser);
  try {
    const fetched = [];
    for (let load = 0; load < 3; load++) {
      const from = server.requests.length;
      await p.goto(server.url + '/ab.html');
      await widgetReady(p);
      await sleep(100);
      fetched.push(...modelRequests(from));
    }
    assert.equal(fetched.length, 3);
    assert.equal(new Set(fetched).size, 1, fetched.join(' '));
    const { visitor } = JSON.parse(await p.evaluate(() => localStorage.getItem('leadscore:v2')));
    assert.equal(fetched[0], inShare(visitor + challenger, '50%') ? challenger : '/models/wholesale.bin');
  } finally {
    await context.close();
  }
});

test('challenger with consent required: nothing is read or fetched before consent, then the assigned model', async () => {
  const challenger = '/models/saas.bin';
  server.options.pages['/ab-consent.html'] = page(
    `data-model="/models/wholesale.bin" data-challenger="${challenger}" data-challenger-share="100%" data-consent="required"`);
  const { context, page: p } = await newPage(browser);
  try {
    // Every read of storage is counted.
    await p.addInitScript(() => {
      const getItem = Storage.prototype.getItem;
      window.storageReads = 0;
      Storage.prototype.getItem = function (...args) {
        window.storageReads++;
        return getItem.apply(this, args);
      };
    });
    await p.goto(server.url + '/ab-consent.html');
    await sleep(500);
    assert.deepEqual(modelRequests(), []);
    assert.equal(await p.evaluate(() => window.storageReads), 0);
    await p.evaluate(() => leadscore('consent', true));
    await widgetReady(p);
    assert.deepEqual(modelRequests(), [challenger]);
    await becomePql(p);
    await until(() => server.accepted.length >= 1, 'the result after consent');
    assert.equal(server.accepted[0].model_id, 'acme-saas');
    assert.deepEqual(p.errors, []);
    assert.deepEqual(widgetWarnings(p), []);
  } finally {
    await context.close();
  }
});
