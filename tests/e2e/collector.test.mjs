// The demo journey against the real collector: `leadscore serve` with a SQLite file serves the
// demo site and the built widget; headless Chromium walks quiz → pricing → blog → download →
// demo request → product usage; the collector's database then holds exactly the three tier
// changes, and the dashboard shows them.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch, newPage, widgetReady, until, sleep, widgetWarnings } from './browser.mjs';
import { leadscoreBinary } from './cli.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const EMAIL = 'jane.doe@example.com';

/** Starts `leadscore serve` on 127.0.0.1 (a free port) with a SQLite file in a temp dir. */
async function startCollector() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leadscore-e2e-'));
  const db = path.join(dir, 'collector.db');
  const child = spawn(leadscoreBinary(), ['serve', '--listen', '127.0.0.1:0', '--db', db, '--log-format', 'json'], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let logs = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => (logs += chunk));
  const exited = new Promise((ok) => child.on('exit', (code) => ok(code)));
  const url = await until(() => {
    for (const line of logs.split('\n')) {
      if (!line.startsWith('{')) continue;
      const entry = JSON.parse(line);
      if (entry.message === 'listening') return entry.url.replace(/\/$/, '');
    }
    if (child.exitCode !== null) throw new Error('leadscore serve exited:\n' + logs);
    return null;
  }, 'leadscore serve to listen', 60_000);
  return {
    url,
    db,
    logs: () => logs,
    async stop() {
      child.kill('SIGTERM');
      const code = await exited;
      fs.rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}

/** Rows of the collector's SQLite database (read with Python's sqlite3 module). */
function rows(db, sql) {
  const script = 'import json, sqlite3, sys\n' +
    'c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)\n' +
    'print(json.dumps(c.execute(sys.argv[2]).fetchall()))';
  return JSON.parse(execFileSync('python3', ['-c', script, db, sql], { encoding: 'utf8' }));
}

let collector;
let browser;
before(async () => {
  collector = await startCollector();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  if (collector) assert.equal(await collector.stop(), 0, 'the collector stops cleanly on SIGTERM');
});

const stored = () => rows(collector.db, 'SELECT COUNT(*) FROM tier_results')[0][0];

test('the demo journey ends with the right rows in the database and on the dashboard', async () => {
  const { context, page } = await newPage(browser);
  const answers = [];
  const types = []; // content types of the widget's posts: CORS-simple text/plain
  page.on('response', (r) => {
    if (new URL(r.url()).pathname !== '/v1/tier') return;
    answers.push(r.status());
    types.push(r.request().headers()['content-type']);
  });
  try {
    const go = async (p) => {
      await page.goto(collector.url + p);
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
    await go('/pricing/');
    await go('/blog/scoring-without-cookies/');
    await go('/resources/');
    const download = page.waitForEvent('download');
    await page.click('#download-buyers-guide');
    await download;
    await until(() => stored() >= 1, 'the MQL row');

    await go('/demo/');
    await page.fill('input[name=name]', 'Jane Doe');
    await page.fill('#demo-request input[name=email]', EMAIL);
    await page.fill('input[name=company]', 'Acme Corp');
    await page.click('#demo-request button[type=submit]');
    await page.waitForSelector('#demo-thanks:not([hidden])');
    await until(() => stored() >= 2, 'the SQL row');

    await go('/app/');
    for (const id of ['#signup', '#invite', '#report', '#integration']) await page.click(id);
    await until(() => stored() >= 3, 'the PQL row');
    await sleep(1000); // anything posted twice would arrive now

    // The database: exactly the three tier changes of one visitor, in order.
    const result = rows(
      collector.db,
      'SELECT previous_tier, tier, model_id, model_version, visitor_id, event_id, at, lead_id, scores FROM tier_results ORDER BY id',
    );
    assert.deepEqual(result.map((r) => [r[0], r[1]]), [
      ['unqualified', 'MQL'],
      ['MQL', 'SQL'],
      ['SQL', 'PQL'],
    ]);
    for (const [, , modelId, modelVersion, visitor, eventId, at, leadId, scores] of result) {
      assert.equal(modelId, 'acme-saas');
      assert.equal(modelVersion, '2026-11-01');
      assert.equal(visitor, result[0][4]);
      assert.match(eventId, /^[0-9a-f]{32}$/);
      assert.ok(Math.abs(Date.parse(at) - Date.now()) < 120_000, at);
      assert.equal(leadId, null);
      assert.equal(scores, null);
    }
    assert.equal(new Set(result.map((r) => r[5])).size, 3);
    assert.ok(answers.every((s) => s === 200), `every POST /v1/tier answered 200: ${answers}`);
    assert.deepEqual(new Set(types), new Set(['text/plain;charset=UTF-8']), 'the collector takes the CORS-simple post');
    assert.deepEqual(widgetWarnings(page), []);
    assert.deepEqual(page.errors, []);
    const everything = JSON.stringify(rows(collector.db, 'SELECT * FROM tier_results'));
    for (const secret of [EMAIL, 'Jane Doe', 'Acme Corp', 'this-quarter']) {
      assert.ok(!everything.includes(secret), `${secret} reached the collector`);
    }

    // A retried delivery of a stored result is answered 200 and not stored again.
    const payload = rows(collector.db, 'SELECT payload FROM tier_results ORDER BY id LIMIT 1')[0][0];
    const retry = await page.evaluate(async (body) => {
      const r = await fetch('/v1/tier', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
      return [r.status, await r.json()];
    }, payload);
    assert.deepEqual([retry[0], retry[1].status], [200, 'duplicate']);
    assert.equal(stored(), 3);

    // The dashboard shows the same.
    await page.goto(collector.url + '/dashboard/');
    await page.waitForSelector('body[data-loaded=true]');
    assert.equal(await page.textContent('#total-results'), '3');
    const cards = await page.$$eval('#tier-cards .card', (cs) =>
      cs.map((c) => [c.dataset.tier, c.querySelector('[data-field=current_visitors]').textContent]),
    );
    assert.deepEqual(Object.fromEntries(cards), { MQL: '0', PQL: '1', SQL: '0' });
    const latest = await page.$$eval('#latest tbody tr', (trs) => trs.map((tr) => tr.querySelector('.transition').textContent));
    assert.deepEqual(latest, ['SQL →  PQL', 'MQL →  SQL', 'unqualified →  MQL']);
    const bars = await page.$$eval('#chart-svg rect', (rs) => rs.map((r) => [r.dataset.tier, r.dataset.count]));
    assert.deepEqual(bars.sort(), [['MQL', '1'], ['PQL', '1'], ['SQL', '1']]);
    const versions = await page.$$eval('#versions tbody tr', (trs) => trs.map((tr) => [tr.dataset.model, tr.dataset.version]));
    assert.deepEqual(versions, [['acme-saas', '2026-11-01']]);
    assert.deepEqual(page.errors, []);
  } finally {
    await context.close();
  }
});

test('the embed snippet paths serve the shim, the wasm and the model', async () => {
  const shim = await fetch(collector.url + '/leadscore/leadscore.js');
  assert.equal(shim.status, 200);
  assert.match(shim.headers.get('content-type'), /javascript/);
  const wasm = await fetch(collector.url + '/leadscore/leadscore_wasm_bg.wasm');
  assert.equal(wasm.status, 200);
  assert.equal(wasm.headers.get('content-type'), 'application/wasm');
  assert.equal(wasm.headers.get('cache-control'), 'no-cache');
  const model = await fetch(collector.url + '/leadscore/model.json');
  assert.equal((await model.json()).id, 'acme-saas');
});
