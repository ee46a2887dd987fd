// A run of `make loop-demo` (scripts/loop-demo.mjs): generated visitors whose conversions
// follow a known ground truth go through the real CLI and a real collector: the tier truth must flag
// the drift, the model retuned from the rule summaries and outcomes must rank the next period's
// visitors better, and the collector's champion/challenger comparison must name it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

test('loop demo (5,000 visitors a period, as make loop-demo): drift flagged, the retuned model ranks the next leads better and wins as challenger', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'loop-demo-'));
  try {
    const run = spawnSync('node', [path.join(root, 'scripts', 'loop-demo.mjs'), '--out', out],
      { encoding: 'utf8', timeout: 300_000 });
    assert.equal(run.status, 0, run.stdout + run.stderr);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
    assert.ok(summary.drift_flags >= 1, JSON.stringify(summary));
    assert.ok(summary.auc_v2 > summary.auc_v1, JSON.stringify(summary));
    assert.deepEqual(summary.verdicts.length, 1, JSON.stringify(summary));
    assert.match(summary.verdicts[0], /^acme-saas v2 qualifies leads that convert more often/);
    for (const name of ['saas-v1.json', 'saas-v2.json', 'collector.db', 'truth-period1.json', 'truth-period2.json']) {
      assert.ok(fs.existsSync(path.join(out, name)), name);
    }
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
