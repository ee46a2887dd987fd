#!/usr/bin/env node
// The bytes a page downloads for the widget, raw / gzip -9 / brotli (quality 11), next to the
// same measure of other analytics snippets installed from npm.
//
//   widget         what every page downloads on the compiled-model path: the shim, the
//                  wasm-bindgen glue and the kernel, and their total (the budget holds this total)
//   models         each example model compiled (pkg/models/*.bin) and as JSON (www/models/*.json)
//   debug bundle   loaded only on demand (data-debug, ?leadscore_debug=1, a .json model): for information
//   peers          other trackers measured the same way in the same run, and their ratio to the widget
//
// Usage: node scripts/size.mjs [--check] [--markdown]
//   --check      exit 1 when the widget's total brotli exceeds size-budget.json or a file is missing
//   --markdown   print the tables for the README instead

import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const WIDGET = [
  ['pkg/leadscore.js', 'shim'],
  ['pkg/leadscore_wasm.js', 'glue'],
  ['pkg/leadscore_wasm_bg.wasm', 'kernel'],
];
const DEBUG = [
  ['pkg/leadscore-debug.js', 'debug panel'],
  ['pkg/leadscore_debug.js', 'debug glue'],
  ['pkg/leadscore_debug_bg.wasm', 'debug wasm'],
];

// Each peer is measured by the file its standard embed snippet loads first; like our debug bundle,
// the chunks they fetch later (destinations, session recording, surveys...) are not counted, so
// these figures are the least a page downloads for each of them.
const PEERS = [
  {
    // The webpack "standalone" entry (dist/umd/standalone.js) is the build Segment serves as
    // analytics.min.js from its CDN to the snippet; dist/umd/index.js is the UMD library for bundlers.
    name: '@segment/analytics-next',
    label: 'Segment analytics-next (standalone)',
    files: ['dist/umd/standalone.js'],
  },
  {
    // The minified browser build the snippet loads (mixpanel-2-latest.min.js on Mixpanel's CDN);
    // the session recorder is a separate, lazily loaded module.
    name: 'mixpanel-browser',
    label: 'Mixpanel (mixpanel.min.js)',
    files: ['dist/mixpanel.min.js', 'build/mixpanel.min.js'],
  },
  {
    // dist/array.js is what the PostHog snippet loads (array.js on its CDN); recorder, surveys and
    // toolbar are fetched later as separate files.
    name: 'posthog-js',
    label: 'PostHog (array.js)',
    files: ['dist/array.js'],
  },
  {
    // The package ships one built module, its "exports"/"module" entry (plausible.js); the CDN's
    // script.js is built from the same source.
    name: '@plausible-analytics/tracker',
    label: 'Plausible tracker',
    files: ['plausible.js', 'dist/plausible.js'],
    entry: true,
  },
];

/** Raw, gzip -9 and brotli (quality 11, generic mode, size hint = input length) byte counts. */
function measure(bytes) {
  return {
    raw: bytes.length,
    gzip: zlib.gzipSync(bytes, { level: 9 }).length,
    brotli: zlib.brotliCompressSync(bytes, {
      params: {
        [zlib.constants.BROTLI_PARAM_QUALITY]: 11,
        [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_GENERIC,
        [zlib.constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
      },
    }).length,
  };
}

const exists = (rel) => fs.existsSync(path.join(root, rel));
const measureFile = (rel) => measure(fs.readFileSync(path.join(root, rel)));
const sum = (rows) =>
  rows.reduce((t, r) => ({ raw: t.raw + r.raw, gzip: t.gzip + r.gzip, brotli: t.brotli + r.brotli }),
    { raw: 0, gzip: 0, brotli: 0 });

/** Measures a list of [file, role]; missing files are returned by name. */
function measureGroup(files) {
  const rows = [];
  const missing = [];
  for (const [file, role] of files) {
    if (exists(file)) rows.push({ file, role, ...measureFile(file) });
    else missing.push(file);
  }
  return { rows, missing, total: sum(rows) };
}

/** Each compiled example model with its JSON source of the same base name. */
function measureModels() {
  const dir = path.join(root, 'pkg', 'models');
  const bins = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.bin')).sort() : [];
  return bins.map((bin) => {
    const base = bin.slice(0, -'.bin'.length);
    const json = `www/models/${base}.json`;
    return { name: base, bin: measureFile(`pkg/models/${bin}`), json: exists(json) ? measureFile(json) : null };
  });
}

/** The file a peer package ships for browsers, found among its candidates or its package entry. */
function findPeerFile(peer) {
  const dir = path.join(root, 'node_modules', ...peer.name.split('/'));
  if (!fs.existsSync(path.join(dir, 'package.json'))) return { missing: true };
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  const candidates = [...peer.files];
  if (peer.entry) {
    const dot = pkg.exports?.['.'];
    const entry = dot?.browser ?? dot?.import ?? dot?.default ?? pkg.module ?? pkg.main;
    if (typeof entry === 'string') candidates.push(entry.replace(/^\.\//, ''));
  }
  const file = candidates.find((f) => fs.existsSync(path.join(dir, f)));
  if (!file) return { version: pkg.version, notFound: candidates };
  return { version: pkg.version, file, ...measure(fs.readFileSync(path.join(dir, file))) };
}

function readBudget() {
  const file = path.join(root, 'size-budget.json');
  if (!fs.existsSync(file)) return null;
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

const n = (bytes) => bytes.toLocaleString('en-US');
const ratio = (peer, ours) => {
  if (!(ours > 0)) return '–';
  const r = peer / ours;
  return `${r >= 10 ? r.toFixed(0) : r.toPrecision(2)}×`;
};
const pct = (part, whole) => `${Math.round((100 * part) / whole)}%`;

function printText({ widget, models, debug, peers, budget }) {
  const columns = (name, raw, gzip, brotli) =>
    `${name.padEnd(42)} ${raw.padStart(10)} ${gzip.padStart(9)} ${brotli.padStart(9)}`;
  const row = (name, m, extra = '') => console.log(columns(name, n(m.raw), n(m.gzip), n(m.brotli)) + extra);
  const head = (title) => console.log(`\n${columns(title, 'raw', 'gzip -9', 'brotli')}`);

  head('widget (compiled-model path)');
  for (const r of widget.rows) row(`  ${path.basename(r.file)} (${r.role})`, r);
  for (const f of widget.missing) console.log(`  ${path.basename(f)}: MISSING (run make wasm)`);
  row(widget.missing.length ? '  total (incomplete)' : '  total', widget.total);
  if (budget && widget.missing.length === 0) {
    const left = budget.total_brotli - widget.total.brotli;
    const margin = left >= 0 ? `${n(left)} left` : `OVER by ${n(-left)}`;
    console.log(`  budget: ${n(widget.total.brotli)} of ${n(budget.total_brotli)} bytes brotli ` +
      `(${pct(widget.total.brotli, budget.total_brotli)}; ${margin})`);
    if (Number.isFinite(budget.target_brotli)) {
      const gap = widget.total.brotli - budget.target_brotli;
      console.log(`  target: ${n(budget.target_brotli)} bytes brotli ` +
        (gap > 0 ? `(${n(gap)} to go)` : '(reached)'));
    }
  }

  head('models (compiled .bin | JSON)');
  if (models.length === 0) console.log('  no pkg/models/*.bin (run make wasm)');
  for (const m of models) {
    row(`  ${m.name}.bin`, m.bin);
    if (m.json) row(`  ${m.name}.json`, m.json, `   (.bin: ${pct(m.bin.brotli, m.json.brotli)} of JSON, brotli)`);
  }

  head('debug bundle (loaded on demand)');
  for (const r of debug.rows) row(`  ${path.basename(r.file)} (${r.role})`, r);
  for (const f of debug.missing) console.log(`  ${path.basename(f)}: MISSING`);
  if (debug.rows.length) row('  total', debug.total);

  head('peers (npm packages, same run)');
  for (const p of peers) {
    if (p.missing) console.log(`  ${p.name}: not installed (npm install -D ${p.name})`);
    else if (p.notFound) console.log(`  ${p.name}@${p.version}: no built file among ${p.notFound.join(', ')}`);
    else {
      const times = ratio(p.brotli, widget.total.brotli).padStart(6);
      row(`  ${p.label}`, p, `   ${times} leadscore  ${p.name}@${p.version}/${p.file}`);
    }
  }
  row('  leadscore (widget total)', widget.total);
}

function printMarkdown({ widget, models, debug, peers, budget }) {
  const line = (cells) => console.log(`| ${cells.join(' | ')} |`);
  const sizes = (m) => [n(m.raw), n(m.gzip), n(m.brotli)];
  console.log('| What a page downloads | Raw | gzip -9 | brotli |');
  console.log('|---|--:|--:|--:|');
  for (const r of widget.rows) line([`\`${path.basename(r.file)}\` (${r.role})`, ...sizes(r)]);
  line(['**Total**', ...sizes(widget.total).map((s) => `**${s}**`)]);
  if (budget) {
    const used = pct(widget.total.brotli, budget.total_brotli);
    console.log(`\nBudget: ${n(budget.total_brotli)} bytes brotli (${used} used).`);
  }

  if (models.length) {
    console.log('\n| Model | Compiled (.bin) brotli | JSON brotli |');
    console.log('|---|--:|--:|');
    for (const m of models) line([m.name, n(m.bin.brotli), m.json ? n(m.json.brotli) : '–']);
  }
  if (debug.rows.length) {
    console.log('\nThe debug bundle (panel and JSON model compiler, loaded only on demand) is ' +
      `${n(debug.total.brotli)} bytes brotli.`);
  }

  const measured = peers.filter((p) => p.file);
  if (measured.length) {
    console.log('\n| Script (first file the embed loads) | brotli | vs leadscore |');
    console.log('|---|--:|--:|');
    line(['leadscore', n(widget.total.brotli), '1×']);
    for (const p of measured) {
      line([`${p.label} ${p.version}`, n(p.brotli), ratio(p.brotli, widget.total.brotli)]);
    }
  }
}

function main(argv) {
  const check = argv.includes('--check');
  const markdown = argv.includes('--markdown');
  const unknown = argv.filter((a) => a !== '--check' && a !== '--markdown');
  if (unknown.length) {
    console.error(`size: unknown argument ${unknown.join(' ')}`);
    console.error('usage: node scripts/size.mjs [--check] [--markdown]');
    return 2;
  }

  const report = {
    widget: measureGroup(WIDGET),
    models: measureModels(),
    debug: measureGroup(DEBUG),
    peers: PEERS.map((p) => ({ ...p, ...findPeerFile(p) })),
    budget: readBudget(),
  };
  (markdown ? printMarkdown : printText)(report);
  if (!check) return 0;

  const failures = [];
  const { widget, models, debug, peers, budget } = report;
  for (const f of [...widget.missing, ...debug.missing]) failures.push(`${f} is missing (run make wasm)`);
  if (models.length === 0) failures.push('no compiled model in pkg/models/ (run make wasm)');
  for (const p of peers) {
    if (p.missing) failures.push(`peer ${p.name} is not installed (npm install)`);
    else if (p.notFound) failures.push(`peer ${p.name}@${p.version} has none of ${p.notFound.join(', ')}`);
  }
  if (!budget || !Number.isFinite(budget.total_brotli)) {
    failures.push('size-budget.json with a numeric "total_brotli" is missing');
  } else if (widget.missing.length === 0 && widget.total.brotli > budget.total_brotli) {
    const over = widget.total.brotli - budget.total_brotli;
    failures.push(`the widget is ${n(widget.total.brotli)} bytes brotli, ${n(over)} over the budget ` +
      `of ${n(budget.total_brotli)} (size-budget.json)`);
  }
  if (failures.length) {
    console.error(`\nsize check FAILED:\n${failures.map((f) => `  - ${f}`).join('\n')}`);
    return 1;
  }
  console.log(`\nsize check ok: ${n(widget.total.brotli)} of ${n(budget.total_brotli)} bytes brotli`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
