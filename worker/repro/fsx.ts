// Export a program as an fsx opsfile (the --record-ops format fsx --replay-ops
// and worker/prog/fsx.ts read) when it fits: one thread, one file, one fd and
// fsx's op set. fsx writes its own data pattern, so fill bytes do not carry
// over. Anything else is refused naming the op that does not fit.

import { describeOp } from '../prog/describe.js';
import type { Op } from '../prog/types.js';
import { ExportError } from './errors.js';
import type { Repro } from './repro.js';
import { plural } from './words.js';

const hex = (n: number): string => `0x${n.toString(16)}`;

/** One fsx line for `op`, given fsx's idea of the file size before it; or why it does not fit. */
function fsxLine(op: Op, size: number): { line: string; size: number } | string {
  const three = (name: string, off: number, len: number, flags = ''): string => `${name} ${hex(off)} ${hex(len)} ${hex(size)}${flags}`;
  switch (op.op) {
    case 'pwrite':
      if (op.bsize !== undefined && op.bsize < op.len) return 'fsx writes with one syscall; this write is split by bsize';
      return { line: three('write', op.off, op.len), size: Math.max(size, op.off + op.len) };
    case 'pread':
      if (op.bsize !== undefined && op.bsize < op.len) return 'fsx reads with one syscall; this read is split by bsize';
      return { line: three('read', op.off, op.len), size };
    case 'truncate':
      return { line: `truncate 0x0 ${hex(op.size)} ${hex(size)}`, size: op.size };
    case 'fsync':
      return { line: `fsync 0x0 0x0 ${hex(size)}`, size };
    case 'copy_range':
      return { line: `copy_range ${hex(op.offIn)} ${hex(op.len)} ${hex(op.offOut)} ${hex(size)}`, size: Math.max(size, op.offOut + op.len) };
    case 'fallocate':
      switch (op.mode) {
        case 'alloc': return { line: three('fallocate', op.off, op.len), size: Math.max(size, op.off + op.len) };
        case 'keep_size': return { line: three('fallocate', op.off, op.len, ' keep_size'), size };
        case 'punch': return { line: three('punch_hole', op.off, op.len), size };
        case 'zero': return { line: three('zero_range', op.off, op.len), size: Math.max(size, op.off + op.len) };
        case 'zero_keep': return { line: three('zero_range', op.off, op.len, ' keep_size'), size };
        case 'collapse': return { line: three('collapse_range', op.off, op.len), size: Math.max(0, size - op.len) };
        case 'insert': return { line: three('insert_range', op.off, op.len), size: size + op.len };
        case 'unshare': return { line: three('fallocate', op.off, op.len, ' unshare'), size: Math.max(size, op.off + op.len) };
      }
      return 'unknown fallocate mode';
    default:
      return `fsx has no ${op.op} operation`;
  }
}

export function exportFsx(r: Repro): string {
  const p = r.program;
  if (p.threads.length !== 1) throw new ExportError(`fsx export: the program has ${plural(p.threads.length, 'thread')}; fsx runs one`);
  if (p.files.length !== 1 || p.fds.length !== 1) throw new ExportError(`fsx export: the program has ${plural(p.files.length, 'file')} and ${plural(p.fds.length, 'fd')}; fsx works on one file through one fd`);
  let size = 0;
  const lines = [
    `# foliofuzz ${r.signature === '' ? 'control' : r.signature}; switches: ${r.bugs.join(', ') || '(none)'}`,
    `# replay: fsx --replay-ops THIS${p.fds[0]!.direct ? ' -Z' : ''} FILE (fsx writes its own data pattern)`,
  ];
  p.threads[0]!.ops.forEach((op, i) => {
    const out = fsxLine(op, size);
    if (typeof out === 'string') throw new ExportError(`fsx export: t0 op ${i} (${describeOp(op).trimEnd()}) does not fit: ${out}`);
    lines.push(out.line);
    size = out.size;
  });
  return `${lines.join('\n')}\n`;
}
