// What the program's text alone tells the oracle, before any event: facts
// that hold whatever the schedule.

import type { Program } from '../prog/types.js';

/**
 * Per file, whether the program both writes it directly and through the
 * cache: then a collision may leave stale page cache, and the kernel records
 * -EIO for fsync (dio_warn_stale_pagecache's errseq_set) even when its log
 * line is rate-limited away (ten a day): a real kernel's trace may lack the
 * `stale` event while its fsync reports the error.
 */
export function mayCollide(p: Program): boolean[] {
  const direct = new Array<boolean>(p.files.length).fill(false);
  const cached = new Array<boolean>(p.files.length).fill(false);
  const mapFiles = new Map<number, number>();
  for (const op of p.threads.flatMap((t) => t.ops)) {
    if (op.op === 'mmap') mapFiles.set(op.map, p.fds[op.fd]!.file);
    if (op.op === 'pwrite' || op.op === 'aio_write') (p.fds[op.fd]!.direct ? direct : cached)[p.fds[op.fd]!.file] = true;
    else if (op.op === 'copy_range') cached[p.fds[op.fdOut]!.file] = true;
    else if (op.op === 'mwrite' && mapFiles.has(op.map)) cached[mapFiles.get(op.map)!] = true;
  }
  return direct.map((d, f) => d && cached[f]!);
}
