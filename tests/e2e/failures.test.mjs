// The host page never breaks: a missing wasm, a wrong MIME type, an invalid or missing model,
// throwing storage, an offline backend, a strict CSP or a double load leave the widget inert
// or degraded with at most one console warning, and the page's own scripts and forms work.

import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './server.mjs';
import { launch, newPage, widgetReady, explain, until, sleep, widgetWarnings } from './browser.mjs';

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

/** Product events that make a visitor a PQL under the SaaS model. */
const becomePql = (page) =>
  page.evaluate(() => {
    leadscore('track', 'signup');
    leadscore('track', 'teammate_invited');
    leadscore('track', 'feature_used', { feature: 'report' });
    leadscore('track', 'feature_used', { feature: 'integration' });
  });

/** The host page's button and form still work, and the widget never threw into the page. */
async function assertHostWorks(page) {
  await page.click('#host-button');
  assert.equal(await page.textContent('#host-out'), 'host ok');
  await page.click('#host-form button');
  assert.match(await page.textContent('#host-out'), /^form ok/);
  const calls = await page.evaluate(() => {
    try {
      leadscore('track', 'signup');
      leadscore('identify', 'x');
      leadscore('explain');
      leadscore('no-such-command', 1, 2);
      return 'no throw';
    } catch (e) {
      return String(e);
    }
  });
  assert.equal(calls, 'no throw');
  assert.deepEqual(page.errors, []);
}

async function withPage(options, fn) {
  const { context, page } = await newPage(browser, options);
  try {
    await fn(page, context);
  } finally {
    await context.close();
  }
}

test('missing wasm: one warning, the page works, nothing is sent', () =>
  withPage({}, async (page) => {
    server.options.wasm = 'missing';
    await page.goto(server.url + '/fixtures/basic.html');
    await until(() => widgetWarnings(page).length > 0, 'the warning');
    await assertHostWorks(page);
    await sleep(300);
    assert.equal(widgetWarnings(page).length, 1);
    assert.match(widgetWarnings(page)[0], /leadscore_wasm_bg\.wasm: HTTP 404/);
    assert.equal(server.tierPosts.length, 0);
  }));

test('wasm served with the wrong MIME type still starts, without a warning', () =>
  withPage({}, async (page) => {
    server.options.wasm = 'wrong-mime';
    await page.goto(server.url + '/fixtures/basic.html');
    await widgetReady(page);
    await becomePql(page);
    await until(() => server.accepted.length === 1, 'the PQL result');
    assert.deepEqual(widgetWarnings(page), []);
    assert.deepEqual(page.warnings, []);
  }));

test('an invalid model prints every problem with its path, once, and stays inert', () =>
  withPage({}, async (page) => {
    await page.goto(server.url + '/fixtures/invalid-model.html');
    await until(() => widgetWarnings(page).length > 0, 'the warning');
    await assertHostWorks(page);
    await sleep(300);
    const warnings = widgetWarnings(page);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /the model is invalid/);
    assert.match(warnings[0], /rules\[0\]\.when\.page\.path: .*\/pricing\[/);
    assert.match(warnings[0], /rules\[1\]\.id: /);
    assert.match(warnings[0], /tiers\[0\]\.requires/);
    assert.match(warnings[0], /rules\[0\]\.wieght: unknown field/);
    assert.equal(await page.evaluate(() => leadscore('explain')), undefined);
    assert.equal(server.tierPosts.length, 0);
  }));

test('an inline model that is not JSON: one warning, the page works', () =>
  withPage({}, async (page) => {
    await page.goto(server.url + '/fixtures/broken-json.html');
    await until(() => widgetWarnings(page).length > 0, 'the warning');
    await assertHostWorks(page);
    await sleep(300);
    assert.equal(widgetWarnings(page).length, 1);
    assert.match(widgetWarnings(page)[0], /JSON/);
  }));

test('an unreachable model: one warning, the page works', () =>
  withPage({}, async (page) => {
    await page.goto(server.url + '/fixtures/missing-model.html');
    await until(() => widgetWarnings(page).length > 0, 'the warning');
    await assertHostWorks(page);
    assert.equal(widgetWarnings(page).length, 1);
    assert.match(widgetWarnings(page)[0], /does-not-exist\.json: HTTP 404/);
  }));

test('storage that throws on access: scoring works in memory, one warning', () =>
  withPage({}, async (page, context) => {
    await context.addInitScript(() => {
      Object.defineProperty(window, 'localStorage', {
        get() {
          throw new DOMException('The operation is insecure.', 'SecurityError');
        },
      });
    });
    await page.goto(server.url + '/fixtures/basic.html');
    await widgetReady(page);
    await becomePql(page);
    await until(() => server.accepted.length === 1, 'the PQL result');
    assert.equal((await explain(page)).tier, 'PQL');
    await assertHostWorks(page);
    assert.equal(widgetWarnings(page).length, 1);
    assert.match(widgetWarnings(page)[0], /storage/);
  }));

test('storage that throws on write (quota): falls back to memory, one warning', () =>
  withPage({}, async (page, context) => {
    await context.addInitScript(() => {
      Storage.prototype.setItem = function () {
        throw new DOMException('Quota exceeded', 'QuotaExceededError');
      };
    });
    await page.goto(server.url + '/fixtures/basic.html');
    await widgetReady(page);
    await becomePql(page);
    await until(() => server.accepted.length === 1, 'the PQL result');
    assert.equal((await explain(page)).tier, 'PQL');
    await assertHostWorks(page);
    assert.equal(widgetWarnings(page).length, 1);
  }));

test('offline backend: the result is kept and delivered on the next page load with the same id', () =>
  withPage({}, async (page) => {
    server.options.tierStatus = 503;
    await page.goto(server.url + '/fixtures/basic.html');
    await widgetReady(page);
    await becomePql(page);
    await until(() => server.tierPosts.length >= 1, 'the first attempt');
    await sleep(200);
    const stored = await page.evaluate(() => JSON.parse(localStorage.getItem('leadscore:v1')));
    assert.equal(stored.outbox.length, 1);
    assert.equal(stored.outbox[0].tier, 'PQL');
    assert.equal(stored.attempts, 1);
    const eventId = stored.outbox[0].event_id;
    assert.equal(server.accepted.length, 0);
    await assertHostWorks(page);
    assert.equal(widgetWarnings(page).length, 1);
    assert.match(widgetWarnings(page)[0], /could not be delivered/);

    server.options.tierStatus = 200;
    await page.reload();
    await widgetReady(page);
    await until(() => server.accepted.length === 1, 'the retried result');
    assert.equal(server.accepted[0].event_id, eventId);
    assert.ok(server.tierPosts.every((p) => p.event_id === eventId), 'every attempt carries the same id');
    await until(
      () => page.evaluate(() => !JSON.parse(localStorage.getItem('leadscore:v1')).outbox),
      'the outbox to empty',
    );
    await sleep(300);
    assert.equal(server.accepted.length, 1, 'delivered once');
  }));

test('a result the backend refuses (4xx) is dropped with one warning, not retried forever', () =>
  withPage({}, async (page) => {
    server.options.tierStatus = 422;
    await page.goto(server.url + '/fixtures/basic.html');
    await widgetReady(page);
    await becomePql(page);
    await until(() => server.tierPosts.length >= 1, 'the first attempt');
    await until(
      () => page.evaluate(() => !(JSON.parse(localStorage.getItem('leadscore:v1')).outbox || []).length),
      'the refused result to leave the outbox',
    );
    server.options.tierStatus = 200;
    await page.evaluate(() => window.dispatchEvent(new Event('online')));
    await sleep(500);
    assert.equal(server.tierPosts.length, 1, 'posted once, never retried');
    assert.equal(server.accepted.length, 0);
    assert.equal(widgetWarnings(page).length, 1);
    assert.match(widgetWarnings(page)[0], /refused/);
    await assertHostWorks(page);
  }));

test('offline backend: the result is retried when the browser comes back online', () =>
  withPage({}, async (page) => {
    server.options.tierStatus = 503;
    await page.goto(server.url + '/fixtures/basic.html');
    await widgetReady(page);
    await becomePql(page);
    await until(() => server.tierPosts.length >= 1, 'the first attempt');
    await sleep(200);
    server.options.tierStatus = 200;
    await page.evaluate(() => window.dispatchEvent(new Event('online')));
    await until(() => server.accepted.length === 1, 'the retried result');
    assert.equal(server.accepted[0].event_id, server.tierPosts[0].event_id);
  }));

test('a strict Content-Security-Policy without wasm: one warning, the page works', () =>
  withPage({}, async (page) => {
    server.options.csp = "default-src 'self'; script-src 'self' 'unsafe-inline'";
    await page.goto(server.url + '/fixtures/strict-csp.html');
    await until(() => widgetWarnings(page).length > 0, 'the warning');
    await assertHostWorks(page);
    await sleep(300);
    assert.equal(widgetWarnings(page).length, 1);
    assert.match(widgetWarnings(page)[0], /widget is off/);
  }));

test('loading the script twice is harmless: one widget, one result', () =>
  withPage({}, async (page) => {
    await page.goto(server.url + '/fixtures/double.html');
    await widgetReady(page);
    await becomePql(page);
    await until(() => server.accepted.length === 1, 'the PQL result');
    await sleep(500);
    assert.equal(server.tierPosts.length, 1);
    assert.equal((await explain(page)).contributions.find((c) => c.rule === 'trial-signup').times, 1);
    assert.deepEqual(widgetWarnings(page), []);
    assert.deepEqual(page.errors, []);
  }));
