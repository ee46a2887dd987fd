// The host-page fault suite: the widget on pages and deployments that work against it. Every case
// runs tests/e2e/fixtures/hostile.html with the host's own script before the widget's tag and
// after it, then checks that the page never saw an error, that the host's button, form and own
// code still work, that calling the widget never throws, and that the widget ended in the state
// the case requires: off with one warning saying why, or working with exactly the warnings
// listed, with nothing lost and nothing sent twice.
//
// Cases covered elsewhere, not repeated here: missing wasm, wrong MIME type, a missing, damaged,
// outdated or foreign compiled model, an invalid or broken JSON model, a CSP without
// 'wasm-unsafe-eval', localStorage throwing on access or over quota, a backend that is down
// (failures.test.mjs); a frozen History.prototype and the tag loaded twice (failures.test.mjs);
// corrupt stored state, hidden fields in forms inserted later, consent given after a while
// (widget.test.mjs).

import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { root } from './cli.mjs';
import { startServer } from './server.mjs';
import { launch, newPage, widgetReady, explain, until, sleep, widgetWarnings, assertHostWorks } from './browser.mjs';

const KEY = 'leadscore:v2';
const PAGE = '/fixtures/hostile.html';
const TAG = (attributes = '') =>
  `<script async src="/leadscore/leadscore.js" data-model="/models/saas.bin" data-endpoint="/v1/tier" data-field="leadscore_tier" ${attributes}></script>`;
const TEMPLATE = await fs.readFile(`${root}/tests/e2e/fixtures/hostile.html`, 'utf8');

/** The fixture with the case's scripts (functions or source text) before and after the tag. */
function hostPage({ before: first, tag, after: last }) {
  const script = (code) => (code ? `<script>(${code})();</script>` : '');
  let html = TEMPLATE.replace('<!--before-->', script(first)).replace('<!--after-->', script(last));
  if (tag != null) html = html.replace(/<!--tag-->.*<!--\/tag-->/, tag);
  return html;
}

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

const times = (score, rule) => score.contributions.find((c) => c.rule === rule)?.times ?? 0;
const stored = (page) => page.evaluate((key) => localStorage.getItem(key), KEY);
/** The stored record, read by Node's own JSON (the page's may be replaced). */
const record = async (page) => JSON.parse(await stored(page));

/** Product events that make a visitor a PQL under the SaaS model. */
const becomePql = (page) =>
  page.evaluate(() => {
    leadscore('track', 'signup');
    leadscore('track', 'teammate_invited');
    leadscore('track', 'feature_used', { feature: 'report' });
    leadscore('track', 'feature_used', { feature: 'integration' });
  });
/** A webinar registration (20 engagement points): a MQL. */
const becomeMql = (page) =>
  page.evaluate(() => document.getElementById('webinar').dispatchEvent(new Event('submit', { bubbles: true })));

/** The widget is off: nothing scored, stored or sent, fields left alone. */
async function assertOff(page) {
  await until(() => widgetWarnings(page).length > 0, 'the warning');
  await sleep(200);
  assert.equal(await page.evaluate(() => leadscore('explain')), undefined);
  assert.equal(await page.evaluate(() => localStorage.length), 0, 'nothing stored');
  assert.equal(await page.inputValue('#host-form input[name=leadscore_tier]'), '');
  assert.equal(server.tierPosts.length, 0);
}

/** The widget runs: a PQL is scored and delivered once. */
async function assertRuns(page) {
  await widgetReady(page);
  await becomePql(page);
  await until(() => server.accepted.length === 1, 'the PQL result');
  assert.equal((await explain(page)).tier, 'PQL');
  await sleep(200);
  assert.equal(server.tierPosts.length, 1, 'posted once');
}

/** Every result was accepted exactly once, nothing else was posted, and nothing waits. */
async function assertDeliveredOnce(page, tiers) {
  await until(() => server.accepted.length >= tiers.length, `${tiers.length} results`);
  await until(async () => !(await record(page)).outbox, 'the outbox to empty');
  await sleep(300);
  assert.deepEqual(server.accepted.map((p) => p.tier), tiers);
  const ids = server.accepted.map((p) => p.event_id);
  assert.equal(new Set(ids).size, ids.length, 'each result accepted once');
  assert.ok(server.tierPosts.every((p) => ids.includes(p.event_id)), 'every attempt carries an id of those results');
}

/** How a tag manager inserts a script: built by another script, attributes set one by one. */
function insertTag() {
  const s = document.createElement('script');
  s.src = '/leadscore/leadscore.js';
  s.async = true;
  for (const [k, v] of [['model', '/models/saas.bin'], ['endpoint', '/v1/tier'], ['field', 'leadscore_tier']]) {
    s.setAttribute('data-' + k, v);
  }
  (document.head || document.body).appendChild(s);
}

/** A page that loaded the widget once: one page view, one download counted per click. */
async function assertOneWidget(page) {
  await widgetReady(page);
  await page.click('#ebook');
  await until(async () => times(await explain(page), 'ebook-download') === 1, 'the download');
  await sleep(300);
  const score = await explain(page);
  assert.equal(score.visits, 1);
  assert.equal(times(score, 'ebook-download'), 1);
  assert.equal(server.requests.filter((r) => r.path === '/models/saas.bin').length, 1, 'the model fetched once');
}

/**
 * The cases. `before` / `after`: the host's script before the tag and at the end of the body;
 * `tag`: the tag, when not the usual one; `init`: runs before anything in every page of the
 * context; `routes`: [pattern, handler] for requests; `server`: the test server's behaviour;
 * `run`: drives the page and checks the widget's state; `host`: checked in the page, true when
 * the host's own code still does what it did; `warnings`: the widget's console warnings.
 */
const CASES = [
  // The deployment is broken.
  {
    name: 'a truncated kernel file: off with one warning',
    routes: [['**/leadscore_wasm_bg.wasm', async (route) => {
      const bytes = await fs.readFile(`${root}/pkg/leadscore_wasm_bg.wasm`);
      await route.fulfill({ body: bytes.subarray(0, bytes.length >> 1), contentType: 'application/wasm' });
    }]],
    run: assertOff,
    warnings: [/widget is off/],
  },

  // Storage is unusable, damaged or old.
  {
    name: 'localStorage throwing on every call: scoring in memory, one warning',
    init: () => {
      for (const method of ['getItem', 'setItem', 'removeItem', 'key', 'clear']) {
        Storage.prototype[method] = () => {
          throw new DOMException('The operation is insecure.', 'SecurityError');
        };
      }
    },
    run: assertRuns,
    warnings: [/storage is unavailable/],
  },
  {
    name: 'a huge stored record (2 MB): a fresh visitor, no warning, a small record again',
    before: () => {
      if (!sessionStorage.seeded) {
        sessionStorage.seeded = 1;
        localStorage.setItem('leadscore:v2', JSON.stringify({ v: 2, visitor: 'a'.repeat(32), state: 'AAAA'.repeat(1 << 19) }));
      }
    },
    async run(page) {
      await widgetReady(page);
      const r = await record(page);
      assert.notEqual(r.visitor, 'a'.repeat(32));
      assert.ok((await stored(page)).length < 8192);
      assert.equal((await explain(page)).visits, 1);
      await assertRuns(page);
    },
  },
  {
    name: 'records of an older version: a fresh visitor, no warning; forget erases them too',
    before: () => {
      if (!sessionStorage.seeded) {
        sessionStorage.seeded = 1;
        const old = { v: 1, visitor: 'b'.repeat(32), state: { visits: 3, rules: {} }, outbox: [] };
        localStorage.setItem('leadscore:v1', JSON.stringify(old));
        localStorage.setItem('leadscore:v2', JSON.stringify(old));
      }
    },
    async run(page) {
      await widgetReady(page);
      const r = await record(page);
      assert.equal(r.v, 2);
      assert.notEqual(r.visitor, 'b'.repeat(32));
      assert.equal((await explain(page)).visits, 1);
      await page.evaluate(() => leadscore('forget'));
      assert.deepEqual(await page.evaluate(() => Object.keys(localStorage)), []);
    },
  },

  // The backend or the network fails, then recovers: each result arrives exactly once.
  {
    name: 'backend answering 500, then recovering: each result arrives once, in order',
    server: { tierStatus: 500 },
    async run(page) {
      await widgetReady(page);
      await becomeMql(page);
      await until(() => server.tierPosts.length === 1, 'the failed MQL post');
      await becomePql(page);
      await sleep(200);
      assert.deepEqual((await record(page)).outbox.map((p) => p.tier), ['MQL', 'PQL']);
      server.options.tierStatus = 200;
      await page.evaluate(() => window.dispatchEvent(new Event('online')));
      await assertDeliveredOnce(page, ['MQL', 'PQL']);
    },
    warnings: [/could not be delivered/],
  },
  {
    name: 'backend that never answers: the post times out and is retried with the same id',
    server: { tierStatus: 'hang' },
    clock: true,
    async run(page) {
      await widgetReady(page);
      await becomePql(page);
      await until(() => server.held.length === 1, 'the hanging post');
      const id = server.tierPosts[0].event_id;
      server.options.tierStatus = 200;
      await page.clock.runFor(9_000);
      assert.equal(server.tierPosts.length, 1, 'still waiting for an answer');
      // At 10 s the post is aborted and counts as failed; the retry comes 2 s later.
      await page.clock.runFor(1_100);
      await until(async () => (await record(page)).attempts === 1, 'the post to time out');
      await page.clock.runFor(2_100);
      await until(() => server.accepted.length === 1, 'the retried result');
      assert.equal(server.accepted[0].event_id, id);
      await assertDeliveredOnce(page, ['PQL']);
    },
    warnings: [/could not be delivered/],
  },
  {
    name: 'the browser offline, then online: the result is sent once on reconnection',
    async run(page, context) {
      await widgetReady(page);
      await context.setOffline(true);
      await becomePql(page);
      await until(async () => (await record(page)).attempts === 1, 'the failed attempt');
      assert.equal(server.tierPosts.length, 0);
      await context.setOffline(false);
      await assertDeliveredOnce(page, ['PQL']);
    },
    warnings: [/could not be delivered/],
  },
  {
    name: 'tier results go cross-origin as a CORS-simple post: text/plain, no preflight',
    tag() {
      // The page is on 127.0.0.1, the endpoint on localhost: another origin.
      return TAG().replace('data-endpoint="/v1/tier"', `data-endpoint="${server.url.replace('127.0.0.1', 'localhost')}/v1/tier"`);
    },
    async run(page) {
      await assertRuns(page);
      const posts = server.requests.filter((r) => r.path === '/v1/tier');
      assert.deepEqual(posts.map((r) => r.method), ['POST'], 'no OPTIONS preflight');
      assert.equal(posts[0].headers['content-type'], 'text/plain;charset=UTF-8');
      assert.equal(posts[0].headers.origin, server.url, 'sent from the page on 127.0.0.1');
      assert.match(posts[0].headers.host, /^localhost:/, 'to localhost: another origin');
    },
  },

  // The tag arrives in other ways.
  {
    name: 'the tag with defer',
    tag: TAG('defer').replace(' async ', ' '),
    run: assertOneWidget,
  },
  {
    name: 'the tag three times: async, defer and inserted by a script',
    tag: TAG() + TAG('defer').replace(' async ', ' ') + `<script>(${insertTag})()</script>`,
    run: assertOneWidget,
  },
  {
    name: 'inserted by a tag manager before DOMContentLoaded',
    before: insertTag,
    tag: '',
    run: assertOneWidget,
  },
  {
    name: 'inserted by a tag manager after the page loaded, set up with init',
    tag: '',
    after: () => {
      window.addEventListener('load', () => setTimeout(() => {
        leadscore('init', { model: '/models/saas.bin', endpoint: '/v1/tier', field: 'leadscore_tier' });
        const s = document.createElement('script');
        s.src = '/leadscore/leadscore.js';
        document.body.appendChild(s);
      }, 300));
    },
    async run(page) {
      await assertOneWidget(page);
      assert.equal(await page.evaluate(() => document.readyState), 'complete');
    },
  },
  {
    name: 'consent required and never given: nothing stored or sent, across pages; then given',
    tag: TAG('data-consent="required"'),
    async run(page) {
      await widgetReady(page);
      await becomeMql(page);
      await becomePql(page);
      await page.evaluate(() => {
        history.pushState({}, '', '/pricing');
        document.dispatchEvent(new Event('visibilitychange'));
        window.dispatchEvent(new Event('pagehide'));
      });
      await page.goto(server.url + PAGE);
      await widgetReady(page);
      await becomePql(page);
      await sleep(300);
      assert.deepEqual(await page.evaluate(() => Object.keys(localStorage)), []);
      assert.equal(await page.evaluate(() => document.cookie), '');
      assert.equal(server.requests.filter((r) => r.path === '/v1/tier').length, 0);
      assert.equal(await page.evaluate(() => dataLayer.length), 0, 'no dataLayer push');
      assert.equal(await page.inputValue('#host-form input[name=leadscore_tier]'), '');
      await page.evaluate(() => leadscore('consent', true));
      await assertDeliveredOnce(page, ['PQL']);
      assert.equal(await page.inputValue('#host-form input[name=leadscore_tier]'), 'PQL');
    },
  },

  // The page rebuilds itself.
  {
    name: 'a single-page app replacing the whole body',
    async run(page) {
      await widgetReady(page);
      await page.evaluate(() => {
        const body = document.createElement('body');
        body.innerHTML = document.body.innerHTML.replace('Host page', 'App page').replace(/<script[^]*<\/script>/g, '');
        document.body.replaceWith(body);
        const host = document.createElement('script');
        host.src = '/fixtures/host.js';
        document.body.appendChild(host);
        history.pushState({}, '', '/pricing');
      });
      await page.waitForFunction(() => document.querySelector('h1').textContent === 'App page');
      await until(async () => (await page.inputValue('#host-form input[name=leadscore_tier]')) === 'unqualified',
        'the new hidden field');
      await page.click('#ebook');
      await until(async () => times(await explain(page), 'ebook-download') === 1, 'the download in the new body');
      assert.equal(times(await explain(page), 'pricing-page'), 1);
      await becomePql(page);
      assert.equal(await page.inputValue('#host-form input[name=leadscore_tier]'), 'PQL');
    },
  },
  {
    name: 'a form inserted seconds after load: its hidden field and its answers count',
    after: () => {
      setTimeout(() => {
        const form = document.createElement('form');
        form.id = 'late';
        form.innerHTML = '<select name="role"><option></option><option>cto</option></select>' +
          '<input type="hidden" name="leadscore_tier">';
        document.body.appendChild(form);
      }, 2000);
    },
    async run(page) {
      await widgetReady(page);
      await page.waitForSelector('#late', { state: 'attached', timeout: 5000 });
      await until(async () => (await page.inputValue('#late input')) === 'unqualified', 'the late hidden field');
      await page.selectOption('#late select', 'cto');
      assert.equal((await explain(page)).fit, 20);
    },
  },
  {
    name: 'a page with 10,000 links',
    after: () => {
      const list = document.createElement('div');
      for (let i = 0; i < 10000; i++) {
        const a = document.createElement('a');
        a.href = i === 9999 ? '/resources/lead-scoring-playbook.pdf' : '#link-' + i;
        if (i === 9999) a.download = '';
        a.textContent = 'link ' + i + ' ';
        a.id = 'link-' + i;
        list.appendChild(a);
      }
      document.body.appendChild(list);
    },
    async run(page) {
      await widgetReady(page);
      await page.evaluate(() => document.getElementById('link-9999').click());
      await page.evaluate(() => document.getElementById('link-5').click());
      await until(async () => times(await explain(page), 'ebook-download') === 1, 'the download');
      await assertRuns(page);
    },
  },

  // The page changed what the widget relies on.
  {
    name: 'history.pushState wrapped by the page before and after the widget',
    before: () => {
      window.routerLog = [];
      const push = history.pushState;
      history.pushState = function () {
        routerLog.push('router');
        return push.apply(this, arguments);
      };
    },
    async run(page) {
      await widgetReady(page);
      await page.evaluate(() => {
        const push = history.pushState;
        history.pushState = function () {
          routerLog.push('later script');
          return push.apply(this, arguments);
        };
        history.pushState({}, '', '/pricing');
        history.replaceState({}, '', '/pricing');
      });
      assert.equal(times(await explain(page), 'pricing-page'), 1);
      assert.deepEqual(await page.evaluate(() => routerLog), ['later script', 'router']);
    },
    host: () => location.pathname === '/pricing',
  },
  {
    name: 'fetch wrapped by the page (a monitoring script)',
    before: () => {
      window.fetchLog = [];
      const original = window.fetch;
      window.fetch = function (input, init) {
        fetchLog.push(((init && init.method) || 'GET') + ' ' + new URL(input.url || input, location.href).pathname);
        return original.apply(this, arguments);
      };
    },
    run: assertRuns,
    host: () => fetchLog.includes('GET /models/saas.bin') && fetchLog.includes('POST /v1/tier') &&
      !/native code/.test(window.fetch),
  },
  {
    name: 'JSON.parse and JSON.stringify replaced by the page: the visitor and the outbox survive',
    // The widget takes the browser's JSON from an empty frame, which a CSP forbidding frames allows.
    server: { tierStatus: 503, csp: "default-src 'self'; script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval'; frame-src 'none'" },
    before: () => {
      JSON.parse = () => ({ parsedByHost: true });
      JSON.stringify = () => '"host"';
    },
    run: survivesReload,
    host: () => JSON.parse('[1]').parsedByHost === true && JSON.stringify([1]) === '"host"',
    warnings: [/could not be delivered/, /could not be delivered/], // one per page while the backend is down
  },
  {
    name: 'Array built-ins changed as Prototype.js does: the visitor and the outbox survive',
    server: { tierStatus: 503 },
    before: () => {
      // Prototype.js 1.6: arrays serialise themselves to a string, Array.from is $A (no mapping
      // function), Enumerable methods are added (enumerable) and replace native ones.
      const proto = Array.prototype;
      const native = {};
      for (const name of ['map', 'filter', 'find', 'some', 'every', 'includes', 'forEach', 'indexOf', 'reduce', 'slice']) {
        native[name] = proto[name];
        proto[name] = function () {
          return native[name].apply(this, arguments);
        };
      }
      proto.toJSON = function () {
        return '[' + native.map.call(this, (x) => JSON.stringify(x)).join(', ') + ']';
      };
      proto.each = function (f) {
        native.forEach.call(this, f);
      };
      proto.entries = function () {
        return native.slice.call(this);
      };
      Array.from = function (iterable) {
        const out = [];
        for (let i = 0; i < iterable.length; i++) out.push(iterable[i]);
        return out;
      };
    },
    run: survivesReload,
    host: () => typeof [].toJSON === 'function' && Array.from('ab', (c) => c + c).join() === 'a,b',
    warnings: [/could not be delivered/, /could not be delivered/],
  },
];

/**
 * Scores, reloads and scores again with the backend down: one visitor throughout, the state kept,
 * the stored record valid JSON whose outbox is an array; then the backend recovers and the
 * waiting result goes out once, as valid JSON.
 */
async function survivesReload(page) {
  await widgetReady(page);
  await page.evaluate(() => leadscore('track', 'signup'));
  const first = await record(page);
  await page.reload();
  await widgetReady(page);
  assert.equal(times(await explain(page), 'trial-signup'), 1, 'the score survives the reload');
  await becomePql(page);
  await until(() => server.tierPosts.length >= 1, 'the failed post');
  await sleep(200);
  const r = await record(page);
  assert.equal(r.visitor, first.visitor);
  assert.ok(Array.isArray(r.outbox), `the outbox is an array: ${JSON.stringify(r.outbox)}`);
  assert.match(r.outbox[0].event_id, /^[0-9a-f]{32}$/);
  const posted = server.tierPosts.length;
  await page.reload();
  await widgetReady(page);
  assert.equal((await record(page)).visitor, first.visitor);
  // The reloaded page retries at once, and fails again (its own warning), before the backend is back.
  await until(() => server.tierPosts.length > posted, 'the retry on load');
  await until(async () => (await record(page)).attempts >= 2, 'the failed retry');
  server.options.tierStatus = 200;
  await page.evaluate(() => window.dispatchEvent(new Event('online')));
  await assertDeliveredOnce(page, ['PQL']);
  assert.equal(server.accepted[0].visitor_id, first.visitor);
  await page.evaluate(() => history.pushState({}, '', '/pricing'));
  assert.equal(times(await explain(page), 'pricing-page'), 1, 'single-page-app navigation still counts');
}

for (const c of CASES) {
  test(c.name, async () => {
    Object.assign(server.options, c.server);
    const { context, page } = await newPage(browser);
    try {
      if (c.init) await context.addInitScript(c.init);
      const tag = typeof c.tag == 'function' ? await c.tag() : c.tag;
      server.options.pages[PAGE] = hostPage({ ...c, tag });
      for (const [pattern, handler] of c.routes || []) await context.route(pattern, handler);
      if (c.clock) await page.clock.install();
      await page.goto(server.url + PAGE);
      await c.run(page, context);
      await assertHostWorks(page);
      if (c.host) assert.equal(await page.evaluate(c.host), true, "the host's own code still works");
      assert.deepEqual(page.errors, []);
      const warnings = widgetWarnings(page);
      assert.equal(warnings.length, (c.warnings || []).length, warnings.join('\n'));
      (c.warnings || []).forEach((pattern, i) => assert.match(warnings[i], pattern));
    } finally {
      await context.close();
    }
  });
}
