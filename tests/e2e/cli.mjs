// The native `leadscore` CLI for the end-to-end tests.

import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The `leadscore` binary: $LEADSCORE_BIN, or built now with the `cli` feature. */
export function leadscoreBinary() {
  if (process.env.LEADSCORE_BIN) return process.env.LEADSCORE_BIN;
  const out = execFileSync('cargo', ['build', '--features', 'cli', '--bin', 'leadscore', '--message-format=json'], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  for (const line of out.split('\n')) {
    if (!line.startsWith('{')) continue;
    const msg = JSON.parse(line);
    if (msg.reason === 'compiler-artifact' && msg.executable && msg.target?.name === 'leadscore') return msg.executable;
  }
  throw new Error('cargo build did not report the leadscore executable');
}
