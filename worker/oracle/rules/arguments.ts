// Calls refused for arguments their man page accepts, and calls that did
// nothing where they had something to do. A program's offsets, lengths and
// flags are valid by construction (prog/validate.ts: non-negative, within
// the file size limit, known flags), so the argument errors below can only
// come from a kernel that misjudged them:
// - pwrite(2) and pread(2) refuse with EINVAL only a negative offset, or on
//   an O_DIRECT file a misaligned offset, length or buffer (not judged);
// - ftruncate(2) refuses with EINVAL only a negative length (or a file not
//   open for writing, which a program's files always are);
// - sync_file_range(2) refuses only unknown flags, a negative offset and an
//   offset + nbytes that overflows (ksys_sync_file_range);
// - copy_file_range(2) refuses with EINVAL only negative offsets, overflow,
//   flags, and overlapping ranges in one file (rw_verify_area,
//   generic_copy_file_checks); an O_DIRECT side may refuse a misaligned
//   offset or length, so those are not judged;
// - posix_fadvise(2) with POSIX_FADV_DONTNEED fails only on a bad fd, a
//   negative length or a pipe (generic_fadvise returns 0 once it runs);
// - copy_file_range returns 0 only at the source's EOF: a sequential program
//   whose source held bytes at the offset before and after the call must see
//   some of them copied, or an error.

import { EINVAL } from '../../sim/errno.js';
import type { Op } from '../../prog/types.js';
import type { CopySource, Model, Raise } from '../model.js';

type OpOf<K extends Op['op']> = Extract<Op, { op: K }>;

/** One pwrite or pread call (a chunk of the op) returned ret: never -EINVAL on a buffered file. */
export function ioArgsJudged(m: Model, raise: Raise, op: OpOf<'pwrite' | 'pread'>, off: number, len: number, ret: number): void {
  if (ret !== -EINVAL || m.fds[op.fd]!.direct) return;
  const call = op.op === 'pwrite' ? 'pwrite' : 'pread';
  raise('INVARIANT', `${call}:valid-args-refused`, `ksys_${call}64`,
    `${call}(${fileName(m, op.fd)}, ${len} bytes at ${off}) returned -EINVAL on a buffered file`);
}

/** ftruncate returned ret: never -EINVAL for a non-negative length. */
export function truncateArgsJudged(m: Model, raise: Raise, op: OpOf<'truncate'>, ret: number): void {
  if (ret !== -EINVAL) return;
  raise('INVARIANT', 'ftruncate:valid-args-refused', 'do_sys_ftruncate', `ftruncate(${fileName(m, op.fd)}, ${op.size}) returned -EINVAL`);
}

/** sync_file_range returned ret: never -EINVAL for a valid program's arguments. */
export function syncFileRangeArgsJudged(m: Model, raise: Raise, op: OpOf<'sync_file_range'>, ret: number): void {
  if (ret !== -EINVAL) return;
  raise('INVARIANT', 'sync_file_range:valid-args-refused', 'ksys_sync_file_range',
    `sync_file_range(${fileName(m, op.fd)}, ${op.off}, ${op.len}, ${op.flags}) returned -EINVAL for arguments it accepts`);
}

/** posix_fadvise(POSIX_FADV_DONTNEED) returned ret: 0 for a valid program's arguments. */
export function fadviseArgsJudged(m: Model, raise: Raise, op: OpOf<'fadvise_dontneed'>, ret: number): void {
  if (ret === 0) return;
  raise('INVARIANT', 'fadvise:valid-args-refused', 'generic_fadvise',
    `posix_fadvise(${fileName(m, op.fd)}, ${op.off}, ${op.len}, POSIX_FADV_DONTNEED) returned ${ret}, not 0`);
}

/**
 * copy_file_range returned ret: -EINVAL only where the ranges overlap in one
 * file or a side is O_DIRECT; and, in a sequential program, 0 only at the
 * source's EOF.
 */
export function copyRangeArgsJudged(m: Model, raise: Raise, c: CopySource, op: OpOf<'copy_range'>, ret: number): void {
  const inDesc = m.fds[op.fdIn]!;
  const outDesc = m.fds[op.fdOut]!;
  if (inDesc.direct || outDesc.direct) return;
  const call = `copy_file_range(${fileName(m, op.fdIn)} at ${op.offIn}, ${fileName(m, op.fdOut)} at ${op.offOut}, ${op.len})`;
  if (ret === -EINVAL && !rangesMayOverlap(op, inDesc.file === outDesc.file)) {
    raise('INVARIANT', 'copy_file_range:valid-args-refused', 'vfs_copy_file_range', `${call} returned -EINVAL for ranges that cannot overlap`);
  }
  if (ret === 0 && m.checkReads && sourceHeldBytes(m, c, op)) {
    raise('INVARIANT', 'copy_file_range:nothing-copied-before-eof', 'vfs_copy_file_range',
      `${call} returned 0, but the source holds ${c.countBefore} bytes there`);
  }
}

/** Requested ranges in one file that overlap (shortening to EOF can only make them overlap less). */
function rangesMayOverlap(op: OpOf<'copy_range'>, sameFile: boolean): boolean {
  return sameFile && op.offOut < op.offIn + op.len && op.offIn < op.offOut + op.len;
}

/** The source held bytes at offIn when the call began and when it returned, its size known both times. */
function sourceHeldBytes(m: Model, c: CopySource, op: OpOf<'copy_range'>): boolean {
  const from = m.shadowOfFd(op.fdIn);
  return !from.sizeUnknown && c.countBefore > 0 && from.size > op.offIn;
}

function fileName(m: Model, fd: number): string {
  return m.program.files[m.fileOfFd(fd)]!.name;
}
