// What the finding pipeline's tests and the coordinator's share: small
// programs and temporary stores removed after each test.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEFAULT_CONFIG, type Program } from '../../../worker/prog/types.js';

/** Stores written before the embedded campaign and the coordinator shared one finding record. */
export const FINDING_FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/findings/', import.meta.url));

/** A program of `n` writes; `fill` tells programs of one size apart. */
export function writes(n: number, fill = 1): Program {
  const ops = Array.from({ length: n }, (_, i) => ({ op: 'pwrite' as const, fd: 0, off: i * 4096, len: 4096, fill }));
  return { version: 1, config: DEFAULT_CONFIG, files: [{ name: 'f' }], fds: [{ file: 0, direct: false }], threads: [{ ops }] };
}

/** A fresh directory, removed after the test that made it (call at the top level of a test file). */
export function tempDirs(prefix: string): () => string {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  return () => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
}
