// Whole-process timing for the benchmarks that race the real xfs_io against
// the foliofuzz CLI (`seq`, `mixed`): run a command to completion with a
// script on its standard input, wall time from spawn to exit, and the helpers
// both sections use to compare the final files and print rates.

import { spawnSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';

export interface Timed {
  seconds: number;
  status: number | null;
  signal: string | null;
  stderr: string;
  stdout: string;
}

/** Run cmd to its end (stdin from stdinFile, or none); wall time includes start-up, as a user sees it. */
export function timeProcess(cmd: string, args: string[], stdinFile?: string): Timed {
  const fd = stdinFile === undefined ? 'ignore' : openSync(stdinFile, 'r');
  try {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, args, {
      stdio: [fd, 'pipe', 'pipe'],
      maxBuffer: 1 << 30,
      encoding: 'utf8',
    });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.error) throw r.error;
    return { seconds, status: r.status, signal: r.signal, stderr: r.stderr, stdout: r.stdout };
  } finally {
    if (typeof fd === 'number') closeSync(fd);
  }
}

/** The first offset where a and b differ (a length difference counts), or -1 when they are identical. */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

export const rate = (n: number, s: number): string => `${Math.round(n / s).toLocaleString('en-US')} commands/s`;
