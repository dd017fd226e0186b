// A real kernel's own checks, from its log: a WARN_ON that fired prints
// "WARNING: CPU: 1 PID: 42 at fs/iomap/buffered-io.c:123 iomap_foo+0x1c/0x40",
// a BUG_ON "kernel BUG at mm/filemap.c:1234!". The sim's checks stop its run
// where they fire and never reach a trace as log lines; these are the
// kernel's.

import type { Raise } from '../model.js';

const WARNING = /^WARNING: CPU: \d+ PID: \d+ at (\S+):\d+ ([A-Za-z0-9_.]+)\+0x/;
const BUG = /^kernel BUG at (\S+):\d+!/;

export function kernelLogged(raise: Raise, text: string): void {
  const w = WARNING.exec(text);
  if (w) raise('WARN', `kernel-warning:${w[1]!}`, w[2]!, text);
  const b = BUG.exec(text);
  if (b) raise('BUG', `kernel-bug:${b[1]!}`, 'BUG', text);
}
