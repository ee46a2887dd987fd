#!/usr/bin/env node
// Closing the loop, end to end, on generated visitors whose conversions follow a known ground
// truth (`make loop-demo`):
//
//   1. The current model. Period 0 (12 to 8 weeks ago): visitors convert as the example model
//      (www/models/saas.json) believes. Their tier results, with rule summaries, and their
//      outcomes go to a collector; `leadscore retune` makes v1 from them, which carries the
//      conversion rate its training saw per tier.
//   2. Drift. Period 1 (8 to 4 weeks ago): the world changed: visitors who come back to the
//      pricing page convert far more often than v1's points say, content readers less. The
//      visitors are scored by v1 with the real engine (`leadscore score`, the CLI path), their
//      results and outcomes posted to a running collector, and the collector's tier truth shows
//      observed against expected conversion per tier, with the drift flag.
//   3. Retune. `leadscore retune --base v1 --db` refits v1 from those summaries and outcomes
//      into v2; both score the next period's visitors (period 2, the last 4 weeks) and their
//      ROC AUC against the ground truth is printed.
//   4. Champion and challenger. Period 2's visitors are split by the widget's own assignment
//      (a hash of the visitor id and the challenger's URL, 50 %): v1 scores one half, v2 the
//      other; results and outcomes go to the collector, whose comparison names the better model.
//
// Usage: node scripts/loop-demo.mjs [--visitors N] [--out DIR] [--seed S]
// Needs the CLI built (cargo build --features cli); writes everything into DIR
// (default target/loop-demo): event logs, models, the SQLite databases, the truth as JSON, and
// summary.json with the figures (drift flags, ROC AUC of v1 and v2, the comparison's verdict).

import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inShare } from '../www/shim/store.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const VISITORS = Number(arg('--visitors', 5000));
const OUT = path.resolve(arg('--out', path.join(root, 'target', 'loop-demo')));
const SEED = Number(arg('--seed', 1));
const BIN = path.join(process.env.CARGO_TARGET_DIR || path.join(root, 'target'), 'debug', 'leadscore');
const TOKEN = 'loop-demo-outcome-token';
/** Share of leads the retuned models put in MQL or higher (as marketing and sales agreed). */
const MQL_SHARE = '0.4';
const DAY = 86_400_000;
const WEEK = 7 * DAY;
const NOW = Date.now();

/** A small seeded generator (mulberry32): the same seed, the same visitors. */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const sigmoid = (x) => 1 / (1 + Math.exp(-x));

/**
 * What a visitor does, drawn once: answers, pages, downloads, forms, product use. The ground
 * truth gives the probability of converting from these behaviours.
 */
function behaviour(r) {
  const pick = (options) => {
    let u = r();
    for (const [value, p] of options) if ((u -= p) < 0) return value;
    return options[options.length - 1][0];
  };
  return {
    role: pick([['cto', 0.25], ['engineer', 0.35], ['student', 0.1], [null, 0.3]]),
    size: pick([[250, 0.35], [20, 0.25], [5, 0.1], [null, 0.3]]),
    pricing: pick([[0, 0.45], [1, 0.25], [2, 0.15], [3, 0.15]]),
    docs: pick([[0, 0.5], [1, 0.2], [3, 0.2], [5, 0.1]]),
    blog: Math.floor(r() * 5),
    ebook: r() < 0.3,
    webinar: r() < 0.25,
    demo: r() < 0.08,
    careers: r() < 0.07,
    trial: r() < 0.15,
  };
}

/** Conversion odds in the world the example model was written for (its points, roughly). */
function truthAsModelled(b) {
  const points = (b.role == 'cto' ? 20 : b.role == 'engineer' ? 8 : b.role == 'student' ? -30 : 0) +
    (b.size == 250 ? 15 : b.size == 5 ? -10 : 0) + 10 * b.pricing + (b.docs >= 3 ? 10 : 0) + 2 * b.blog +
    (b.ebook ? 15 : 0) + (b.webinar ? 20 : 0) + (b.demo ? 40 : 0) + (b.careers ? -25 : 0) + (b.trial ? 35 : 0);
  return sigmoid(-3.2 + 0.045 * points);
}

/**
 * After the drift: repeated pricing-page visits matter far more; content (webinars, ebooks,
 * docs, blog) hardly any more, so the leads that content makes MQL convert less than v1 expects.
 */
function truthDrifted(b) {
  const points = (b.role == 'cto' ? 20 : b.role == 'engineer' ? 8 : b.role == 'student' ? -30 : 0) +
    (b.size == 250 ? 15 : b.size == 5 ? -10 : 0) + (b.demo ? 40 : 0) + (b.careers ? -25 : 0) + (b.trial ? 35 : 0);
  return sigmoid(-3.4 + 0.045 * points + 1.1 * b.pricing);
}

/** The events a visitor's behaviour gives, spread over a few days from `start`. */
function events(id, b, start, r) {
  const out = [];
  let t = start;
  const at = (gapMs) => (t += gapMs);
  const add = (event, time) => out.push({ visitor: id, ts: new Date(time).toISOString(), ...event });
  add({ type: 'page_view', path: '/' }, at(0));
  for (let i = 0; i < b.blog; i++) add({ type: 'page_view', path: `/blog/post-${i}` }, at(60_000));
  for (let i = 0; i < b.docs; i++) add({ type: 'page_view', path: `/docs/guide/${i}` }, at(90_000));
  if (b.role) add({ type: 'answer', question: 'role', value: b.role }, at(30_000));
  if (b.size != null) add({ type: 'answer', question: 'company_size', value: String(b.size) }, at(20_000));
  if (b.role || b.size != null) add({ type: 'form_submit', id: 'fit-quiz' }, at(5_000));
  if (b.ebook) add({ type: 'download', url: 'https://acme.example/resources/guide.pdf' }, at(40_000));
  if (b.webinar) add({ type: 'form_submit', id: 'webinar' }, at(50_000));
  if (b.careers) add({ type: 'page_view', path: '/careers/open-roles' }, at(30_000));
  // Pricing visits on separate days (the rule counts at most 3 a week).
  for (let i = 0; i < b.pricing; i++) add({ type: 'page_view', path: '/pricing' }, at(DAY * (1 + r())));
  if (b.demo) add({ type: 'form_submit', id: 'demo-request' }, at(3_600_000));
  if (b.trial) {
    add({ type: 'custom', name: 'signup' }, at(DAY));
    add({ type: 'custom', name: 'teammate_invited' }, at(3_600_000));
    add({ type: 'custom', name: 'feature_used', properties: { feature: 'report' } }, at(3_600_000));
  }
  return out;
}

/** `n` visitors of one period (from `from`, over four weeks) under `truth`. */
function period(name, n, from, truth, seed) {
  const r = random(seed);
  const visitors = [];
  const lines = [];
  for (let i = 0; i < n; i++) {
    const id = `${name}-${String(i).padStart(5, '0')}-${Math.floor(r() * 2 ** 32).toString(16).padStart(8, '0')}`;
    const b = behaviour(r);
    const start = from + Math.floor(r() * 3 * WEEK);
    const converted = r() < truth(b);
    visitors.push({ id, converted, accepted: converted || r() < 0.3, start });
    lines.push(...events(id, b, start, r));
  }
  lines.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
  const file = path.join(OUT, `${name}.events.jsonl`);
  fs.writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  return { name, visitors, file };
}

/** `leadscore score MODEL EVENTS --json --rules`: each visitor's tier changes, each with the rule
 * summary the widget sends with it, and the final score. */
function score(model, file) {
  const out = execFileSync(BIN, ['score', model, file, '--json', '--rules'], { maxBuffer: 1 << 30 });
  return new Map(JSON.parse(out).map((v) => [v.visitor, v]));
}

/** ROC AUC of `scores` for `labels` (ties count half). */
function auc(scores, labels) {
  const items = scores.map((s, i) => [s, labels[i]]).sort((a, b) => a[0] - b[0]);
  let rankSum = 0;
  let positives = 0;
  for (let i = 0; i < items.length;) {
    let j = i;
    while (j < items.length && items[j][0] == items[i][0]) j++;
    const rank = (i + j + 1) / 2;
    for (let k = i; k < j; k++) if (items[k][1]) { rankSum += rank; positives++; }
    i = j;
  }
  const negatives = items.length - positives;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** A running collector on a free port, with the outcome token. */
async function collector(db, models) {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const args = ['serve', '--listen', `127.0.0.1:${port}`, '--db', db, '--outcome-token', TOKEN, '--rate-limit', '0'];
  for (const m of models) args.push('--model', m);
  const child = spawn(BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d) => (log += d));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(url + '/v1/summary')).ok) return { url, stop: () => child.kill('SIGINT') };
    } catch { /* not listening yet */ }
    if (child.exitCode != null) break;
    await new Promise((ok) => setTimeout(ok, 100));
  }
  child.kill();
  throw new Error(`the collector did not start:\n${log}`);
}

/** Posts in parallel batches; every answer must be 2xx. */
async function postAll(url, bodies, headers = {}) {
  for (let i = 0; i < bodies.length; i += 32) {
    await Promise.all(bodies.slice(i, i + 32).map(async (body) => {
      const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
      if (!r.ok) throw new Error(`${url}: ${r.status} ${await r.text()}`);
    }));
  }
}

const idHex = (text) => {
  let h = 0n;
  for (const c of text) h = (h * 131n + BigInt(c.charCodeAt(0))) % (1n << 128n);
  return h.toString(16).padStart(32, '0').slice(-32);
};

/** What the widget would send for each visitor: a result per tier change, with the rule summary. */
function results(scored, visitors, modelOf) {
  const bodies = [];
  for (const v of visitors) {
    const s = scored(v).get(v.id);
    if (!s) continue;
    const model = modelOf(v);
    for (const t of s.transitions) {
      bodies.push({
        schema: 1, tier: t.to, previous_tier: t.from, model_id: model.id, model_version: model.model_version,
        visitor_id: idHex(v.id), event_id: idHex(v.id + t.at + t.to), at: t.at, lead_id: 'lead-' + v.id,
        rules: t.rules,
      });
    }
  }
  return bodies;
}

/** What sales reports: accepted, then an opportunity for those who convert. */
function outcomes(visitors) {
  const bodies = [];
  for (const v of visitors) {
    const at = (days) => new Date(Math.min(v.start + days * DAY, NOW)).toISOString();
    if (v.accepted) bodies.push({ outcome_id: 'acc-' + v.id, lead_id: 'lead-' + v.id, outcome: 'accepted', at: at(6) });
    if (v.converted) bodies.push({ outcome_id: 'opp-' + v.id, lead_id: 'lead-' + v.id, outcome: 'opportunity', at: at(9) });
    else if (v.accepted) bodies.push({ outcome_id: 'lost-' + v.id, lead_id: 'lead-' + v.id, outcome: 'lost', at: at(12) });
  }
  return bodies;
}

const pct = (x) => (x == null ? '-' : (100 * x).toFixed(1) + ' %');
const run = (args) => execFileSync(BIN, args, { encoding: 'utf8' });

async function main() {
  fs.rmSync(OUT, { recursive: true, force: true });
  fs.mkdirSync(OUT, { recursive: true });
  const base = path.join(root, 'www', 'models', 'saas.json');
  const v1 = path.join(OUT, 'saas-v1.json');
  const v2 = path.join(OUT, 'saas-v2.json');
  const read = (file) => JSON.parse(fs.readFileSync(file, 'utf8'));
  const truthOf = async (c) => (await (await fetch(c.url + '/v1/summary/truth')).json());
  let drift = 0;
  let verdicts = [];

  console.log(`${VISITORS} visitors per period, seed ${SEED}; files in ${path.relative(root, OUT) || OUT}\n`);

  // 1. The current model, retuned from a period that behaved as the example model believes.
  const p0 = period('period0', VISITORS, NOW - 12 * WEEK, truthAsModelled, SEED);
  {
    const c = await collector(path.join(OUT, 'history.db'), [base]);
    try {
      const scored = score(base, p0.file);
      const model = read(base);
      await postAll(c.url + '/v1/tier', results(() => scored, p0.visitors, () => model));
      await postAll(c.url + '/v1/outcome', outcomes(p0.visitors), { authorization: `Bearer ${TOKEN}` });
    } finally {
      c.stop();
    }
    run(['retune', '--base', base, '--db', path.join(OUT, 'history.db'), '--out', v1, '--model-version', 'v1',
      '--mql-share', MQL_SHARE]);
    console.log('1. current model: v1, retuned from period 0 (the world as the example model saw it)');
  }

  // 2. Drift: period 1 scored by v1, posted to the collector; the tier truth flags it.
  const p1 = period('period1', VISITORS, NOW - 8 * WEEK, truthDrifted, SEED + 1);
  const db = path.join(OUT, 'collector.db');
  let c = await collector(db, [v1]);
  try {
    const scored = score(v1, p1.file);
    const model = read(v1);
    const posted = results(() => scored, p1.visitors, () => model);
    await postAll(c.url + '/v1/tier', posted);
    await postAll(c.url + '/v1/outcome', outcomes(p1.visitors), { authorization: `Bearer ${TOKEN}` });
    const truth = await truthOf(c);
    fs.writeFileSync(path.join(OUT, 'truth-period1.json'), JSON.stringify(truth, null, 2));
    console.log(`\n2. period 1 (drifted: pricing-page visits matter more) scored by v1: ${posted.length} tier results, the tier truth:`);
    console.log('   tier          leads  converted  observed (95 % interval)    expected  flags');
    drift = 0;
    for (const version of truth.model_versions) {
      for (const t of version.tiers || []) {
        const interval = t.interval ? `${pct(t.interval[0])}–${pct(t.interval[1])}` : '-';
        console.log(`   ${t.tier.padEnd(12)} ${String(t.leads).padStart(6)} ${String(t.converted).padStart(10)}  ${pct(t.conversion_rate).padEnd(8)} (${interval})`.padEnd(60) +
          `${pct(t.expected_rate).padEnd(10)}${(t.flags || []).join(', ')}`);
        drift += (t.flags || []).includes('drift');
      }
    }
    console.log(drift ? `   → drift flagged on ${drift} tier(s): time to retune` : '   → no drift flagged');
  } finally {
    c.stop();
  }

  // 3. Retune v1 from what the widget saw, and judge both on the next period.
  console.log('\n3. leadscore retune --base v1 --db collector.db:\n');
  const retuned = run(['retune', '--base', v1, '--db', db, '--out', v2, '--model-version', 'v2', '--mql-share', MQL_SHARE]);
  console.log(retuned.split('\n').map((l) => '   ' + l).join('\n'));
  const p2 = period('period2', VISITORS, NOW - 4 * WEEK, truthDrifted, SEED + 2);
  const s1 = score(v1, p2.file);
  const s2 = score(v2, p2.file);
  const labels = p2.visitors.map((v) => v.converted);
  const total = (s, v) => (s.get(v.id)?.total ?? 0);
  const auc1 = auc(p2.visitors.map((v) => total(s1, v)), labels);
  const auc2 = auc(p2.visitors.map((v) => total(s2, v)), labels);
  console.log(`   period 2 (next 4 weeks, ${VISITORS} visitors, ground truth): ROC AUC v1 ${auc1.toFixed(4)}, v2 ${auc2.toFixed(4)}` +
    (auc2 > auc1 ? ' → the retuned model ranks the next leads better' : ' → NOT better'));

  // 4. Champion v1 and challenger v2 on period 2, split as the widget splits visitors.
  const challengerUrl = '/models/saas-v2.bin';
  const onChallenger = (v) => inShare(idHex(v.id) + challengerUrl, '50%');
  c = await collector(db, [v1, v2]);
  try {
    const [champion, challenger] = [read(v1), read(v2)];
    const posted = results((v) => (onChallenger(v) ? s2 : s1), p2.visitors, (v) => (onChallenger(v) ? challenger : champion));
    await postAll(c.url + '/v1/tier', posted);
    await postAll(c.url + '/v1/outcome', outcomes(p2.visitors), { authorization: `Bearer ${TOKEN}` });
    const truth = await truthOf(c);
    fs.writeFileSync(path.join(OUT, 'truth-period2.json'), JSON.stringify(truth, null, 2));
    const n = p2.visitors.filter(onChallenger).length;
    console.log(`\n4. champion v1 / challenger v2 on period 2 (${p2.visitors.length - n} / ${n} visitors by the widget's hash):`);
    const comparisons = truth.comparisons || truth.comparison || [];
    for (const cmp of [].concat(comparisons)) {
      for (const v of cmp.variants || []) {
        const shares = (v.tiers || []).map((t) => `${t.tier} ${pct(t.share)} converting ${pct(t.conversion_rate)}`).join(', ');
        console.log(`   ${v.model_id} ${v.model_version}: ${v.leads} leads; ${shares}`);
      }
      console.log('   → ' + (cmp.verdict || cmp.summary));
      if (cmp.verdict) verdicts.push(cmp.verdict);
    }
    if (![].concat(comparisons).length) console.log('   (the collector gave no comparison)');
  } finally {
    c.stop();
  }
  console.log(`\nThe dashboard shows the same: leadscore serve --db ${path.relative(root, db)} --model ${path.relative(root, v1)} --model ${path.relative(root, v2)}, then /dashboard/`);
  const summary = { visitors: VISITORS, seed: SEED, drift_flags: drift, auc_v1: auc1, auc_v2: auc2, verdicts };
  fs.writeFileSync(path.join(OUT, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
}

main().catch((e) => {
  console.error(String((e && e.stack) || e));
  process.exit(1);
});
