// Fresh random programs for the fuzz engine: small, concurrent, aimed at a few
// folios of one or two files so that ops collide, with the ingredients the
// storage bugs need (AIO in flight, injected I/O errors, writeback and reclaim
// racing with writes, unwritten extents, holes, mmap stores, truncation).

import {
  PROGRAM_VERSION,
  type FdDecl,
  type FsKind,
  type InodeKind,
  type Op,
  type OpName,
  type Program,
  type Schedule,
  type SimConfig,
} from '../prog/types.js';
import { GEN_WEIGHTS, type GenOptions, OpGen, WITH_SCENES } from './op-gen.js';
import type { FuzzRng } from './rng.js';
import { scene, sceneStoresBehindWrite } from './scenes.js';

export function randomConfig(rng: FuzzRng): SimConfig {
  const [fs, inode] = rng.pick<readonly [FsKind, InodeKind]>([
    ['xfs', 'extent'], ['ext4', 'extent'], ['ext4', 'indirect'], ['fuse', 'extent'],
  ]);
  const blockSize = rng.pick([1024, 1024, 2048, 4096]);
  const folioMax = rng.pick([4096, 4096, 8192, 16384, 16384, 32768, 65536]);
  return { fs, inode, blockSize, folioMax };
}

export function randomSchedule(rng: FuzzRng, threads: number): Schedule | undefined {
  // One thread still races with bio completions, flusher and kswapd: a drawn schedule explores those too.
  if (threads === 1 && rng.chance(0.2)) return undefined;
  const strategy = rng.chance(0.5) ? 'pct' : 'random';
  return { strategy, seed: rng.int(2 ** 31), depth: rng.range(1, 4), decisions: [] };
}

/** Ops for thread t: drawn from the mix, with waits for this thread's AIO in between and at the end. */
export function threadOps(g: OpGen, t: number, nops: number): Op[] {
  const r = g.rng;
  const ops: Op[] = [];
  let guard = 0;
  while (ops.length < nops && guard++ < nops * 20) {
    const waiting = (g.pending[t]?.length ?? 0) > 0;
    const kind: OpName = waiting && r.chance(0.3) ? 'aio_wait' : r.weighted(GEN_WEIGHTS);
    if (g.gen.scenes && r.chance(0.3)) {
      ops.push(...scene(g, t));
      continue;
    }
    const op = g.op(kind, t);
    if (op) ops.push(op);
  }
  // Reap what is still in flight, mostly: an iocb left in flight is legal too.
  while ((g.pending[t]?.length ?? 0) > 0 && r.chance(0.9)) ops.push(g.op('aio_wait', t)!);
  return ops;
}

function randomFds(rng: FuzzRng, nfiles: number): FdDecl[] {
  const nfds = rng.range(1, 3);
  const fds: FdDecl[] = [];
  for (let i = 0; i < nfds; i++) fds.push({ file: i < nfiles ? i : rng.int(nfiles), direct: i > 0 && rng.chance(0.6) });
  return fds;
}

/**
 * A fresh random program: config, files, fds, 1-4 threads of about 3-30 ops
 * in all, a schedule. Without scenes (gen.scenes false) every op is drawn on
 * its own from the mix: what the search finds then, no author aimed it at.
 */
export function generateProgram(rng: FuzzRng, gen: GenOptions = WITH_SCENES): Program {
  const config = randomConfig(rng);
  const nfiles = rng.chance(0.8) ? 1 : 2;
  const fds = randomFds(rng, nfiles);
  const nthreads = rng.weighted([['1', 4], ['2', 4], ['3', 1.5], ['4', 0.5]] as const);
  const threadCount = Number(nthreads);
  const total = rng.range(Math.max(3, threadCount), 30);
  const g = new OpGen(rng, config, fds, nfiles, gen);
  const threads = [];
  for (let t = 0; t < threadCount; t++) {
    const share = t === threadCount - 1 ? total - Math.floor(total / threadCount) * t : Math.floor(total / threadCount);
    threads.push({ ops: threadOps(g, t, Math.max(1, share)) });
  }
  const files = Array.from({ length: nfiles }, (_, i) => ({ name: `f${i}` }));
  const prog: Program = { version: PROGRAM_VERSION, config, files, fds, threads };
  const schedule = randomSchedule(rng, threadCount);
  if (schedule) prog.schedule = schedule;
  // Sometimes two threads play a cross-thread scene instead of what was drawn
  // (decided last: the other programs stay as they were).
  if (gen.scenes && threadCount >= 2 && rng.chance(0.2)) {
    const [writer, storer] = sceneStoresBehindWrite(g);
    prog.threads = [{ ops: writer }, { ops: storer }];
  }
  return prog;
}
