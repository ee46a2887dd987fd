// The browser benchmark's smoke mode (benches/browser, `--smoke`: 200 events of 20 visitors, one
// run of each variant): the leadscore kernel, the plain-JS reference and json-rules-engine give the
// same results, and the kernel's stored state stays within its bound over 10,000 events of one
// visitor. No timing is asserted: benchmarks report, tests check results.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runBench, SMOKE } from '../../benches/browser/harness.mjs';

test('bench-browser --smoke: kernel, plain-JS loop and json-rules-engine agree on every result', async () => {
  const r = await runBench(SMOKE);

  assert.deepEqual(r.problems, [], 'no differences between the variants, no state over its bound');
  assert.equal(r.events, SMOKE.events);
  assert.equal(r.visitors, SMOKE.visitors);
  assert.equal(r.rules, 30, 'the 30-rule benchmark model');
  // Every visitor's final tier, previous tier, sub-scores, total and per-rule points: bit for bit.
  assert.equal(r.check.finalsEqual.reference, SMOKE.visitors, 'reference = kernel for every visitor');
  assert.equal(r.check.finalsEqual.rulesEngine, SMOKE.visitors, 'json-rules-engine = kernel for every visitor');
  // The smoke traffic exercises what it should: tier changes and a rejected event.
  assert.ok(r.check.changes > 0, 'some visitors change tier');
  assert.ok(r.check.rejected > 0, 'some events are rejected by all three');
  // Each timed run's answers were checked too (one round in smoke mode).
  assert.equal(r.rounds.length, 1);
  assert.deepEqual(Object.keys(r.rounds[0]).sort(),
    ['applyEncoded', 'encode', 'kernel', 'noop', 'reference', 'rulesEngine']);
  // The stored state is bounded by the model, not by the number of events.
  assert.ok(r.single.largest <= r.single.bound, `state ${r.single.largest} B within ${r.single.bound} B`);
  assert.ok(r.single.sizes[10_000] > 0);
});

test('bench-browser --smoke: the comparison catches a difference in the last bits of a sub-score', async () => {
  // The reference scores with half-lives off by one part in 10^12.
  const r = await runBench({ ...SMOKE, fault: true });
  assert.ok(r.problems.length > 0, 'differences reported');
  assert.ok(r.check.finalsEqual.reference < SMOKE.visitors, JSON.stringify(r.check));
  assert.equal(r.check.finalsEqual.rulesEngine, SMOKE.visitors, 'json-rules-engine still equals the kernel');
});
