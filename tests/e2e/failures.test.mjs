// The host page never breaks: a missing wasm, a wrong MIME type, an invalid, missing, damaged
// or foreign model, throwing storage, an offline backend, a strict CSP, a kernel that traps, a
// frozen History or a double load leave the widget off or degraded with at most one console
// warning, and the page's own scripts and forms work. A JSON model works, with one note.

import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { root } from './cli.mjs';
import { startServer } from './server.mjs';
import { launch, newPage, widgetReady, explain, until, sleep, widgetWarnings, assertHostWorks } from './browser.mjs';

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
    assert.match(warnings[0], /^leadscore: the model is invalid, so the widget is off:\n {2}/);
    assert.match(warnings[0], /\n {2}rules\[0\]\.when\.page\.path: .*\/pricing\[/);
    assert.match(warnings[0], /\n {2}rules\[1\]\.id: duplicate rule id "pricing"/);
    assert.match(warnings[0], /\n {2}tiers\[0\]\.requires\[0\]: unknown rule "no-such-rule"/);
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
    assert.match(widgetWarnings(page)[0], /\/models\/does-not-exist\.bin: HTTP 404/);
    assert.ok(!server.requests.some((r) => /leadscore[-_]debug/.test(r.path)), 'a compiled model needs no debug bundle');
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
    const stored = await page.evaluate(() => JSON.parse(localStorage.getItem('leadscore:v2')));
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
      () => page.evaluate(() => !JSON.parse(localStorage.getItem('leadscore:v2')).outbox),
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
      () => page.evaluate(() => !(JSON.parse(localStorage.getItem('leadscore:v2')).outbox || []).length),
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

/** The compiled example model as the build wrote it. */
const compiledModel = () => fs.readFile(`${root}/pkg/models/saas.bin`);

test('a damaged, outdated or foreign compiled model: one warning saying why, the page works, nothing is sent', async () => {
  const model = await compiledModel();
  const damaged = Buffer.from(model);
  damaged[damaged.length >> 1] ^= 0xff;
  const outdated = Buffer.from(model);
  outdated.writeUInt16LE(outdated.readUInt16LE(4) + 1, 4); // the format version
  const foreign = await fs.readFile(`${root}/www/favicon.svg`);
  for (const [body, why] of [[damaged, 'damaged'], [outdated, 'compiled for another format version'],
    [foreign, 'not a compiled leadscore model']]) {
    await withPage({}, async (page, context) => {
      await context.route('**/models/saas.bin', (route) => route.fulfill({ body, contentType: 'application/octet-stream' }));
      await page.goto(server.url + '/fixtures/basic.html');
      await until(() => widgetWarnings(page).length > 0, 'the warning');
      await assertHostWorks(page);
      await sleep(300);
      assert.deepEqual(widgetWarnings(page), [
        `leadscore: the compiled model /models/saas.bin is not usable: ${why} (the widget is off)`,
      ]);
      assert.equal(await page.evaluate(() => leadscore('explain')), undefined);
      assert.equal(await page.evaluate(() => localStorage.length), 0, 'nothing stored');
      assert.equal(await page.inputValue('input[name=leadscore_tier]'), '', 'fields left alone');
      assert.equal(server.tierPosts.length, 0);
    });
  }
});

test('a JSON model is compiled in the page by the debug bundle: it works, with one note and no warning', () =>
  withPage({}, async (page) => {
    const infos = [];
    page.on('console', (msg) => msg.type() === 'info' && msg.text().startsWith('leadscore:') && infos.push(msg.text()));
    await page.goto(server.url + '/fixtures/json-model.html');
    await widgetReady(page);
    await becomePql(page);
    await until(() => server.accepted.length === 1, 'the PQL result');
    assert.equal(server.accepted[0].model_id, 'acme-saas');
    assert.equal((await explain(page)).tier, 'PQL');
    assert.equal(infos.length, 1, infos.join('\n'));
    assert.match(infos[0], /leadscore build/);
    assert.deepEqual(widgetWarnings(page), []);
    assert.deepEqual(page.errors, []);
    const paths = server.requests.map((r) => r.path);
    for (const file of ['leadscore-debug.js', 'leadscore_debug.js', 'leadscore_debug_bg.wasm', 'leadscore_wasm_bg.wasm']) {
      assert.ok(paths.includes('/leadscore/' + file), file);
    }
  }));

test('a kernel that traps switches the whole widget off with one warning; the page works', () =>
  withPage({}, async (page, context) => {
    // The kernel's glue, with `apply` trapping on demand (the real glue is imported with ?real).
    const glue = '/leadscore/leadscore_wasm.js';
    await context.route((url) => url.pathname === glue && url.search === '', (route) => route.fulfill({
      contentType: 'text/javascript',
      body: `import init, * as real from '${glue}?real';
        export * from '${glue}?real';
        export default init;
        export function apply(event, now) {
          if (window.trapKernel) throw new WebAssembly.RuntimeError('unreachable');
          return real.apply(event, now);
        }`,
    }));
    await page.goto(server.url + '/fixtures/basic.html');
    await widgetReady(page);
    await page.evaluate(() => leadscore('track', 'signup'));
    const before = await page.evaluate(() => localStorage.getItem('leadscore:v2'));
    assert.ok(before);

    await page.evaluate(() => {
      window.trapKernel = true;
      leadscore('track', 'teammate_invited');
    });
    await until(() => widgetWarnings(page).length > 0, 'the warning');
    assert.match(widgetWarnings(page)[0], /^leadscore: internal error \(RuntimeError: unreachable\), so the widget is off$/);
    await page.evaluate(() => {
      window.trapKernel = false;
      history.pushState({}, '', '/pricing');
      document.dispatchEvent(new Event('visibilitychange'));
      window.dispatchEvent(new Event('pagehide'));
      window.dispatchEvent(new Event('online'));
    });
    await becomePql(page);
    await assertHostWorks(page);
    await sleep(300);
    assert.equal(await page.evaluate(() => leadscore('explain')), undefined);
    assert.equal(await page.evaluate(() => localStorage.getItem('leadscore:v2')), before, 'nothing stored after');
    assert.equal(server.tierPosts.length, 0);
    assert.equal(widgetWarnings(page).length, 1);
  }));

test('a frozen History.prototype only loses single-page-app tracking', () =>
  withPage({}, async (page, context) => {
    await context.addInitScript(() => Object.freeze(History.prototype));
    await page.goto(server.url + '/fixtures/basic.html');
    await widgetReady(page);
    assert.ok((await explain(page)).visits >= 1, 'the first page view is scored');
    const path = await page.evaluate(() => {
      history.pushState({}, '', '/pricing');
      return location.pathname;
    });
    assert.equal(path, '/pricing', "the host's own navigation works");
    await page.evaluate(() => leadscore('page'));
    const score = await explain(page);
    assert.equal(score.contributions.find((c) => c.rule === 'pricing-page')?.times, 1, "the 'page' command still counts");
    await page.evaluate(() => leadscore('track', 'signup'));
    assert.ok(await page.evaluate(() => localStorage.getItem('leadscore:v2')));
    await page.evaluate(() => leadscore('forget'));
    assert.equal(await page.evaluate(() => localStorage.getItem('leadscore:v2')), null, 'forget still erases');
    await assertHostWorks(page);
    assert.deepEqual(widgetWarnings(page), []);
  }));
