// Interesting byte values for a config: where the storage stack changes its
// mind (block, folio and sector boundaries, EOF) and one step either side.

import type { SimConfig } from '../prog/types.js';

const SECTOR = 512;
const PAGE = 4096;

/** Offsets and lengths worth trying, deduplicated, non-negative, ascending. */
export function interestingValues(config: SimConfig, eof: number): number[] {
  const bs = config.blockSize;
  const fm = config.folioMax;
  const out = new Set<number>([0, 1, SECTOR, 2 * SECTOR, bs, fm, PAGE]);
  for (const edge of [bs, 2 * bs, PAGE, fm, 2 * fm, eof]) {
    out.add(edge - 1);
    out.add(edge);
    out.add(edge + 1);
  }
  // Sector multiples near EOF: what O_DIRECT accepts.
  const eofSector = Math.floor(eof / SECTOR) * SECTOR;
  out.add(eofSector);
  out.add(eofSector + SECTOR);
  return [...out].filter((v) => v >= 0).sort((a, b) => a - b);
}

/** Estimated size of each file after `ops` (success assumed): extending writes, truncates, allocations. */
export function estimateSizes(fileOfFd: readonly number[], nfiles: number, ops: Iterable<import('../prog/types.js').Op>): number[] {
  const sizes = new Array<number>(nfiles).fill(0);
  const grow = (fd: number, end: number): void => {
    const f = fileOfFd[fd];
    if (f !== undefined && end > sizes[f]!) sizes[f] = end;
  };
  for (const op of ops) {
    switch (op.op) {
      case 'pwrite':
      case 'aio_write':
        grow(op.fd, op.off + op.len);
        break;
      case 'truncate': {
        const f = fileOfFd[op.fd];
        if (f !== undefined) sizes[f] = op.size;
        break;
      }
      case 'fallocate':
        if (op.mode === 'alloc' || op.mode === 'zero') grow(op.fd, op.off + op.len);
        break;
      case 'copy_range':
        grow(op.fdOut, op.offOut + op.len);
        break;
      default:
        break;
    }
  }
  return sizes;
}
