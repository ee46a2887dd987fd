#!/usr/bin/env node
// `node benches/browser/run.mjs [--smoke] [--json]` (`make bench-browser`): the leadscore kernel
// against a plain-JS loop and json-rules-engine, side by side in one headless Chromium run.
//
// Prints the tables and writes benches/browser/results.md (not with --smoke: 200 events, one
// run, for the test suite). Exits 1 when the variants disagree on any result or the stored state
// outgrows its bound: benchmarks report, and every run checks that the results are equal.

import fs from 'node:fs';
import path from 'node:path';
import { FULL, SMOKE, root, runBench } from './harness.mjs';

const args = new Set(process.argv.slice(2));
const smoke = args.has('--smoke');
const result = await runBench(smoke ? SMOKE : FULL, (line) => console.error(`bench-browser: ${line}`));

const jreVersion = JSON.parse(fs.readFileSync(path.join(root, 'node_modules', 'json-rules-engine', 'package.json'), 'utf8')).version;
const int = (n) => Math.round(n).toLocaleString('en-US');
const ns = (n) => (n >= 10_000 ? int(n) : n.toLocaleString('en-US', { maximumSignificantDigits: 3 }));
const ratio = (x) => (x >= 100 ? int(x) : x.toFixed(2)) + '×';
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Per loop: the measured runs' wall and CPU milliseconds; per pair: the per-round ratios. */
function summarize(r) {
  const loops = {};
  for (const round of r.rounds) {
    for (const [loop, t] of Object.entries(round)) {
      (loops[loop] ??= { wall: [], cpu: [] }).wall.push(t.wall);
      loops[loop].cpu.push(t.cpu);
    }
  }
  // CPU time includes what the measurement itself costs the page's thread (the DevTools calls
  // around each run): the median of the empty loop's, subtracted.
  const overhead = median(loops.noop.cpu);
  for (const t of Object.values(loops)) t.cpu = t.cpu.map((ms) => ms - overhead);
  const cpu = (round, loop) => round[loop].cpu - overhead;
  const paired = (a, b) => median(r.rounds.filter((x) => x[a] && x[b]).map((x) => cpu(x, a) / cpu(x, b)));
  return { loops, paired, overhead };
}

function report(r) {
  const lines = [];
  const e = r.events;
  const per = (ms) => (ms * 1e6) / e;
  const { loops, paired, overhead } = summarize(r);
  const row = (label, loop, vsKernel) => {
    const t = loops[loop];
    const cpu = per(median(t.cpu));
    const bold = loop === 'kernel' ? '**' : '';
    return `| ${label} | ${bold}${ns(cpu)}${bold} | ${ns(per(Math.min(...t.cpu)))}–${ns(per(Math.max(...t.cpu)))} | ` +
      `${ns(per(median(t.wall)))} | ${t.cpu.length} | ${vsKernel} |`;
  };
  lines.push(`### Per event: ${int(e)} events of ${int(r.visitors)} visitors, ${r.rules}-rule model (benches/browser/model.json)`, '');
  lines.push('| variant | ns per event, main-thread CPU (median) | fastest–slowest run | ns per event, wall (median) | runs | CPU time / leadscore (median of rounds) |');
  lines.push('|---|---:|---:|---:|---:|---:|');
  lines.push(row('(a) leadscore kernel: `encodeEvent` + `apply` through the wasm boundary', 'kernel', '1'));
  lines.push(row('&nbsp;&nbsp;of which `encodeEvent` (the shim\'s JS)', 'encode', ratio(paired('encode', 'kernel'))));
  lines.push(row('&nbsp;&nbsp;of which `reset` + `apply` of pre-encoded bytes (boundary + kernel)', 'applyEncoded', ratio(paired('applyEncoded', 'kernel'))));
  lines.push(row('(b) plain-JS loop interpreting the model JSON', 'reference', ratio(paired('reference', 'kernel'))));
  lines.push(row(`(c) json-rules-engine ${jreVersion} + state keeping`, 'rulesEngine', ratio(paired('rulesEngine', 'kernel'))));
  lines.push('');
  lines.push(`leadscore / plain JS: **${paired('kernel', 'reference').toFixed(2)}** (target ≤ 1.0; ` +
    `${paired('applyEncoded', 'reference').toFixed(2)} for the kernel alone); ` +
    `json-rules-engine / leadscore: **${ratio(paired('rulesEngine', 'kernel'))}** (target > 1,000×). ` +
    `Ratios are medians of per-round ratios of main-thread CPU time (each round runs the loops back to back; ` +
    `${overhead.toFixed(2)} ms per run of measuring overhead subtracted).`);
  lines.push('');
  const c = r.check;
  const tiers = r.tierNames.map((t, i) => `${t} ${int(c.tiers[i])}`).join(', ');
  lines.push(`Results, checked on this run: each event's tier answer (tier and previous tier) equal in all three ` +
    `variants in the results pass and in every timed run; each visitor's final tier, previous tier, four ` +
    `sub-scores, total and per-rule times and points bit for bit equal for ` +
    `${int(c.finalsEqual.reference)}/${int(r.visitors)} visitors (b) and ${int(c.finalsEqual.rulesEngine)}/${int(r.visitors)} (c). ` +
    `Final tiers: ${tiers}; ${int(c.changes)} tier changes; ${int(c.rejected)} invalid events rejected by all three.`);
  lines.push('');

  if (r.cold) {
    const loads = r.cold;
    const fromScript = loads.map((l) => l.fromScript);
    const fromNav = loads.map((l) => l.fromNavigation);
    const long = loads.map((l) => (l.longTasks === null ? 'n/a' : l.longTasks.length));
    lines.push(`### Cold start: demo page \`/\` (tests/e2e/server.mjs), ${loads.length} cold loads, fresh context each`, '');
    lines.push('| measure | median | loads |');
    lines.push('|---|---:|---|');
    lines.push(`| script fetch start → \`leadscore:ready\` (first page view scored) | ${int(median(fromScript))} ms | ${fromScript.map(int).join(', ')} ms |`);
    lines.push(`| navigation start → \`leadscore:ready\` | ${int(median(fromNav))} ms | ${fromNav.map(int).join(', ')} ms |`);
    lines.push(`| long tasks (> 50 ms) overlapping that window | ${long.every((x) => x === 0) ? '0' : long.join(', ')} | ${long.join(', ')} |`);
    const files = loads[0].files.map((f) => `\`${f.path}\` ${int(f.bytes)} B`).join(', ');
    lines.push('', `Widget files fetched: ${files}.`, '');
  }

  const s = r.single;
  const m = r.memory;
  const kib = (b) => `${int(b)} B (${int(b / 1024)} KiB)`;
  lines.push('### Memory and stored state', '');
  lines.push('| measure | bytes |');
  lines.push('|---|---:|');
  lines.push(`| wasm linear memory after \`init\` | ${kib(m.afterInit)} |`);
  lines.push(`| wasm linear memory after start (\`init\` + \`load\` of the model) | ${kib(m.afterLoad)} |`);
  lines.push(`| wasm linear memory after ${int(s.events)} events of one visitor | ${kib(m.afterOneVisitor)} |`);
  lines.push(`| wasm linear memory after all the runs above | ${kib(m.afterRuns)} |`);
  for (const [n, bytes] of Object.entries(s.sizes)) lines.push(`| stored state (\`state().length\`) after ${int(Number(n))} event${n === '1' ? '' : 's'} | ${int(bytes)} |`);
  lines.push(`| largest stored state seen (every 100 events) / most the model allows | ${int(s.largest)} / ${int(s.bound)} |`);
  lines.push('');
  lines.push(`The state grows while its bounded lists fill (distinct pages up to 64, frequency windows, ` +
    `expiry times up to 32 per rule), then stays flat: it holds counters and times per rule, never the events ` +
    `(the run fails if it ever exceeds the bound computed from the model).`);
  lines.push('');
  lines.push(`Environment: Chromium ${r.browserVersion} headless, ${r.cpus} cores, load average ` +
    `${r.load.map((x) => x.toFixed(1)).join(' / ')} at the end (shared machine), timer resolution ` +
    `${r.timerResolution.toFixed(3)} ms; kernel state format ${r.stateFormat}; ${r.settings.warmups} warm-up rounds ` +
    `before the measured ones ((a) and (b) in alternating order), ${r.settings.jreWarmups} warm-up run for (c); Math.exp differs from the engine's libm exp on ` +
    `${int(r.mathExp.differ)} of ${int(r.mathExp.tried)} decay exponents in this browser (the reference uses a port ` +
    `of libm's); whole run ${r.seconds.toFixed(0)} s.`);
  return lines.join('\n');
}

const text = report(result);
if (args.has('--json')) console.log(JSON.stringify(result, null, 1));
console.log(text);
if (result.problems.length) {
  console.error(`\nbench-browser: FAILED — ${result.problems.length} problem(s):`);
  for (const p of result.problems) console.error(`  ${p}`);
  process.exitCode = 1;
} else if (!smoke) {
  const file = path.join(root, 'benches', 'browser', 'results.md');
  const header = `# bench-browser results\n\n\`node benches/browser/run.mjs\` (\`make bench-browser\`), ${new Date().toISOString()}.\n\n`;
  fs.writeFileSync(file, header + text + '\n');
  console.error(`bench-browser: wrote ${path.relative(process.cwd(), file)}`);
}
