// scripts/check-kernel.mjs must be able to fail: it is run on small modules written byte by byte,
// one carrying a core::fmt function and a panic message, one clean.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkKernel, demangle, parseWasm } from '../../scripts/check-kernel.mjs';

const utf8 = new TextEncoder();

/** Unsigned LEB128. */
function leb(n) {
  const out = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}
const vec = (items) => [...leb(items.length), ...items.flat()];
const name = (text) => vec([...utf8.encode(text)]);
const section = (id, content) => [id, ...leb(content.length), ...content];

/**
 * A valid module: one imported function `env.log`, two defined functions (the second with a body
 * of `bodyPadding` extra nops), exported `memory` and `score`, one active data segment, and a
 * "name" section naming functions (none when `names` is null).
 */
function module({ names, data, bodyPadding = 0 }) {
  const nop = 0x01;
  const body = (nops) => [0x00, ...Array(nops).fill(nop), 0x0b]; // no locals, nops, end
  const bodies = [body(0), body(bodyPadding)].map((b) => [...leb(b.length), ...b]);
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, 0x00, 0x00]])), // type 0: [] -> []
    ...section(2, vec([[...name('env'), ...name('log'), 0x00, 0x00]])), // import func of type 0
    ...section(3, vec([[0x00], [0x00]])), // two functions of type 0
    ...section(5, vec([[0x00, 0x01]])), // memory, min 1 page
    ...section(7, vec([[...name('memory'), 0x02, 0x00], [...name('score'), 0x00, 0x02]])),
    ...section(10, vec(bodies)),
    ...section(11, vec([[0x00, 0x41, 0x10, 0x0b, ...vec([...utf8.encode(data)])]])), // at i32.const 16
    ...(names
      ? section(0, [...name('name'), ...section(1, vec(names.map(([i, text]) => [...leb(i), ...name(text)])))])
      : []),
  ]);
}

test('the hand-written modules are valid WebAssembly', () => {
  assert.ok(WebAssembly.validate(module({ names: [[1, 'a'], [2, 'b']], data: 'x', bodyPadding: 200 })));
});

test('flags a core::fmt function (mangled) and a panic message', () => {
  const bytes = module({
    names: [[1, '_ZN4core3fmt5write17h0123456789abcdefE'], [2, 'leadscore::engine::apply']],
    data: 'src/engine/state.rs\0index out of bounds: the len is ',
  });
  const report = checkKernel(bytes);
  assert.equal(report.ok, false);
  assert.deepEqual(
    report.forbiddenFunctions.map((f) => [f.what, f.name]),
    [['core::fmt', 'core::fmt::write']],
  );
  assert.deepEqual(report.panicMessages.map((m) => m.message), ['index out of bounds']);
});

test('flags demangled names: dlmalloc, panicking, panic_fmt, rust_begin_unwind', () => {
  const report = checkKernel(module({
    names: [
      [1, 'dlmalloc::dlmalloc::Dlmalloc<A>::malloc::h0123456789abcdef'],
      [2, 'core::panicking::panic_fmt'],
      [0, 'rust_begin_unwind'],
    ],
    data: 'clean',
  }));
  assert.equal(report.ok, false);
  assert.deepEqual(
    report.forbiddenFunctions.map((f) => f.what).sort(),
    ['core::panicking', 'dlmalloc', 'rust_begin_unwind'],
  );
});

test('flags v0 symbols, mangled and demangled with crate disambiguators', () => {
  const report = checkKernel(module({
    names: [
      [1, '_RNvNtCs1234abcd_4core3fmt5write'],
      [2, '<core[c5930c85a12de822]::fmt::Arguments as core[c5930c85a12de822]::fmt::Display>::fmt'],
      [0, 'core[c5930c85a12de822]::panicking::panic_bounds_check'],
    ],
    data: 'clean',
  }));
  assert.deepEqual(
    report.forbiddenFunctions.map((f) => [f.what, f.name]).sort(),
    [
      ['core::fmt', '<core::fmt::Arguments as core::fmt::Display>::fmt'],
      ['core::fmt', '_RNvNtCs1234abcd_4core3fmt5write'],
      ['core::panicking', 'core::panicking::panic_bounds_check'],
    ],
  );
});

test('passes a clean module and reports its shape', () => {
  const report = checkKernel(module({
    names: [[1, 'leadscore::engine::apply'], [2, 'leadscore::model::read']],
    data: 'leadscore model v1',
    bodyPadding: 300,
  }));
  assert.deepEqual(report.problems, []);
  assert.equal(report.ok, true);
  assert.equal(report.functions, 2);
  assert.equal(report.importedFunctions, 1);
  assert.deepEqual(report.exports.map((e) => e.name), ['memory', 'score']);
  assert.equal(report.biggest[0].name, 'leadscore::model::read');
  assert.equal(report.biggest[0].size, 302); // locals count, 300 nops, end
});

test('a module without a name section cannot pass', () => {
  const stripped = module({ names: null, data: 'clean' });
  assert.equal(parseWasm(stripped).hasNames, false);
  const report = checkKernel(stripped);
  assert.equal(report.ok, false);
  assert.match(report.problems[0], /no "name" section/);
});

test('the command exits 1 on a forbidden module and 0 on a clean one', () => {
  const script = fileURLToPath(new URL('../../scripts/check-kernel.mjs', import.meta.url));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'check-kernel-'));
  try {
    const run = (bytes) => {
      const file = path.join(dir, 'kernel.wasm');
      fs.writeFileSync(file, bytes);
      return spawnSync(process.execPath, [script, file], { encoding: 'utf8' });
    };
    const fmt = '_ZN4core3fmt5write17h0123456789abcdefE';
    const bad = run(module({ names: [[1, fmt]], data: 'index out of bounds' }));
    assert.equal(bad.status, 1, bad.stdout + bad.stderr);
    assert.match(bad.stdout, /\[core::fmt\] core::fmt::write/);
    assert.match(bad.stdout, /"index out of bounds"/);
    assert.match(bad.stderr, /FAIL/);
    const clean = run(module({ names: [[1, 'leadscore::engine::apply']], data: 'clean' }));
    assert.equal(clean.status, 0, clean.stdout + clean.stderr);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('demangles legacy Rust symbols', () => {
  assert.equal(demangle('_ZN4core3fmt5write17h0123456789abcdefE'), 'core::fmt::write');
  assert.equal(
    demangle('_ZN50_$LT$T$u20$as$u20$core..convert..Into$LT$U$GT$$GT$4into17h0123456789abcdefE'),
    '<T as core::convert::Into<U>>::into',
  );
  assert.equal(demangle('core::fmt::write::h0123456789abcdef'), 'core::fmt::write');
});
