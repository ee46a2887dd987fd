#!/usr/bin/env node
// Checks that the production kernel carries none of the code the widget must not ship: `core::fmt`,
// the dlmalloc allocator and the panic machinery with its messages.
//
// It reads the names-kept build (target/wasm-names/leadscore_wasm_bg.wasm: the same code as
// pkg/leadscore_wasm_bg.wasm, with the "name" section kept) and reports
//   - functions whose names match a forbidden pattern, mangled (`_ZN4core3fmt…`, `_RNv…4core3fmt…`)
//     or demangled (`core::fmt::write`);
//   - known panic messages in the data segments (these survive in the stripped build too, so the
//     shipped pkg/leadscore_wasm_bg.wasm is searched as well when it is there);
//   - the counts of functions, imports and exports and the biggest function bodies.
// Exits 1 when anything forbidden is found or the file cannot be checked.
//
// Usage: node scripts/check-kernel.mjs [names-kept.wasm] [--top N]

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NAMES_KEPT = 'target/wasm-names/leadscore_wasm_bg.wasm';
const SHIPPED = 'pkg/leadscore_wasm_bg.wasm';

/** Function-name patterns the kernel must not contain, tested on the raw and the demangled name. */
export const FORBIDDEN_FUNCTIONS = [
  { what: 'core::fmt', pattern: /core::fmt|4core3fmt/ },
  { what: 'dlmalloc', pattern: /dlmalloc/i },
  { what: 'core::panicking', pattern: /(core|std)::panicking|4core9panicking|3std9panicking/ },
  { what: 'panic_fmt', pattern: /panic_fmt/ },
  { what: 'rust_begin_unwind', pattern: /rust_begin_unwind/ },
];

/** Messages of Rust's panics (bounds checks, unwrap, overflow checks, allocation failure...). */
export const PANIC_MESSAGES = [
  'index out of bounds',
  'called `Option::unwrap()`',
  'called `Result::unwrap()`',
  'attempt to ',
  'panicked at',
  'capacity overflow',
  'slice index',
  'unreachable code',
  'assertion failed',
  'already borrowed',
  'memory allocation of',
  'range start index',
  'range end index',
  'removal index',
  'insertion index',
  'assertion `left',
  'Tried to shrink',
];

const SECTION = { custom: 0, type: 1, import: 2, function: 3, export: 7, code: 10, data: 11 };
const EXTERNAL_KIND = ['function', 'table', 'memory', 'global', 'tag'];

/** A cursor over wasm bytes: LEB128 integers, names and byte vectors. */
class Reader {
  constructor(bytes, start = 0, end = bytes.length) {
    this.bytes = bytes;
    this.pos = start;
    this.end = end;
  }

  get done() {
    return this.pos >= this.end;
  }

  byte() {
    if (this.pos >= this.end) throw new Error(`unexpected end of data at byte ${this.pos}`);
    return this.bytes[this.pos++];
  }

  u32() {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) return result;
      shift += 7;
      if (shift > 35) throw new Error(`LEB128 integer too long at byte ${this.pos}`);
    }
  }

  /** Skips a signed LEB128 integer (constant expressions only need to be stepped over). */
  skipLeb() {
    while (this.byte() & 0x80);
  }

  take(length) {
    if (this.pos + length > this.end) {
      throw new Error(`length ${length} at byte ${this.pos} runs past its section`);
    }
    const out = this.bytes.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }

  name() {
    return new TextDecoder().decode(this.take(this.u32()));
  }

  limits() {
    const flags = this.byte();
    this.u32();
    if (flags & 1) this.u32();
  }

  /** Steps over a constant expression (data segment offsets): the opcodes a constant may use. */
  constExpr() {
    for (;;) {
      const op = this.byte();
      if (op === 0x0b) return;
      if (op === 0x41 || op === 0x42) this.skipLeb(); // i32.const, i64.const
      else if (op === 0x23 || op === 0xd2) this.u32(); // global.get, ref.func
      else if (op === 0x44) this.take(8); // f64.const
      else if (op === 0x43) this.take(4); // f32.const
      else if (op === 0xd0) this.byte(); // ref.null t
      else if (op >= 0x6a && op <= 0x6c) continue; // i32.add/sub/mul (extended constants)
      else if (op >= 0x7c && op <= 0x7e) continue; // i64.add/sub/mul
      else throw new Error(`unsupported opcode 0x${op.toString(16)} in a constant expression`);
    }
  }
}

/**
 * Reads the parts of a wasm module the check needs: imports, exports, function bodies (index and
 * size), function names from the "name" section and the bytes of each data segment.
 */
export function parseWasm(bytes) {
  bytes = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const magic = [0x00, 0x61, 0x73, 0x6d];
  if (bytes.length < 8 || magic.some((b, i) => bytes[i] !== b)) {
    throw new Error('not a WebAssembly module (bad magic)');
  }
  const version = bytes[4] | (bytes[5] << 8) | (bytes[6] << 16) | (bytes[7] << 24);
  if (version !== 1) throw new Error(`unsupported WebAssembly version ${version}`);

  const module = {
    imports: [], // {module, name, kind}
    exports: [], // {name, kind, index}
    bodies: [], // {index, size} of each defined function, index in the function index space
    names: new Map(), // function index → name
    data: [], // Uint8Array per data segment
    customSections: [],
    hasNames: false,
  };
  let importedFunctions = 0;
  const r = new Reader(bytes, 8);
  while (!r.done) {
    const id = r.byte();
    const size = r.u32();
    const s = new Reader(bytes, r.pos, r.pos + size);
    r.take(size);
    if (id === SECTION.custom) {
      const name = s.name();
      module.customSections.push(name);
      if (name === 'name') {
        readNameSection(s, module.names);
        // Names count only if they name the functions: a name section may hold none.
        module.hasNames = module.names.size > 0;
      }
    } else if (id === SECTION.import) {
      for (let n = s.u32(); n > 0; n--) {
        const imp = { module: s.name(), name: s.name(), kind: EXTERNAL_KIND[s.byte()] ?? 'unknown' };
        if (imp.kind === 'function') {
          s.u32();
          importedFunctions++;
        } else if (imp.kind === 'table') {
          s.byte();
          s.limits();
        } else if (imp.kind === 'memory') {
          s.limits();
        } else if (imp.kind === 'global') {
          s.byte();
          s.byte();
        } else if (imp.kind === 'tag') {
          s.byte();
          s.u32();
        } else {
          throw new Error(`unknown import kind in ${imp.module}.${imp.name}`);
        }
        module.imports.push(imp);
      }
    } else if (id === SECTION.export) {
      for (let n = s.u32(); n > 0; n--) {
        module.exports.push({ name: s.name(), kind: EXTERNAL_KIND[s.byte()] ?? 'unknown', index: s.u32() });
      }
    } else if (id === SECTION.code) {
      const count = s.u32();
      for (let i = 0; i < count; i++) {
        const bodySize = s.u32();
        s.take(bodySize);
        module.bodies.push({ index: importedFunctions + i, size: bodySize });
      }
    } else if (id === SECTION.data) {
      for (let n = s.u32(); n > 0; n--) {
        const flags = s.u32();
        if (flags === 2) s.u32(); // memory index
        if (flags !== 1) s.constExpr(); // active segments have an offset
        module.data.push(s.take(s.u32()));
      }
    }
  }
  module.importedFunctions = importedFunctions;
  return module;
}

/** Function names (subsection 1) of a "name" custom section. */
function readNameSection(s, names) {
  while (!s.done) {
    const id = s.byte();
    const size = s.u32();
    const sub = new Reader(s.bytes, s.pos, s.pos + size);
    s.take(size);
    if (id !== 1) continue;
    for (let n = sub.u32(); n > 0; n--) {
      const index = sub.u32();
      names.set(index, sub.name());
    }
  }
}

const LEGACY_ESCAPES = {
  $SP$: '@', $BP$: '*', $RF$: '&', $LT$: '<', $GT$: '>', $LP$: '(', $RP$: ')', $C$: ',',
  $u7e$: '~', $u20$: ' ', $u27$: "'", $u5b$: '[', $u5d$: ']', $u7b$: '{', $u7d$: '}', $u3b$: ';',
  $u2b$: '+', $u22$: '"',
};

/**
 * `core::fmt::write` for the legacy mangling `_ZN4core3fmt5write17h0123456789abcdefE`; other
 * names come back without a trailing `::h<hash>` and without the crate disambiguators of v0
 * demangling (`core[c5930c85a12de822]::fmt::write` → `core::fmt::write`).
 */
export function demangle(name) {
  const m = /^_?_ZN(.*)E$/.exec(name);
  if (!m) {
    return name
      .replace(/::h[0-9a-f]{16}(\.\d+)?$/, '')
      .replace(/\b([A-Za-z_][A-Za-z0-9_]*)\[[0-9a-f]+\]/g, '$1');
  }
  const parts = [];
  let rest = m[1];
  while (rest.length > 0) {
    const len = /^(\d+)/.exec(rest);
    if (!len) return name;
    const n = Number(len[1]);
    parts.push(rest.slice(len[1].length, len[1].length + n));
    rest = rest.slice(len[1].length + n);
  }
  if (parts.length > 1 && /^h[0-9a-f]{16}$/.test(parts.at(-1))) parts.pop();
  return parts
    .map((p) =>
      p
        .replace(/^_\$/, '$')
        .replace(/\$[A-Za-z0-9]+\$/g, (e) => LEGACY_ESCAPES[e] ?? e)
        .replace(/\.\./g, '::'))
    .join('::');
}

/** Where each panic message occurs in the data segments: {message, segment, offset, context}. */
export function findPanicMessages(module) {
  const found = [];
  module.data.forEach((segment, index) => {
    const text = Buffer.from(segment).toString('latin1');
    for (const message of PANIC_MESSAGES) {
      for (let at = text.indexOf(message); at !== -1; at = text.indexOf(message, at + 1)) {
        const context = text
          .slice(Math.max(0, at - 16), at + message.length + 32)
          .replace(/[^\x20-\x7e]/g, '.');
        found.push({ message, segment: index, offset: at, context });
      }
    }
  });
  return found;
}

/**
 * Checks one wasm module. `ok` is false when a forbidden function or a panic message is found, or
 * when the module has no function names (the function check would pass without looking).
 */
export function checkKernel(bytes, { top = 15 } = {}) {
  const module = parseWasm(bytes);
  const nameOf = (index) => module.names.get(index) ?? `func[${index}]`;
  const forbiddenFunctions = [];
  for (const [index, raw] of module.names) {
    const demangled = demangle(raw);
    const hit = FORBIDDEN_FUNCTIONS.find(({ pattern }) => pattern.test(raw) || pattern.test(demangled));
    if (hit) forbiddenFunctions.push({ index, name: demangled, raw, what: hit.what });
  }
  const panicMessages = findPanicMessages(module);
  const problems = [];
  if (!module.hasNames) {
    problems.push('no "name" section: function names cannot be checked (use the names-kept build)');
  }
  if (forbiddenFunctions.length) problems.push(`${forbiddenFunctions.length} forbidden function(s)`);
  if (panicMessages.length) problems.push(`${panicMessages.length} panic message(s) in the data segments`);
  return {
    ok: problems.length === 0,
    problems,
    hasNames: module.hasNames,
    forbiddenFunctions,
    panicMessages,
    functions: module.bodies.length,
    importedFunctions: module.importedFunctions,
    imports: module.imports,
    exports: module.exports,
    codeBytes: module.bodies.reduce((sum, b) => sum + b.size, 0),
    dataBytes: module.data.reduce((sum, d) => sum + d.length, 0),
    biggest: [...module.bodies]
      .sort((a, b) => b.size - a.size)
      .slice(0, top)
      .map((b) => ({ index: b.index, size: b.size, name: demangle(nameOf(b.index)) })),
  };
}

function main(argv) {
  let top = 15;
  const files = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--top') top = Number(argv[++i]);
    else if (argv[i] === '--help' || argv[i] === '-h') {
      console.log('usage: node scripts/check-kernel.mjs [names-kept.wasm] [--top N]');
      return 0;
    } else files.push(argv[i]);
  }
  const file = path.resolve(root, files[0] ?? NAMES_KEPT);
  const rel = path.relative(root, file);
  if (!fs.existsSync(file)) {
    console.error(`check-kernel: FAIL: ${rel} is missing (the wasm build writes it: make wasm)`);
    return 1;
  }
  let report;
  try {
    report = checkKernel(fs.readFileSync(file), { top });
  } catch (err) {
    console.error(`check-kernel: FAIL: cannot read ${rel}: ${err.message}`);
    return 1;
  }

  const kinds = (list) => {
    const counts = {};
    for (const { kind } of list) counts[kind] = (counts[kind] ?? 0) + 1;
    return Object.entries(counts).map(([k, n]) => `${n} ${k}`).join(', ') || 'none';
  };
  console.log(`${rel}: ${fs.statSync(file).size} bytes`);
  console.log(`  functions: ${report.functions} defined (${report.codeBytes} bytes of code), ` +
    `${report.importedFunctions} imported`);
  console.log(`  imports:   ${report.imports.length} (${kinds(report.imports)})`);
  for (const i of report.imports) console.log(`             ${i.module}.${i.name} (${i.kind})`);
  console.log(`  exports:   ${report.exports.length} (${kinds(report.exports)})`);
  console.log(`             ${report.exports.map((e) => e.name).join(' ')}`);
  console.log(`  data:      ${report.dataBytes} bytes`);
  console.log(`\n  biggest functions (body bytes):`);
  for (const f of report.biggest) console.log(`  ${String(f.size).padStart(7)}  ${f.name}`);

  // The shipped build has no names, but its data segments and code must match the checked build.
  const shipped = path.join(root, SHIPPED);
  const problems = [];
  if (!report.hasNames) problems.push('no "name" section in the names-kept build');
  if (files.length === 0 && fs.existsSync(shipped)) {
    const prod = parseWasm(fs.readFileSync(shipped));
    const prodCode = prod.bodies.reduce((sum, b) => sum + b.size, 0);
    const same = prod.bodies.length === report.functions && prodCode === report.codeBytes;
    console.log(`\n  ${SHIPPED}: ${prod.bodies.length} functions, ${prodCode} bytes of code` +
      (same ? ' (same code as the names-kept build)' : ' — differs from the names-kept build'));
    if (!same) problems.push(`${SHIPPED} differs from ${rel}: rebuild both (make wasm)`);
    report.panicMessages.push(...findPanicMessages(prod).map((m) => ({ ...m, file: SHIPPED })));
  }

  // Known findings of the kernel (size-budget.json "kernel_known") are listed but do not fail the
  // check (a file given on the command line is checked without them); a
  // known finding that is gone fails it, so that the list only ever shrinks.
  const known = files.length === 0 ? readKnown() : { functions: [], messages: [] };
  const isKnownFunction = (f) => known.functions.includes(f.name);
  const isKnownMessage = (m) => known.messages.includes(m.message);
  const newFunctions = report.forbiddenFunctions.filter((f) => !isKnownFunction(f));
  const newMessages = report.panicMessages.filter((m) => !isKnownMessage(m));
  if (newFunctions.length) problems.push(`${newFunctions.length} forbidden function(s)`);
  if (newMessages.length) problems.push(`${newMessages.length} panic message(s) in the data segments`);
  for (const what of known.functions) {
    if (!report.forbiddenFunctions.some((f) => f.name === what)) {
      problems.push(`"${what}" is gone: remove it from kernel_known.functions in size-budget.json`);
    }
  }
  for (const message of known.messages) {
    if (!report.panicMessages.some((m) => m.message === message)) {
      problems.push(`"${message}" is gone: remove it from kernel_known.messages in size-budget.json`);
    }
  }

  if (report.forbiddenFunctions.length) {
    console.log('\n  forbidden functions:');
    for (const f of report.forbiddenFunctions) {
      const mangled = f.raw !== f.name && /^_?_[ZR]/.test(f.raw) ? `  (${f.raw})` : '';
      console.log(`    [${f.what}] ${f.name}${mangled}${isKnownFunction(f) ? '  (known)' : ''}`);
    }
  }
  if (report.panicMessages.length) {
    console.log('\n  panic messages in data:');
    for (const m of report.panicMessages) {
      const where = `${m.file ? `${m.file} ` : ''}segment ${m.segment} +${m.offset}`;
      console.log(`    "${m.message}" ${where}: ${m.context}${isKnownMessage(m) ? '  (known)' : ''}`);
    }
  }
  if (problems.length) {
    console.error(`\ncheck-kernel: FAIL: ${problems.join('; ')}`);
    return 1;
  }
  const knownCount = known.functions.length + known.messages.length;
  console.log(knownCount
    ? `\ncheck-kernel: ok: no core::fmt, no dlmalloc; ${knownCount} known panic finding(s) left (size-budget.json)`
    : '\ncheck-kernel: ok: no core::fmt, no dlmalloc, no panic machinery or messages');
  return 0;
}

/** `kernel_known` of size-budget.json: `{functions: [what...], messages: [message...]}`. */
function readKnown() {
  try {
    const budget = JSON.parse(fs.readFileSync(path.join(root, 'size-budget.json'), 'utf8'));
    const known = budget.kernel_known ?? {};
    return { functions: known.functions ?? [], messages: known.messages ?? [] };
  } catch {
    return { functions: [], messages: [] };
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2));
}
