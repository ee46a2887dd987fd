// The benchmark's browser side (loaded by harness.mjs into headless Chromium): scores the same
// generated events with (a) the leadscore kernel through its public boundary, (b) the plain-JS
// reference and (c) json-rules-engine; checks on every run that all three give the same results;
// times them; measures the kernel's memory and stored state.

import init, * as kernel from '/pkg/leadscore_wasm.js';
import { encodeEvent } from '/shim/event.js';
import jsonRulesEngine from '/vendor/json-rules-engine.mjs';
import { generate, oneVisitor } from '/bench/events.mjs';
import * as ref from '/bench/reference.mjs';
import * as jre from '/bench/jre.mjs';

const DIMENSIONS = ['fit', 'engagement', 'intent', 'product', 'total'];

/** (a) the kernel, as the widget calls it: a fresh state per visitor, each event encoded and applied. */
function runKernel(visitors, codes) {
  let k = 0;
  for (const v of visitors) {
    kernel.reset();
    for (const e of v.events) codes[k++] = kernel.apply(encodeEvent(e.event, true), e.t);
  }
}

/** Where (a)'s time goes, part 1: `encodeEvent` alone (the shim's JS). */
function runEncode(visitors, encoded) {
  let k = 0;
  for (const v of visitors) for (const e of v.events) encoded[k++] = encodeEvent(e.event);
}

/** Part 2: `reset` + `apply` with the bytes encoded beforehand (the boundary and the kernel). */
function runApplyEncoded(visitors, encoded, codes) {
  let k = 0;
  for (const v of visitors) {
    kernel.reset();
    for (const e of v.events) {
      codes[k] = kernel.apply(encoded[k], e.t);
      k++;
    }
  }
}


/** (b) the plain-JS reference. */
function runReference(model, visitors, codes) {
  let k = 0;
  for (const v of visitors) {
    const state = ref.newState(model);
    for (const e of v.events) codes[k++] = ref.apply(model, state, e.event, e.t);
  }
}

/** (c) json-rules-engine with the reference's state keeping around it. */
async function runRulesEngine(scorer, visitors, codes) {
  let k = 0;
  for (const v of visitors) {
    const state = scorer.newState();
    for (const e of v.events) codes[k++] = await scorer.apply(state, e.event, e.t);
  }
}

/** A visitor's final result from the kernel: tier, previous tier, sub-scores, total, and per rule
 * the times fired and points now (from `explain`). */
function kernelFinal(now) {
  const x = kernel.explain(now);
  const rules = {};
  for (let i = 10; i + 4 < x.length; i += 5) rules[x[i]] = [x[i + 3], x[i + 2]];
  return { tier: x[6], previous: x[7], scores: [x[0], x[1], x[2], x[3], x[4]], rules };
}

/** The same from the reference's state (the json-rules-engine variant keeps the same state). */
function stateFinal(model, state, now) {
  const s = ref.score(model, state, now);
  const rules = {};
  for (const r of model.rules) {
    const rs = state.rules[r.index];
    if (rs.count !== 0) rules[r.index] = [rs.count, ref.rulePoints(r, rs, now)];
  }
  return { tier: s.tier, previous: s.previous, scores: [s.fit, s.engagement, s.intent, s.product, s.total], rules };
}

/** Differences between two visitors' final results (exact: floats must be the same bits). */
function differences(id, a, b, ruleIds) {
  const out = [];
  if (a.tier !== b.tier) out.push(`${id}: tier ${a.tier} vs ${b.tier}`);
  if (a.previous !== b.previous) out.push(`${id}: previous tier ${a.previous} vs ${b.previous}`);
  a.scores.forEach((x, i) => {
    if (!Object.is(x, b.scores[i]) && x !== b.scores[i]) out.push(`${id}: ${DIMENSIONS[i]} ${x} vs ${b.scores[i]} (diff ${x - b.scores[i]})`);
  });
  for (const i of new Set([...Object.keys(a.rules), ...Object.keys(b.rules)])) {
    const [ta, pa] = a.rules[i] ?? [0, 0];
    const [tb, pb] = b.rules[i] ?? [0, 0];
    if (ta !== tb || pa !== pb) out.push(`${id}: rule ${ruleIds[i]} times ${ta} vs ${tb}, points ${pa} vs ${pb}`);
  }
  return out;
}

function firstDifference(want, got) {
  for (let i = 0; i < want.length; i++) if (want[i] !== got[i]) return i;
  return -1;
}

function withSlightlyOtherHalfLives(json) {
  const copy = structuredClone(json);
  for (const r of copy.rules) if (r.decay?.half_life_days) r.decay.half_life_days *= 1 + 1e-12;
  return copy;
}

/**
 * Prepares the benchmark and checks the results. Options: `visitors`, `events`, `seed` (the
 * generated traffic), `single` (events of the one-visitor stream for memory and state size),
 * `stateBound` (most bytes the state may take for the model, whatever the number of events),
 * `fault` (tests only). Then `benchTime(name)` times one loop and `benchFinish()` gives everything.
 */
window.benchPrepare = async (o) => {
  const out = { problems: [] };
  const problem = (text) => out.problems.push(text);

  // --- the kernel, as the widget starts it ---
  const wasm = await init({ module_or_path: '/pkg/leadscore_wasm_bg.wasm' });
  const memory = () => wasm.memory.buffer.byteLength;
  out.memory = { afterInit: memory() };
  const bin = new Uint8Array(await (await fetch('/model.bin')).arrayBuffer());
  const loaded = kernel.load(bin);
  if (loaded !== 0) throw new Error(`kernel.load(model.bin) answered ${loaded} (1 not a model, 2 other format version, 3 damaged, 4 malformed)`);
  out.memory.afterLoad = memory();
  const stateFormat = kernel.state()[0];
  out.stateFormat = stateFormat;
  const json = await (await fetch('/model.json')).json();
  // `fault` (tests only): the reference gets half-lives off by one part in 10^12, to show that the
  // comparison catches differences in the last bits.
  const refJson = o.fault ? withSlightlyOtherHalfLives(json) : json;
  const model = ref.prepare(refJson, { stateFormat });
  const scorer = jre.create(jsonRulesEngine.Engine, json, { stateFormat });
  const ruleIds = json.rules.map((r) => r.id);
  out.rules = json.rules.length;
  out.tierNames = ['unqualified', ...json.tiers.map((t) => t.name)];

  // --- one visitor, many events: memory and stored state (before anything else grows memory) ---
  {
    const v = oneVisitor(o.single);
    kernel.reset();
    const state = ref.newState(model);
    const sizes = {};
    let largest = 0;
    v.events.forEach((e, i) => {
      const a = kernel.apply(encodeEvent(e.event), e.t);
      const b = ref.apply(model, state, e.event, e.t);
      if (a !== b) problem(`one visitor, event ${i + 1}: kernel ${a}, reference ${b}`);
      const n = i + 1;
      if (n === 1 || n === 10 || n % 100 === 0 || n === v.events.length) {
        const bytes = kernel.state().length;
        largest = Math.max(largest, bytes);
        if ([1, 10, 100, 1000, 10_000, v.events.length].includes(n)) sizes[n] = bytes;
      }
    });
    const now = v.events.at(-1).t;
    for (const d of differences('one visitor', kernelFinal(now), stateFinal(model, state, now), ruleIds)) problem(d);
    out.single = { events: v.events.length, sizes, largest, bound: o.stateBound };
    if (largest > o.stateBound) {
      problem(`stored state grew to ${largest} bytes over ${v.events.length} events of one visitor: ` +
        `more than the ${o.stateBound} bytes the model allows (${JSON.stringify(sizes)})`);
    }
    out.memory.afterOneVisitor = memory();
    const restored = kernel.restore(kernel.state());
    if (!restored) problem('kernel.restore(kernel.state()) answered false');
  }

  // --- the traffic ---
  const visitors = generate({ visitors: o.visitors, events: o.events, seed: o.seed });
  const n = visitors.reduce((sum, v) => sum + v.events.length, 0);
  out.visitors = visitors.length;
  out.events = n;

  // Results pass (untimed): per-event answers of all three, then each visitor's final result.
  const want = new Int32Array(n);
  const gotReference = new Int32Array(n);
  const gotRulesEngine = new Int32Array(n);
  const finals = { reference: 0, rulesEngine: 0 };
  {
    let k = 0;
    const tiers = new Array(out.tierNames.length).fill(0);
    let changes = 0;
    let rejected = 0;
    for (const v of visitors) {
      kernel.reset();
      const sb = ref.newState(model);
      const sc = scorer.newState();
      for (const e of v.events) {
        const bytes = encodeEvent(e.event);
        want[k] = kernel.apply(bytes, e.t);
        gotReference[k] = ref.apply(model, sb, e.event, e.t);
        gotRulesEngine[k] = await scorer.apply(sc, e.event, e.t);
        if (want[k] < 0) rejected++;
        else if ((want[k] & 255) !== want[k] >> 8) changes++;
        k++;
      }
      const now = v.events.at(-1).t;
      const a = kernelFinal(now);
      tiers[a.tier]++;
      const db = differences(`${v.id} reference`, a, stateFinal(model, sb, now), ruleIds);
      const dc = differences(`${v.id} json-rules-engine`, a, stateFinal(scorer.model, sc, now), ruleIds);
      if (db.length === 0) finals.reference++;
      if (dc.length === 0) finals.rulesEngine++;
      for (const d of [...db, ...dc].slice(0, 3)) if (out.problems.length < 30) problem(d);
    }
    for (const [name, got] of [['reference', gotReference], ['json-rules-engine', gotRulesEngine]]) {
      const i = firstDifference(want, got);
      if (i >= 0) problem(`${name}: event ${i} answered ${got[i]}, the kernel ${want[i]}`);
    }
    out.check = { finalsEqual: finals, tiers, changes, rejected };
  }

  // How many of the decay exponents Math.exp gives differently from the engine's libm exp (the
  // reference uses a port of libm's; see reference.mjs).
  {
    let differ = 0;
    const tried = 100_000;
    for (let i = 0; i < tried; i++) {
      const x = -(i / tried) * Math.LN2;
      if (Math.exp(x) !== ref.libmExp(x)) differ++;
    }
    out.mathExp = { tried, differ };
  }

  // --- timed runs (driven by the harness, one loop per call, so that it can read the main
  // thread's CPU time around each); every run's answers are compared with the kernel's ---
  const codes = new Int32Array(n);
  const encoded = new Array(n);
  const loops = {
    kernel: () => runKernel(visitors, codes),
    reference: () => runReference(model, visitors, codes),
    rulesEngine: () => runRulesEngine(scorer, visitors, codes),
    encode: () => runEncode(visitors, encoded),
    applyEncoded: () => runApplyEncoded(visitors, encoded, codes),
    noop: () => {}, // what measuring one call costs the page's thread
  };
  window.benchTime = async (name) => {
    if (name === 'applyEncoded' && encoded[0] === undefined) runEncode(visitors, encoded);
    codes.fill(0);
    const t0 = performance.now();
    await loops[name]();
    const ms = performance.now() - t0;
    if (name !== 'encode' && name !== 'noop') {
      const i = firstDifference(want, codes);
      if (i >= 0) problem(`${name}, timed run: event ${i} answered ${codes[i]}, the kernel's results pass ${want[i]}`);
    }
    return ms;
  };
  window.benchFinish = () => {
    out.memory.afterRuns = memory();
    out.userAgent = navigator.userAgent;
    out.timerResolution = (() => {
      const a = performance.now();
      let b = a;
      while (b === a) b = performance.now();
      return b - a;
    })();
    return out;
  };
  return out;
};

window.benchReady = true;
