// SIM ONLY facts for the oracle: where the page cache holds bytes a store
// through a mapping put past EOF that nothing zeroed (post-eof-stores.ts).
// When a file grows over them, those bytes are unspecified on a real kernel
// only if the page cache kept them; the sim knows which. Reported before
// each event whose judgement may grow a file, whenever the list changed.

import type { Inode } from '../sim/include/fs.js';
import type { TraceEvent } from '../trace/types.js';

export class PostEofHints {
  /** Per file, the flat [start, end, ...] list last reported (empty: none). */
  private readonly shown: number[][];

  constructor(
    private readonly inodes: readonly Inode[],
    private readonly emit: (ev: TraceEvent) => void,
  ) {
    this.shown = inodes.map(() => []);
  }

  /** Report every file whose list changed since it was last reported. */
  note(): void {
    for (let file = 0; file < this.inodes.length; file++) {
      const now = this.inodes[file]!.mapping.postEofStores;
      const shown = this.shown[file]!;
      if (now === null ? shown.length === 0 : sameList(now, shown)) continue;
      const flat = now === null ? [] : now.slice();
      this.shown[file] = flat;
      const ranges: [number, number][] = [];
      for (let k = 0; k < flat.length; k += 2) ranges.push([flat[k]!, flat[k + 1]!]);
      this.emit({ e: 'posteof', file, ranges });
    }
  }
}

function sameList(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
