// One engine, two builds: the production wasm kernel (pkg/leadscore_wasm_bg.wasm through its
// wasm-bindgen glue, loaded in Node) and the native engine (`leadscore score`) must score every
// visitor identically — tier, previous tier, every sub-score, the total, the probability and every
// contribution, bit for bit — and report the same tier transitions at the same events.
//
// Inputs: the two example models with their own logs and with generated logs, and random valid
// models (tests/e2e/generate.mjs) with logs aimed at their rules; all drawn from one seeded PRNG.
// The seed is printed; LEADSCORE_DIFF_SEED=<n> replays a run. For each model the CLI checks it
// (`leadscore check` must accept every generated model), compiles it (`leadscore build`) and scores
// the log (`leadscore score --json`); the kernel then loads the compiled model and, per visitor,
// applies the visitor's events in the CLI's order (stable sort by time) and explains at the CLI's
// `now` (the latest event time in the log). On a mismatch the test shrinks the first failing case
// to a small model and event list and prints it with both results.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { leadscoreBinary, root } from './cli.mjs';
import { encodeEvent } from '../../www/shim/event.js';
import {
  prng, randomModel, vocabulary, visitorEvents, logLines, DIMENSIONS, DAY_MS, EXPECTED_COVERAGE,
} from './generate.mjs';

const DEFAULT_SEED = 20261101;
const GENERATED_MODELS = 40;
const VISITORS_PER_GENERATED_MODEL = 25;
const VISITORS_PER_EXAMPLE_MODEL = 150;
const EXAMPLES = ['saas', 'wholesale'];
/** Mismatches printed in full (all are counted). */
const SHOWN = 3;
const UNQUALIFIED = 'unqualified';

const SEED = (() => {
  const text = process.env.LEADSCORE_DIFF_SEED;
  if (text === undefined || text.trim() === '') return DEFAULT_SEED;
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new Error(`LEADSCORE_DIFF_SEED=${text} is not an integer`);
  return n >>> 0;
})();

let kernel;
let bin;
let dir;
let failed = false;
const coverage = new Set();
/** What the CLI's results showed (rules of each kind firing, decay, promotions and demotions). */
const observed = new Set();
const EXPECTED_OBSERVED = [
  ...['page', 'download', 'answer', 'form', 'event', 'visits', 'distinct_pages', 'page_views', 'time_on_site', 'return_visit']
    .map((k) => `fired:${k}`),
  'decayed:half_life_days', 'decayed:expires_after_days', 'points:negative', 'probability',
  'transition:promotion', 'transition:demotion', 'transition:at-now',
];
const totals = { models: 0, visitors: 0, events: 0, transitions: 0 };
/** Visitors scored differently when the kernel's state was saved and restored before each event. */
const restoreMismatches = [];
let reports = 0;

before(async () => {
  console.log(`differential test seed ${SEED} (replay with LEADSCORE_DIFF_SEED=${SEED})`);
  bin = leadscoreBinary();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leadscore-diff-'));
  const glue = await import(pathToFileURL(path.join(root, 'pkg', 'leadscore_wasm.js')).href);
  glue.initSync({ module: fs.readFileSync(path.join(root, 'pkg', 'leadscore_wasm_bg.wasm')) });
  kernel = glue;
});

after(() => {
  if (!dir) return;
  if (failed) console.log(`differential test files kept in ${dir}`);
  else fs.rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// The native side

function run(args) {
  const res = spawnSync(bin, args, { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
  if (res.error) throw res.error;
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

/** `leadscore check`; the problems it lists, or null when the model is valid. */
function check(file) {
  const { code, stderr } = run(['check', file]);
  return code === 0 ? null : stderr.trim() || `exit ${code}`;
}

/** `leadscore build`; the compiled model's bytes. */
function build(file) {
  const out = file.replace(/\.json$/, '.bin');
  const { code, stderr } = run(['build', file, '-o', out]);
  assert.equal(code, 0, `leadscore build ${file} failed:\n${stderr}`);
  return new Uint8Array(fs.readFileSync(out));
}

/** `leadscore score --json` of a log file: the reports by visitor. */
function score(modelFile, logFile, now) {
  const args = ['score', modelFile, logFile, '--json'];
  if (now !== undefined) args.push('--now', new Date(now).toISOString());
  const { code, stdout, stderr } = run(args);
  assert.equal(code, 0, `leadscore ${args.join(' ')} failed (exit ${code}):\n${stderr}`);
  assert.equal(stderr, '', `leadscore score rejected lines of ${logFile}:\n${stderr}`);
  return new Map(JSON.parse(stdout).map((report) => [report.visitor, report]));
}

/** Milliseconds since the epoch of a log line's `ts` (ms or RFC 3339 text). */
function millis(ts) {
  if (typeof ts === 'number') return ts;
  const ms = Date.parse(ts);
  assert.ok(Number.isFinite(ms), `cannot read time ${ts}`);
  return ms;
}

/**
 * RFC 3339 time as the CLI prints it (`2026-11-02T09:00:00Z`, `…:00.5Z`, `…+00:00`), in ms.
 * Read by hand so that any number of fraction digits is exact.
 */
function cliTime(text) {
  const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(text);
  if (!m) return NaN;
  const ms = Number(((m[7] ?? '') + '000').slice(0, 3));
  let t = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], ms);
  if (m[8] !== 'Z') t -= (m[8][0] === '-' ? -1 : 1) * (Number(m[8].slice(1, 3)) * 60 + Number(m[8].slice(4))) * 60_000;
  return t;
}

// ---------------------------------------------------------------------------------------------
// The kernel side

/** The kernel's describe() of the loaded model, parsed. */
function describe() {
  const text = new TextDecoder().decode(kernel.describe());
  assert.notEqual(text, '', 'describe() is empty after a successful load');
  return JSON.parse(text);
}

/**
 * Replays one visitor's events (already in the CLI's order) in the kernel and explains at `now`.
 * With `restoring`, before each event the state is saved, the model loaded afresh and the state
 * restored, as on a new page load.
 */
function kernelScore(model, events, now, restoring = false) {
  const load = kernel.load(model.bin);
  const names = (i) => (i === 0 ? UNQUALIFIED : model.describe.tiers[i - 1] ?? `<no tier ${i}>`);
  kernel.reset();
  const transitions = [];
  const problems = [];
  if (load !== 0) problems.push(`load returned ${load}`);
  for (const { ts, event } of events) {
    if (restoring) {
      const saved = kernel.state().slice();
      const reload = kernel.load(model.bin);
      if (reload !== 0) problems.push(`load returned ${reload}`);
      if (kernel.restore(saved) !== true) problems.push(`restore(state()) before ${JSON.stringify(event)} gave false`);
    }
    const bytes = encodeEvent(event);
    const code = kernel.apply(bytes, ts);
    if (!Number.isInteger(code) || code < 0) {
      problems.push(`apply(${JSON.stringify(event)}, ${ts}) returned ${code}`);
      continue;
    }
    const [tier, previous] = [code & 255, code >> 8];
    if (tier !== previous) transitions.push({ at: ts, from: names(previous), to: names(tier) });
  }
  const x = kernel.explain(now);
  const result = {
    fit: x[0], engagement: x[1], intent: x[2], product: x[3], total: x[4], probability: x[5],
    tier: names(x[6]), previous_tier: names(x[7]), visits: x[8], seconds: x[9], contributions: [],
    transitions, problems,
  };
  if (x.length < 10 || (x.length - 10) % 5 !== 0) problems.push(`explain() gave ${x.length} numbers`);
  for (let i = 10; i + 5 <= x.length; i += 5) {
    result.contributions.push({
      rule: model.describe.rules[x[i]] ?? `<no rule ${x[i]}>`,
      dimension: DIMENSIONS[x[i + 1]] ?? `<no dimension ${x[i + 1]}>`,
      points: x[i + 2],
      times: x[i + 3],
      decayed: x[i + 4],
    });
  }
  // The CLI's tick at `now` stores the tier; explain does not, but reports the same change.
  if (result.tier !== result.previous_tier) transitions.push({ at: now, from: result.previous_tier, to: result.tier });
  return result;
}

// ---------------------------------------------------------------------------------------------
// Comparing

/** Bit-exact equality of two numbers as JSON numbers round-trip (NaN equals NaN, -0 is not 0). */
const same = (a, b) => typeof a === 'number' && typeof b === 'number' && Object.is(a, b);
const show = (n) => (Object.is(n, -0) ? '-0' : String(n));

/** Every difference between the CLI's report and the kernel's result for one visitor. */
function differences(cli, k, hasCalibration, eventCount) {
  const out = [...k.problems];
  if (!cli) return [...out, 'the CLI reported no such visitor'];
  for (const key of ['fit', 'engagement', 'intent', 'product', 'total']) {
    if (!same(cli[key], k[key])) out.push(`${key}: cli ${show(cli[key])}, kernel ${show(k[key])}`);
  }
  if (hasCalibration) {
    if (!same(cli.probability, k.probability)) {
      out.push(`probability: cli ${show(cli.probability)}, kernel ${show(k.probability)}`);
    }
  } else if (cli.probability !== undefined || !Number.isNaN(k.probability)) {
    out.push(`probability without calibration: cli ${cli.probability}, kernel ${show(k.probability)} (want NaN)`);
  }
  for (const key of ['tier', 'previous_tier']) {
    if (cli[key] !== k[key]) out.push(`${key}: cli ${cli[key]}, kernel ${k[key]}`);
  }
  if (cli.events !== eventCount) out.push(`events: cli ${cli.events}, log ${eventCount}`);
  const n = Math.max(cli.contributions.length, k.contributions.length);
  for (let i = 0; i < n; i++) {
    const [a, b] = [cli.contributions[i], k.contributions[i]];
    if (!a || !b) {
      out.push(`contributions[${i}]: cli ${JSON.stringify(a)}, kernel ${JSON.stringify(b)}`);
      continue;
    }
    for (const key of ['rule', 'dimension']) {
      if (a[key] !== b[key]) out.push(`contributions[${i}].${key}: cli ${a[key]}, kernel ${b[key]}`);
    }
    for (const key of ['points', 'times', 'decayed']) {
      if (!same(a[key], b[key])) out.push(`contributions[${i}].${key} (${a.rule}): cli ${show(a[key])}, kernel ${show(b[key])}`);
    }
  }
  const m = Math.max(cli.transitions.length, k.transitions.length);
  for (let i = 0; i < m; i++) {
    const [a, b] = [cli.transitions[i], k.transitions[i]];
    if (!a || !b || cliTime(a.at) !== b.at || a.from !== b.from || a.to !== b.to) {
      const kt = b && { ...b, at: new Date(b.at).toISOString() };
      out.push(`transitions[${i}]: cli ${JSON.stringify(a)}, kernel ${JSON.stringify(kt)}`);
    }
  }
  return out;
}

/** A visitor's events in the CLI's order: log order, stably sorted by time. */
function cliOrder(lines) {
  return lines
    .map((line) => {
      const { visitor, ts, ...event } = line;
      return { ts: millis(ts), event };
    })
    .sort((a, b) => a.ts - b.ts);
}

const wrap = (text, max = 6000) => (text.length > max ? `${text.slice(0, max)}\n… (${text.length - max} more characters)` : text);

// ---------------------------------------------------------------------------------------------
// Shrinking a mismatch to a small case

/** The mismatches of one visitor's `events` under `model` at `now`, or null (none, or invalid model). */
function reproduce(model, events, now, restoring) {
  const file = path.join(dir, 'shrink.json');
  fs.writeFileSync(file, JSON.stringify(model, null, 2));
  if (check(file) !== null) return null;
  const compiled = { bin: build(file) };
  if (kernel.load(compiled.bin) !== 0) return { diffs: ['load failed'], cli: null, kernel: null };
  compiled.describe = describe();
  const log = path.join(dir, 'shrink.events.jsonl');
  fs.writeFileSync(log, events.map(({ ts, event }) => JSON.stringify({ visitor: 'v', ts, ...event })).join('\n') + '\n');
  const cli = score(file, log, now).get('v');
  const k = kernelScore(compiled, events, now, restoring);
  const diffs = differences(cli, k, model.calibration !== undefined, events.length);
  return diffs.length ? { diffs, cli, kernel: k } : null;
}

/** Removes events, rules, tiers, limits and calibration while the mismatch stays (bounded effort). */
function shrink(model, events, now, restoring) {
  let budget = 500;
  let best = reproduce(model, events, now, restoring);
  if (!best) return null;
  const attempt = (m, e) => {
    if (budget-- <= 0) return false;
    const r = reproduce(m, e, now, restoring);
    if (r) [model, events, best] = [m, e, r];
    return Boolean(r);
  };
  const shrinkEvents = () => {
    let chunks = 2;
    while (events.length > 1 && budget > 0) {
      const size = Math.ceil(events.length / chunks);
      let removed = false;
      for (let i = 0; i < events.length && !removed; i += size) {
        removed = attempt(model, [...events.slice(0, i), ...events.slice(i + size)]);
      }
      if (removed) chunks = Math.max(chunks - 1, 2);
      else if (size === 1) break;
      else chunks = Math.min(chunks * 2, events.length);
    }
  };
  const shrinkModel = () => {
    for (let i = model.rules.length - 1; i >= 0 && model.rules.length > 1; i--) {
      const id = model.rules[i]?.id;
      if (id === undefined) continue;
      const m = structuredClone(model);
      m.rules.splice(i, 1);
      for (const t of m.tiers) {
        if (t.requires) t.requires = t.requires.filter((r) => r !== id);
        if (t.requires?.length === 0) delete t.requires;
      }
      attempt(m, events);
    }
    for (let i = model.tiers.length - 1; i >= 0 && model.tiers.length > 1; i--) {
      const m = structuredClone(model);
      m.tiers.splice(i, 1);
      attempt(m, events);
    }
    // Tier conditions, one at a time (a tier without any is invalid, so the last one stays).
    for (let i = 0; i < model.tiers.length; i++) {
      for (const part of ['min', 'max']) {
        for (const key of Object.keys(model.tiers[i]?.[part] ?? {})) {
          const m = structuredClone(model);
          delete m.tiers[i][part][key];
          if (Object.keys(m.tiers[i][part]).length === 0) delete m.tiers[i][part];
          attempt(m, events);
        }
      }
      if (model.tiers[i]?.requires) {
        const m = structuredClone(model);
        delete m.tiers[i].requires;
        attempt(m, events);
      }
    }
    for (const key of ['limits', 'calibration', 'session_timeout_minutes', 'description', '$schema']) {
      if (model[key] === undefined) continue;
      const m = structuredClone(model);
      delete m[key];
      attempt(m, events);
    }
  };
  // Until nothing more can go (removing a tier condition may free a rule, and so on).
  for (let size = Infinity; budget > 0 && size > model.rules.length + events.length + JSON.stringify(model).length;) {
    size = model.rules.length + events.length + JSON.stringify(model).length;
    shrinkEvents();
    shrinkModel();
  }
  return { model, events, ...best };
}

// ---------------------------------------------------------------------------------------------
// One model: CLI check, build, score; kernel load and replay

/** Writes `model` (an object, or the path of a model file) as `<name>.json`; runs `leadscore check`. */
function prepare(name, model) {
  const file = path.join(dir, `${name}.json`);
  fs.writeFileSync(file, typeof model === 'string' ? fs.readFileSync(model) : JSON.stringify(model, null, 2));
  return { name, file, doc: JSON.parse(fs.readFileSync(file, 'utf8')), problems: check(file) };
}

/** Fails, listing every model `leadscore check` rejected (for generated models: a generator bug). */
function allAccepted(prepared) {
  const rejected = prepared.filter((p) => p.problems !== null);
  if (rejected.length === 0) return;
  failed = true;
  assert.fail(`leadscore check rejects ${rejected.length} of ${prepared.length} model(s) ` +
    `(generated models must be valid: fix the generator):\n` +
    rejected.slice(0, SHOWN).map((p) => `\n=== ${p.file}\n${p.problems}\n${wrap(JSON.stringify(p.doc))}`).join('\n'));
}

/**
 * Compiles and scores a checked model with the CLI, then replays every visitor of the log in
 * the kernel; returns the mismatches.
 */
function compare(prepared, lines) {
  const { name, file, doc } = prepared;
  const compiled = { bin: build(file) };
  prepared.bin = compiled.bin;
  assert.equal(kernel.load(compiled.bin), 0, `the kernel does not load ${name}.bin, which leadscore check accepts`);
  compiled.describe = describe();
  assert.equal(compiled.describe.id, doc.id);
  assert.equal(compiled.describe.version, doc.model_version);
  assert.deepEqual(compiled.describe.tiers, doc.tiers.map((t) => t.name));
  assert.deepEqual(compiled.describe.rules, doc.rules.map((r) => r.id));
  damaged(name, compiled.bin, file);

  const log = path.join(dir, `${name}.events.jsonl`);
  fs.writeFileSync(log, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  const reports = score(file, log);
  const now = Math.max(...lines.map((l) => millis(l.ts)));

  const byVisitor = new Map();
  for (const line of lines) {
    if (!byVisitor.has(line.visitor)) byVisitor.set(line.visitor, []);
    byVisitor.get(line.visitor).push(line);
  }
  assert.deepEqual([...reports.keys()].sort(), [...byVisitor.keys()].sort(), `${name}: the CLI's visitors`);
  const mismatches = [];
  for (const [visitor, visitorLines] of byVisitor) {
    const events = cliOrder(visitorLines);
    const cli = reports.get(visitor);
    const k = kernelScore(compiled, events, now);
    const diffs = differences(cli, k, doc.calibration !== undefined, visitorLines.length);
    if (diffs.length) mismatches.push({ name, file, doc, visitor, events, now, diffs, cli, kernel: k });
    const restored = kernelScore(compiled, events, now, true);
    const restoredDiffs = differences(cli, restored, doc.calibration !== undefined, visitorLines.length);
    if (restoredDiffs.length) {
      restoreMismatches.push({ name, file, doc, visitor, events, now, diffs: restoredDiffs, cli, kernel: restored });
    }
    totals.visitors++;
    totals.events += events.length;
    totals.transitions += cli?.transitions.length ?? 0;
    observe(doc, cli, now);
  }
  totals.models++;
  return mismatches;
}

/** Notes what one visitor's CLI result exercised. */
function observe(doc, cli, now) {
  if (!cli) return;
  const rules = new Map(doc.rules.map((r) => [r.id, r]));
  for (const c of cli.contributions) {
    const rule = rules.get(c.rule);
    if (!rule) continue;
    observed.add(`fired:${Object.keys(rule.when)[0]}`);
    if (c.decayed !== 0 && typeof rule.decay === 'object') observed.add(`decayed:${Object.keys(rule.decay)[0]}`);
    if (c.points < 0) observed.add('points:negative');
  }
  if (cli.probability !== undefined) observed.add('probability');
  const rank = (tier) => (tier === UNQUALIFIED ? doc.tiers.length : doc.tiers.findIndex((t) => t.name === tier));
  for (const t of cli.transitions) {
    observed.add(rank(t.to) < rank(t.from) ? 'transition:promotion' : 'transition:demotion');
    if (cliTime(t.at) === now) observed.add('transition:at-now');
  }
}

/** A compiled model with one byte flipped in the middle, or cut short, must not load; nor may other files. */
function damaged(name, compiled, file) {
  const flipped = compiled.slice();
  flipped[compiled.length >> 1] ^= 0xff;
  assert.notEqual(kernel.load(flipped), 0, `${name}.bin with byte ${compiled.length >> 1} flipped loads`);
  for (const length of [compiled.length - 1, compiled.length >> 1, Math.min(8, compiled.length - 1)]) {
    assert.notEqual(kernel.load(compiled.slice(0, length)), 0, `${name}.bin cut to ${length} of ${compiled.length} bytes loads`);
  }
  assert.equal(kernel.load(new Uint8Array(fs.readFileSync(file))), 1, `${name}.json (not a compiled model) does not give 1`);
}

/** Fails with the first mismatches (shrunk to a small case) when there are any. */
function report(mismatches, restoring = false) {
  if (mismatches.length === 0) return;
  failed = true;
  const saved = path.join(dir, `mismatches-${++reports}.json`);
  fs.writeFileSync(saved, JSON.stringify(mismatches, null, 1));
  const parts = [`${mismatches.length} visitor(s) scored differently by the kernel and the CLI` +
    `${restoring ? ' when the state is saved and restored before every event' : ''} (seed ${SEED}); all in ${saved}`];
  const first = mismatches[0];
  const small = shrink(structuredClone(first.doc), first.events, first.now, restoring);
  if (small) {
    fs.writeFileSync(saved.replace('mismatches', 'shrunk'), JSON.stringify(small, null, 1));
    parts.push(`\n=== shrunk from ${first.name} / ${first.visitor}: now ${first.now} (${new Date(first.now).toISOString()})`,
      `differences:\n  ${small.diffs.join('\n  ')}`,
      `model:\n${JSON.stringify(small.model)}`,
      `events (ts, event):\n${small.events.map((e) => JSON.stringify(e)).join('\n')}`,
      `cli:\n${JSON.stringify(small.cli)}`,
      `kernel:\n${JSON.stringify(small.kernel)}`);
  }
  for (const m of mismatches.slice(0, SHOWN)) {
    parts.push(`\n=== ${m.name} (${m.file}) visitor ${m.visitor}, now ${m.now}`,
      `differences:\n  ${m.diffs.slice(0, 20).join('\n  ')}`,
      `model:\n${wrap(JSON.stringify(m.doc))}`,
      `events (${m.events.length}, in applied order):\n${wrap(m.events.map((e) => JSON.stringify(e)).join('\n'))}`,
      `cli:\n${wrap(JSON.stringify(m.cli))}`,
      `kernel:\n${wrap(JSON.stringify(m.kernel))}`);
  }
  assert.fail(parts.join('\n'));
}

/** Generated visitors for a model, as log lines (ts in ms). */
function generatedLog(r, doc, visitors, prefix) {
  const v = vocabulary(doc);
  const base = Date.UTC(2026, 8, 1);
  const list = Array.from({ length: visitors }, (_, i) => ({
    name: `${prefix}-${String(i).padStart(4, '0')}${i % 17 === 0 ? '-ü' : ''}`,
    events: visitorEvents(r, coverage, v, base + r.int(0, 75 * DAY_MS)),
  }));
  return logLines(r, coverage, list);
}

// ---------------------------------------------------------------------------------------------

/** A test body that, when it fails, keeps the temporary files for inspection. */
const keepOnFailure = (body) => () => {
  try {
    return body();
  } catch (e) {
    failed = true;
    throw e;
  }
};

test('the kernel without a model scores nothing', keepOnFailure(() => {
  assert.equal(kernel.describe().length, 0);
  assert.equal(kernel.apply(encodeEvent({ type: 'page_view', path: '/', query: {} }), Date.UTC(2026, 0, 1)), -2);
  assert.equal(kernel.explain(Date.UTC(2026, 0, 1)).length, 0);
}));

test('the kernel refuses what is not a compiled model', keepOnFailure(() => {
  const text = new TextEncoder().encode('this is not a compiled leadscore model, just some text\n');
  assert.equal(kernel.load(text), 1);
}));

test('example models: the kernel scores their logs as the CLI does', keepOnFailure(() => {
  const mismatches = [];
  for (const name of EXAMPLES) {
    const prepared = prepare(`example-${name}`, path.join(root, 'www', 'models', `${name}.json`));
    allAccepted([prepared]);
    const lines = fs.readFileSync(path.join(root, 'www', 'models', `${name}.events.jsonl`), 'utf8')
      .split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
    mismatches.push(...compare(prepared, lines));
    // The example models the build ships are the ones `leadscore build` compiles.
    const shipped = path.join(root, 'pkg', 'models', `${name}.bin`);
    assert.ok(Buffer.from(prepared.bin).equals(fs.readFileSync(shipped)),
      `${shipped} is not what leadscore build compiles from www/models/${name}.json`);
  }
  report(mismatches);
}));

test('example models: the kernel scores generated logs as the CLI does', keepOnFailure(() => {
  const r = prng(SEED);
  const mismatches = [];
  for (const name of EXAMPLES) {
    const prepared = prepare(`generated-log-${name}`, path.join(root, 'www', 'models', `${name}.json`));
    allAccepted([prepared]);
    mismatches.push(...compare(prepared, generatedLog(r, prepared.doc, VISITORS_PER_EXAMPLE_MODEL, name)));
  }
  report(mismatches);
}));

test('generated models: leadscore check accepts each, the kernel loads it and scores as the CLI does', keepOnFailure(() => {
  const r = prng(SEED ^ 0x9e3779b9);
  const mismatches = [];
  const prepared = [];
  const logs = [];
  for (let n = 0; n < GENERATED_MODELS; n++) {
    const doc = randomModel(r, coverage, n);
    prepared.push(prepare(`model-${n}`, doc));
    logs.push(generatedLog(r, doc, VISITORS_PER_GENERATED_MODEL, `m${n}`));
  }
  allAccepted(prepared);
  prepared.forEach((p, n) => mismatches.push(...compare(p, logs[n])));
  report(mismatches);
}));

test('the kernel state saved and restored before every event (a page load each) scores the same', keepOnFailure(() => {
  assert.ok(totals.visitors > 0, 'no visitors were replayed');
  report(restoreMismatches, true);
}));

test('the runs covered every event type and model feature, and enough visitors', keepOnFailure(() => {
  console.log(`compared ${totals.models} models, ${totals.visitors} visitors, ${totals.events} events, ` +
    `${totals.transitions} tier transitions`);
  const missing = EXPECTED_COVERAGE.filter((tag) => !coverage.has(tag));
  assert.deepEqual(missing, [], `never generated (a generator gap): ${missing.join(', ')}`);
  const unseen = EXPECTED_OBSERVED.filter((tag) => !observed.has(tag));
  assert.deepEqual(unseen, [], `never seen in the CLI's results (events miss the rules): ${unseen.join(', ')}`);
  assert.ok(totals.visitors >= 1000, `only ${totals.visitors} visitors compared`);
}));
