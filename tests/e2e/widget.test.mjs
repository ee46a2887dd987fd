// What the widget does in a page: consent, privacy signals, forget, identify and the pre-load
// queue, opt-in scores, single-page-app navigation, hidden fields in forms inserted later,
// downloads, persistence, and the debug panel.

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

const becomePql = (page) =>
  page.evaluate(() => {
    leadscore('track', 'signup');
    leadscore('track', 'teammate_invited');
    leadscore('track', 'feature_used', { feature: 'report' });
    leadscore('track', 'feature_used', { feature: 'integration' });
  });
const stored = (page) => page.evaluate(() => localStorage.getItem('leadscore:v1'));
const times = (score, rule) => score.contributions.find((c) => c.rule === rule)?.times ?? 0;

async function withPage(options, fn, { warnings = 0 } = {}) {
  const { context, page } = await newPage(browser, options);
  try {
    await fn(page, context);
    assert.deepEqual(page.errors, []);
    assert.equal(widgetWarnings(page).length, warnings, widgetWarnings(page).join('\n'));
  } finally {
    await context.close();
  }
}

test('consent required: nothing is stored or sent until consent, then the result is sent', () =>
  withPage({}, async (page) => {
    await page.goto(server.url + '/fixtures/consent.html');
    await widgetReady(page);
    await becomePql(page);
    await sleep(500);
    assert.equal(server.tierPosts.length, 0);
    assert.equal(await stored(page), null);
    assert.equal(await page.inputValue('input[name=leadscore_tier]'), '');

    await page.evaluate(() => leadscore('consent', true));
    await until(() => server.accepted.length === 1, 'the PQL result');
    assert.equal(server.accepted[0].tier, 'PQL');
    assert.ok(await stored(page));
    assert.equal(await page.inputValue('input[name=leadscore_tier]'), 'PQL');

    await page.evaluate(() => leadscore('consent', false));
    assert.equal(await stored(page), null, 'withdrawing consent erases the record');
  }));

test('Global Privacy Control stops sending (scoring stays local) unless the site says otherwise', async () => {
  const gpc = () => Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true });
  await withPage({}, async (page, context) => {
    await context.addInitScript(gpc);
    await page.goto(server.url + '/fixtures/basic.html');
    await widgetReady(page);
    await becomePql(page);
    await sleep(500);
    assert.equal((await explain(page)).tier, 'PQL');
    assert.equal(await page.inputValue('input[name=leadscore_tier]'), 'PQL');
    assert.equal(server.tierPosts.length, 0);
    const pushed = await page.evaluate(() => window.dataLayer.filter((e) => e.event === 'leadscore_tier').length);
    assert.equal(pushed, 0, 'no dataLayer push under Global Privacy Control');
  });
  await withPage({}, async (page, context) => {
    await context.addInitScript(gpc);
    await page.goto(server.url + '/fixtures/ignore-gpc.html');
    await widgetReady(page);
    await becomePql(page);
    await until(() => server.accepted.length === 1, 'the PQL result');
    const pushed = await page.evaluate(() => window.dataLayer.filter((e) => e.event === 'leadscore_tier').length);
    assert.ok(pushed >= 1, 'the site that ignores the signals gets its dataLayer push');
  });
});

test('forget erases what was stored and keeps the widget quiet for the page', () =>
  withPage({}, async (page) => {
    await page.goto(server.url + '/fixtures/basic.html');
    await widgetReady(page);
    await page.evaluate(() => leadscore('track', 'signup'));
    assert.ok(await stored(page));
    await page.evaluate(() => leadscore('forget'));
    assert.equal(await stored(page), null);
    await becomePql(page);
    await sleep(300);
    assert.equal(await stored(page), null);
    assert.equal(server.tierPosts.length, 0);
    assert.deepEqual(await page.evaluate(() => Object.keys(localStorage)), []);
  }));

test('calls queued before the script loads are replayed; init and identify give the lead id', () =>
  withPage({}, async (page) => {
    await page.goto(server.url + '/fixtures/init.html');
    await widgetReady(page);
    assert.equal(times(await explain(page), 'trial-signup'), 1, 'the queued track call counted');
    await page.evaluate(() => {
      leadscore('track', 'teammate_invited');
      leadscore('track', 'feature_used', { feature: 'report' });
      leadscore('track', 'feature_used', { feature: 'automation' });
    });
    await until(() => server.accepted.length === 1, 'the PQL result');
    assert.equal(server.accepted[0].lead_id, 'crm-42');
  }));

test('sub-scores are sent only when the site opts in', () =>
  withPage({}, async (page) => {
    await page.goto(server.url + '/fixtures/scores.html');
    await widgetReady(page);
    await becomePql(page);
    await until(() => server.accepted.length === 1, 'the PQL result');
    const { scores } = server.accepted[0];
    assert.deepEqual(Object.keys(scores).sort(), ['engagement', 'fit', 'intent', 'product', 'total']);
    // The model's PQL tier needs at least 35 product points.
    assert.ok(scores.product >= 35, `product ${scores.product}`);
  }));

test('single-page-app navigation counts page views; same-page history updates do not', () =>
  withPage({}, async (page) => {
    await page.goto(server.url + '/fixtures/basic.html');
    await widgetReady(page);
    await page.evaluate(() => history.pushState({}, '', '/pricing'));
    assert.equal(times(await explain(page), 'pricing-page'), 1);
    await page.evaluate(() => history.replaceState({ scroll: 1 }, '', '/pricing'));
    assert.equal(times(await explain(page), 'pricing-page'), 1);
    await page.evaluate(() => history.pushState({}, '', '/blog/hello'));
    await page.goBack();
    await until(async () => times(await explain(page), 'pricing-page') === 2, 'popstate back to /pricing');
    assert.equal(times(await explain(page), 'blog-visit'), 1);
  }));

test('hidden fields in forms inserted later get the tier, with input and change events', () =>
  withPage({}, async (page) => {
    await page.goto(server.url + '/fixtures/basic.html');
    await widgetReady(page);
    await page.evaluate(() => {
      window.fieldEvents = [];
      const form = document.createElement('form');
      form.innerHTML = '<input type="hidden" name="leadscore_tier" id="late">';
      form.addEventListener('input', (e) => window.fieldEvents.push('input:' + e.target.value));
      form.addEventListener('change', (e) => window.fieldEvents.push('change:' + e.target.value));
      document.body.appendChild(form);
    });
    await until(() => page.evaluate(() => document.getElementById('late').value === 'unqualified'), 'the late field');
    await becomePql(page);
    assert.equal(await page.inputValue('#late'), 'PQL');
    assert.deepEqual(await page.evaluate(() => window.fieldEvents), [
      'input:unqualified', 'change:unqualified', 'input:PQL', 'change:PQL',
    ]);
  }));

test('downloads: links matching the model or marked by the page count, other links do not', () =>
  withPage({}, async (page) => {
    await page.goto(server.url + '/fixtures/downloads.html');
    await widgetReady(page);
    await page.click('#plain');
    const download = page.waitForEvent('download');
    await page.click('#ebook');
    await download;
    assert.equal(times(await explain(page), 'ebook-download'), 1);
  }));

test('quiz answers: only referenced fields are read, changed answers move the points', () =>
  withPage({}, async (page) => {
    await page.goto(server.url + '/quiz/');
    await widgetReady(page);
    await page.selectOption('select[name=role]', 'student');
    assert.equal((await explain(page)).fit, -30);
    await page.selectOption('select[name=role]', 'founder');
    const score = await explain(page);
    assert.equal(score.fit, 20);
    assert.equal(times(score, 'role-student'), 0);
  }));

test('the score survives a reload; corrupt stored state starts fresh without a warning', () =>
  withPage({}, async (page) => {
    await page.goto(server.url + '/fixtures/basic.html');
    await widgetReady(page);
    await page.evaluate(() => leadscore('track', 'signup'));
    await page.reload();
    await widgetReady(page);
    assert.equal(times(await explain(page), 'trial-signup'), 1);
    const before = JSON.parse(await stored(page));

    await page.evaluate(() => localStorage.setItem('leadscore:v1', '{"v":1,"visitor":"x","state":{"v":99}}'));
    await page.reload();
    await widgetReady(page);
    assert.equal(times(await explain(page), 'trial-signup'), 0);
    const after = JSON.parse(await stored(page));
    assert.notEqual(after.visitor, before.visitor);
    assert.match(after.visitor, /^[0-9a-f]{32}$/);
    assert.deepEqual(widgetWarnings(page), []);
  }));

test('debug panel: a shadow root shows the tier live, untouched by the host CSS', () =>
  withPage({}, async (page) => {
    await page.goto(server.url + '/fixtures/debug.html');
    await widgetReady(page);
    const panel = () =>
      page.evaluate(() => {
        const root = document.getElementById('leadscore-debug').shadowRoot;
        const box = root.querySelector('div');
        return { text: box.textContent, fontSize: getComputedStyle(box).fontSize };
      });
    assert.match((await panel()).text, /unqualified/);
    await becomePql(page);
    const { text, fontSize } = await panel();
    assert.match(text, /PQL/);
    assert.match(text, /trial-signup product \+20/);
    assert.equal(fontSize, '12px');
  }));

test('the npm ES module (pkg/) works without the shim', () =>
  withPage({}, async (page) => {
    await page.goto(server.url + '/fixtures/esm.html');
    await page.waitForFunction(() => window.esm);
    await page.evaluate(() => {
      esm.track('signup');
      esm.track('teammate_invited');
      esm.track('feature_used', { feature: 'report' });
      esm.track('feature_used', { feature: 'integration' });
    });
    await until(() => server.accepted.length === 1, 'the PQL result');
    assert.deepEqual(await page.evaluate(() => window.changes), [{ tier: 'PQL', previous_tier: 'unqualified' }]);
    assert.equal(await page.inputValue('#tier'), 'PQL');
    assert.equal(await page.evaluate(() => esm.explain().tier), 'PQL');
  }));

test('when the page is hidden: visible time becomes engagement, new results go by sendBeacon', () =>
  withPage({}, async (page) => {
    await page.goto(server.url + '/fixtures/basic.html');
    await widgetReady(page);
    await sleep(1200);
    await page.evaluate(() => {
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    // A tier change while hidden (an app sending events from the background).
    await becomePql(page);
    await until(() => server.accepted.length === 1, 'the beacon');
    const beacon = server.requests.find((r) => r.path === '/v1/tier');
    assert.match(beacon.headers['content-type'], /^text\/plain/, 'sendBeacon sends a string as text/plain');
    assert.deepEqual(Object.keys(server.accepted[0]).sort(), [
      'at', 'event_id', 'model_id', 'model_version', 'previous_tier', 'schema', 'tier', 'visitor_id',
    ]);
    const record = JSON.parse(await stored(page));
    assert.equal(record.outbox, undefined, 'a queued beacon counts as handed over');
    assert.ok(record.state.seconds >= 1, `visible seconds: ${record.state.seconds}`);
  }));

test('results the backend refused are not trusted to a beacon when the page is left', () =>
  withPage({}, async (page) => {
    server.options.tierStatus = 503;
    await page.goto(server.url + '/fixtures/basic.html');
    await widgetReady(page);
    await becomePql(page);
    await until(() => server.tierPosts.length >= 1, 'the failed attempt');
    await sleep(200);
    const attempts = server.tierPosts.length;
    await page.goto(server.url + '/fixtures/downloads.html'); // pagehide, then a new page: still 503
    await widgetReady(page);
    await until(() => server.tierPosts.length === attempts + 1, 'the retry on the next page');
    await sleep(300);
    assert.equal(server.tierPosts.length, attempts + 1, 'no beacon on the way out, one retry on load');
    const record = JSON.parse(await stored(page));
    assert.equal(record.outbox.length, 1, 'still kept');
    assert.equal(record.outbox[0].event_id, server.tierPosts[0].event_id);
  }, { warnings: 2 })); // one per page: the backend is down on both

test('?leadscore_debug=1 shows the panel on any page', () =>
  withPage({}, async (page) => {
    await page.goto(server.url + '/pricing/?leadscore_debug=1');
    await widgetReady(page);
    const text = await page.evaluate(() => document.getElementById('leadscore-debug').shadowRoot.textContent);
    assert.match(text, /pricing-page intent \+10/);
  }));

test('two tabs of the site add up instead of overwriting each other', () =>
  withPage({}, async (first, context) => {
    await first.goto(server.url + '/fixtures/basic.html');
    await widgetReady(first);
    const second = await context.newPage();
    await second.goto(server.url + '/fixtures/downloads.html');
    await widgetReady(second);
    await first.evaluate(() => leadscore('track', 'signup'));
    await second.evaluate(() => leadscore('track', 'teammate_invited'));
    await first.evaluate(() => leadscore('track', 'feature_used', { feature: 'report' }));
    await second.evaluate(() => leadscore('track', 'feature_used', { feature: 'automation' }));
    // Each tab learns of the other's writes through the asynchronous `storage` event: wait for
    // it. A write that overwrote the other tab's events would never satisfy this.
    const rules = ['trial-signup', 'invited-teammate', 'key-feature-used'];
    for (const page of [first, second]) {
      await until(async () => {
        const score = await explain(page);
        return rules.every((rule) => times(score, rule) >= 1);
      }, 'both tabs to count every event');
    }
    await until(() => server.accepted.length >= 1, 'the PQL result');
    assert.equal(server.accepted[0].tier, 'PQL');
  }));
