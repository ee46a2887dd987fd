// The demo site's journey, quiz → pricing → blog → download → demo request → product usage,
// produces exactly the expected tier changes, each posted once, with hidden fields, dataLayer,
// the DOM event and callbacks filled; and nothing but the tier payload ever leaves the page.

import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './server.mjs';
import { launch, newPage, widgetReady, explain, until, sleep, widgetWarnings } from './browser.mjs';

const PAYLOAD_FIELDS = ['at', 'event_id', 'model_id', 'model_version', 'previous_tier', 'schema', 'tier', 'visitor_id'];
const HEX32 = /^[0-9a-f]{32}$/;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const EMAIL = 'jane.doe@example.com';

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

/** Walks the demo site like a prospect; returns what the test needs to check along the way. */
async function walk(page) {
  const seen = {};
  // The page confirms a delivery when the backend answers; wait for that before leaving, as a
  // visitor reading the page would (an unconfirmed result is sent again, with the same id).
  const delivered = (n) =>
    until(async () => server.accepted.length >= n &&
      (await page.evaluate(() => !JSON.parse(localStorage.getItem('leadscore:v2')).outbox)), `result ${n}`);
  const go = async (path) => {
    await page.goto(server.url + path);
    await widgetReady(page);
  };

  await go('/');
  await go('/quiz/');
  await page.selectOption('select[name=role]', 'cto');
  await page.fill('input[name=company_size]', '200');
  await page.check('input[name=timeline][value=this-quarter]');
  await page.fill('input[name=email]', EMAIL);
  await page.click('#fit-quiz button[type=submit]');
  await page.waitForSelector('#quiz-result:not([hidden])');
  seen.afterQuiz = await explain(page);

  await go('/pricing/');
  await go('/blog/scoring-without-cookies/');
  seen.beforeDownload = await explain(page);

  await go('/resources/');
  assert.equal(await page.inputValue('#webinar input[name=leadscore_tier]'), 'unqualified');
  const download = page.waitForEvent('download');
  await page.click('#download-buyers-guide');
  await download;
  await delivered(1);
  seen.dataLayer = await page.evaluate(() => window.dataLayer.filter((e) => e.event === 'leadscore_tier'));
  seen.webinarField = await page.inputValue('#webinar input[name=leadscore_tier]');

  await go('/demo/');
  seen.demoFieldOnLoad = await page.inputValue('#demo-request input[name=leadscore_tier]');
  await page.fill('input[name=name]', 'Jane Doe');
  await page.fill('#demo-request input[name=email]', EMAIL);
  await page.fill('input[name=company]', 'Acme Corp');
  await page.click('#demo-request button[type=submit]');
  await page.waitForSelector('#demo-thanks:not([hidden])');
  seen.demoRequest = await page.evaluate(() => window.lastDemoRequest);
  await delivered(2);

  await go('/app/');
  await page.evaluate(() => {
    window.tierEvents = [];
    document.addEventListener('leadscore:tier', (e) => window.tierEvents.push(e.detail));
  });
  for (const id of ['#signup', '#invite', '#report', '#integration']) await page.click(id);
  await delivered(3);
  await page.waitForSelector('#toast:not([hidden])');
  seen.toast = await page.textContent('#toast');
  seen.tierEvents = await page.evaluate(() => window.tierEvents);
  seen.final = await explain(page);
  seen.storage = await page.evaluate(() => Object.keys(localStorage).map((k) => [k, localStorage.getItem(k)]));
  seen.cookies = await page.evaluate(() => document.cookie);
  // Anything else that would be posted arrives now or never.
  await sleep(1000);
  return seen;
}

test('the demo journey produces MQL, then SQL, then PQL, each posted exactly once', async () => {
  const { context, page } = await newPage(browser);
  try {
    const seen = await walk(page);

    assert.equal(seen.afterQuiz.tier, 'unqualified');
    assert.equal(seen.afterQuiz.fit, 35, 'cto (20) + 200 employees (15)');
    assert.equal(seen.beforeDownload.tier, 'unqualified');

    const posts = server.tierPosts;
    assert.deepEqual(posts.map((p) => [p.previous_tier, p.tier]), [
      ['unqualified', 'MQL'],
      ['MQL', 'SQL'],
      ['SQL', 'PQL'],
    ]);
    assert.equal(new Set(posts.map((p) => p.event_id)).size, 3, 'one idempotency id per change');
    for (const p of posts) {
      assert.deepEqual(Object.keys(p).sort(), PAYLOAD_FIELDS);
      assert.equal(p.schema, 1);
      assert.equal(p.model_id, 'acme-saas');
      assert.equal(p.model_version, '2026-11-01');
      assert.match(p.visitor_id, HEX32);
      assert.match(p.event_id, HEX32);
      assert.match(p.at, ISO_UTC);
      assert.ok(Math.abs(Date.parse(p.at) - Date.now()) < 120_000);
    }
    assert.equal(new Set(posts.map((p) => p.visitor_id)).size, 1, 'one visitor across pages');

    assert.deepEqual(seen.dataLayer, [{ event: 'leadscore_tier', tier: 'MQL', previous_tier: 'unqualified' }]);
    assert.equal(seen.webinarField, 'MQL');
    assert.equal(seen.demoFieldOnLoad, 'MQL');
    assert.equal(seen.demoRequest.leadscore_tier, 'SQL', 'the submitted form carries the tier it produced');
    assert.equal(seen.demoRequest.email, EMAIL);
    assert.deepEqual(seen.tierEvents, [{ tier: 'PQL', previous_tier: 'SQL' }]);
    assert.match(seen.toast, /You are now PQL/);
    assert.equal(seen.final.tier, 'PQL');
    assert.ok(seen.final.contributions.some((c) => c.rule === 'demo-request'));
    assert.deepEqual(widgetWarnings(page), []);
    assert.deepEqual(page.errors, []);
  } finally {
    await context.close();
  }
});

test('nothing but the tier payload leaves the page', async () => {
  const { context, page } = await newPage(browser);
  const outgoing = [];
  // Every request the page makes, as the browser sends it (documents, assets, fetches, beacons).
  context.on('request', (req) => outgoing.push(req));
  try {
    const seen = await walk(page);
    assert.ok(outgoing.length > 20);
    const tierBodies = [];
    for (const req of outgoing) {
      const url = new URL(req.url());
      assert.equal(url.origin, server.url, `request to another origin: ${req.url()}`);
      assert.equal(url.search, '', `query string sent: ${req.url()}`);
      const headers = await req.allHeaders();
      if (req.method() === 'GET') {
        assert.equal(req.postData(), null);
        continue;
      }
      assert.equal(req.method(), 'POST', `unexpected ${req.method()} ${req.url()}`);
      assert.equal(url.pathname, '/v1/tier', `POST to ${url.pathname}`);
      assert.equal(headers.cookie, undefined, 'no cookies with tier results');
      assert.equal(headers.referer, undefined, 'no page URL with tier results');
      const body = JSON.parse(req.postData());
      assert.deepEqual(Object.keys(body).sort(), PAYLOAD_FIELDS);
      tierBodies.push(body);
    }
    assert.equal(tierBodies.length, 3);
    // The server received exactly what the browser sent, and nothing else reached it.
    assert.deepEqual(server.tierPosts, tierBodies);
    assert.ok(server.requests.every((r) => r.method === 'GET' || r.path === '/v1/tier'));
    const everything = JSON.stringify(server.requests.map((r) => [r.path, r.search, r.body, r.headers]));
    for (const secret of [EMAIL, 'Jane Doe', 'Acme Corp', 'this-quarter', 'company_size']) {
      assert.ok(!everything.includes(secret), `${secret} left the page`);
    }
    // What stays behind: one versioned key, no cookies, no answers in clear text.
    assert.equal(seen.cookies, '');
    assert.deepEqual(seen.storage.map(([k]) => k), ['leadscore:v2']);
    assert.ok(!seen.storage[0][1].includes(EMAIL));
    assert.ok(seen.storage[0][1].length < 8192, 'the stored state stays small');
  } finally {
    await context.close();
  }
});

test('every page of the demo site loads the widget without a warning or an error', async () => {
  const { context, page } = await newPage(browser);
  try {
    const pages = ['/', '/pricing/', '/resources/', '/docs/', '/docs/getting-started/', '/docs/model/',
      '/blog/scoring-without-cookies/', '/careers/', '/quiz/', '/demo/', '/app/'];
    for (const path of pages) {
      const response = await page.goto(server.url + path);
      assert.equal(response.status(), 200, path);
      await widgetReady(page);
    }
    for (const pdf of ['/resources/buyers-guide.pdf', '/resources/lead-scoring-playbook.pdf']) {
      const res = await fetch(server.url + pdf);
      assert.equal(res.status, 200);
      assert.match(Buffer.from(await res.arrayBuffer()).subarray(0, 8).toString(), /^%PDF-1\./);
    }
    const score = await explain(page);
    assert.ok(score.contributions.some((c) => c.rule === 'careers-page'), 'the careers page counts against fit');
    assert.deepEqual(page.warnings, []);
    assert.deepEqual(page.errors, []);
  } finally {
    await context.close();
  }
});
