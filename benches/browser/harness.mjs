// The benchmark's Node side: compiles the model with the `leadscore` CLI, bundles json-rules-engine
// for the browser, serves the benchmark page and runs it in headless Chromium (page.mjs), then
// measures the widget's cold start on the demo site. `run.mjs` prints and writes the results;
// tests/e2e/bench-smoke.test.mjs runs the smoke mode.

import http from 'node:http';
import fs from 'node:fs/promises';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { launch, newPage, sleep } from '../../tests/e2e/browser.mjs';
import { startServer } from '../../tests/e2e/server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, '..', '..');
export const MODEL = path.join(here, 'model.json');

/** Full run and smoke run settings. */
export const FULL = {
  visitors: 1000, events: 10_000, seed: 20261201, warmups: 3, runs: 15, jreWarmups: 1, jreRuns: 5,
  single: 10_000, coldLoads: 5,
};
export const SMOKE = {
  visitors: 20, events: 200, seed: 20261201, warmups: 0, runs: 1, jreWarmups: 0, jreRuns: 1,
  single: 10_000, coldLoads: 0,
};

/** The `leadscore` CLI: $LEADSCORE_BIN, else target/debug/leadscore (built when missing). */
export function leadscoreBinary() {
  if (process.env.LEADSCORE_BIN) return process.env.LEADSCORE_BIN;
  const bin = path.join(root, 'target', 'debug', 'leadscore');
  if (!existsSync(bin)) {
    console.error('benches/browser: target/debug/leadscore is missing; cargo build --features cli');
    execFileSync('cargo', ['build', '--features', 'cli'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  }
  return bin;
}

/** The model compiled as the widget loads it (`leadscore build`). */
export function compileModel(bin = leadscoreBinary()) {
  const out = path.join(os.tmpdir(), `leadscore-bench-${process.pid}.bin`);
  execFileSync(bin, ['build', MODEL, '-o', out], { stdio: ['ignore', 'ignore', 'inherit'] });
  const bytes = readFileSync(out);
  rmSync(out, { force: true });
  return bytes;
}

/**
 * Most bytes `state()` can take for the model, whatever the visitor does (src/engine/state.rs
 * `to_bytes` with every bounded list full: 64 page hashes, a window time per allowed firing,
 * 32 firing times per expiring rule, the longest tier name).
 */
export function stateBound(json) {
  const text = (s) => 2 + Buffer.byteLength(s);
  const optionalI64 = 9;
  let bytes = 1 + 3 * optionalI64 + 4 + 8 + (2 + 4 * 64) + 1 + Math.max(...json.tiers.map((t) => text(t.name))) + 2;
  for (const r of json.rules) {
    const window = r.frequency?.at_most_per_window?.times ?? 0;
    const firings = r.decay?.expires_after_days != null ? 32 : 0;
    bytes += 4 /* id hash */ + 4 + 4 + optionalI64 + (2 + 8 * window) + 8 + 8 + (2 + 12 * firings);
  }
  return bytes;
}

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.json': 'application/json', '.wasm': 'application/wasm' };

/** Serves the benchmark page, its modules, the kernel (pkg/), the shim's event.js, the bundled
 * json-rules-engine and the compiled model. */
async function serveBench(modelBin) {
  const vendor = (await esbuild.build({
    entryPoints: [path.join(root, 'node_modules', 'json-rules-engine', 'dist', 'index.js')],
    bundle: true, format: 'esm', platform: 'browser', write: false, logLevel: 'error',
  })).outputFiles[0].contents;
  const mounts = { '/bench/': here, '/pkg/': path.join(root, 'pkg'), '/shim/': path.join(root, 'www', 'shim') };
  const page = '<!doctype html><meta charset="utf-8"><title>leadscore bench</title><script type="module" src="/bench/page.mjs"></script>';
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://localhost');
    const send = (type, body) => {
      res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (url.pathname === '/') return send('text/html', page);
    if (url.pathname === '/model.bin') return send('application/octet-stream', modelBin);
    if (url.pathname === '/model.json') return send('application/json', await fs.readFile(MODEL));
    if (url.pathname === '/vendor/json-rules-engine.mjs') return send('text/javascript', vendor);
    for (const [prefix, dir] of Object.entries(mounts)) {
      if (!url.pathname.startsWith(prefix)) continue;
      const file = path.join(dir, url.pathname.slice(prefix.length));
      if (!file.startsWith(dir)) break;
      try {
        return send(TYPES[path.extname(file)] ?? 'application/octet-stream', await fs.readFile(file));
      } catch {
        break;
      }
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((ok) => server.close(ok)) };
}

/** Records long tasks from the start of a load (runs before any page script). */
function observeLongTasks() {
  window.__longTasks = [];
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__longTasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: 'longtask', buffered: true });
  } catch { /* unsupported: reported as null */ window.__longTasks = null; }
}

/** One cold load of the demo home page in a fresh context (empty cache and storage). */
async function coldLoad(browser, server) {
  const { context, page } = await newPage(browser);
  try {
    await context.addInitScript(observeLongTasks);
    await page.goto(`${server.url}/`);
    await page.waitForFunction(() => performance.getEntriesByName('leadscore:ready', 'mark').length > 0, null, { timeout: 15_000 });
    await sleep(300); // long-task entries arrive after their task ends
    const seen = await page.evaluate(() => {
      const resources = performance.getEntriesByType('resource').map((e) => ({
        path: new URL(e.name).pathname, fetchStart: e.fetchStart, responseEnd: e.responseEnd, bytes: e.decodedBodySize,
      }));
      return {
        ready: performance.getEntriesByName('leadscore:ready', 'mark')[0].startTime,
        resources: resources.filter((r) => r.path.startsWith('/leadscore/') || r.path.startsWith('/models/')),
        longTasks: window.__longTasks,
      };
    });
    if (page.errors.length) throw new Error(`demo page errors: ${page.errors.join('; ')}`);
    const script = seen.resources.find((r) => r.path === '/leadscore/leadscore.js');
    if (!script) throw new Error('the demo page did not fetch /leadscore/leadscore.js');
    const start = script.fetchStart;
    return {
      fromScript: seen.ready - start,
      fromNavigation: seen.ready,
      files: seen.resources.map((r) => ({ path: r.path, bytes: r.bytes, ms: r.responseEnd - r.fetchStart })),
      longTasks: seen.longTasks === null ? null : seen.longTasks.filter((t) => t.start < seen.ready && t.start + t.duration > start),
      longTasksInLoad: seen.longTasks === null ? null : seen.longTasks.length,
    };
  } finally {
    await context.close();
  }
}

/**
 * The timed rounds. Each round runs every loop once — the kernel and the reference back to back,
 * in alternating order, then the kernel's breakdown — and json-rules-engine in the last rounds
 * (it takes a hundred times longer). Each run is measured twice: wall time in the page
 * (performance.now) and the CPU time of the page's main thread (DevTools `ThreadTime`), which
 * leaves out the time the thread waited for a core — on a shared machine the steadier of the two.
 * Returns the measured rounds (warm-ups left out): `[{loop: {wall, cpu}}]`, milliseconds; the
 * `noop` loop measures what one measurement costs the thread (subtracted from the CPU times).
 */
async function timeRounds(context, page, settings) {
  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable');
  const threadTime = async () => (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'ThreadTime').value * 1000;
  const total = settings.warmups + settings.runs;
  const jreFrom = Math.max(0, total - settings.jreWarmups - settings.jreRuns);
  const measured = [];
  for (let round = 0; round < total; round++) {
    const order = round % 2 ? ['reference', 'kernel'] : ['kernel', 'reference'];
    const loops = ['noop', ...order, 'encode', 'applyEncoded'];
    if (round >= jreFrom) loops.push('rulesEngine');
    const times = {};
    for (const loop of loops) {
      const cpu0 = await threadTime();
      const wall = await page.evaluate((name) => window.benchTime(name), loop);
      const cpu = (await threadTime()) - cpu0;
      const warm = loop === 'rulesEngine' ? round >= jreFrom + settings.jreWarmups : round >= settings.warmups;
      if (warm) times[loop] = { wall, cpu };
    }
    if (Object.keys(times).length) measured.push(times);
  }
  await cdp.detach();
  return measured;
}

/** Runs the benchmark with `settings` (FULL or SMOKE); `log` gets progress lines. */
export async function runBench(settings = FULL, log = () => {}) {
  const started = Date.now();
  const json = JSON.parse(await fs.readFile(MODEL, 'utf8'));
  log('compiling the model with leadscore build');
  const modelBin = compileModel();
  const server = await serveBench(modelBin);
  const browser = await launch();
  let result;
  try {
    const { context, page } = await newPage(browser);
    await page.goto(`${server.url}/`);
    await page.waitForFunction(() => window.benchReady === true, null, { timeout: 15_000 })
      .catch(() => { throw new Error(`the bench page did not start: ${page.errors.join('; ') || 'no error reported'}`); });
    log(`scoring ${settings.events} events of ${settings.visitors} visitors in Chromium (three variants): results pass`);
    await page.evaluate((o) => window.benchPrepare(o), { ...settings, stateBound: stateBound(json) });
    log(`timed rounds: ${settings.warmups} + ${settings.runs}, json-rules-engine in the last ${settings.jreWarmups} + ${settings.jreRuns}`);
    const rounds = await timeRounds(context, page, settings);
    result = await page.evaluate(() => window.benchFinish());
    result.rounds = rounds;
    if (page.errors.length) result.problems.push(...page.errors.map((e) => `page error: ${e}`));
    await context.close();

    result.cold = null;
    if (settings.coldLoads > 0) {
      log(`cold start: ${settings.coldLoads} loads of the demo page`);
      const demo = await startServer();
      try {
        const loads = [];
        for (let i = 0; i < settings.coldLoads; i++) loads.push(await coldLoad(browser, demo));
        result.cold = loads;
      } finally {
        await demo.close();
      }
    }
    result.browserVersion = browser.version();
  } finally {
    await browser.close();
    await server.close();
  }
  result.settings = settings;
  result.seconds = (Date.now() - started) / 1000;
  result.load = os.loadavg();
  result.cpus = os.cpus().length;
  return result;
}
