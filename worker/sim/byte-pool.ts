// Byte buffers recycled from one run to the next.
//
// Every run builds a fresh machine, and its memory (folios, the disk's chunks,
// the shadow files, the user buffers) used to be allocated anew each time:
// zero-filled memory outside the JS heap, which costs the allocator and, worse,
// makes V8 run full collections to account for it. A fuzzing worker ran a few
// MiB of such allocations per execution, hundreds of executions a second.
//
// Inside withByteScope(), takeBytes() hands out buffers that earlier runs gave
// back, zeroed exactly like a fresh allocation, so nothing a run computes can
// depend on which runs came before it. Everything taken in the scope goes back
// when it ends: a buffer taken there must not outlive the run (results that
// leave the run, like the final file contents, are allocated plainly).
// Outside a scope (unit tests that build a machine by hand) takeBytes() is a
// plain allocation.
//
// Memory handed out for the taker to write before it reads (a folio, as the
// page allocator's pages are not zeroed; a copy) is zeroed or stale in a
// campaign, where any read of a byte nobody wrote would look plausible.
// Under poisoning (FOLIOFUZZ_POISON=1, which the test suite sets, or
// setBytePoison) such memory is filled with POISON_INUSE instead, as slab
// poisoning fills a new object: a read of unwritten memory then shows as
// wrong bytes. Campaigns keep the fast path.

/** Free buffers kept between runs, in bytes, beyond which they go to the GC. */
const MAX_KEPT_BYTES = 256 << 20;

/** include/linux/poison.h POISON_INUSE: what unwritten memory reads as under poisoning. */
export const POISON_INUSE = 0x5a;

/** Read once: the test suite runs with FOLIOFUZZ_POISON=1. */
let poison = process.env['FOLIOFUZZ_POISON'] === '1';

/** Turn poisoning on or off (tests). */
export function setBytePoison(on: boolean): void {
  poison = on;
}

/**
 * Memory handed out again without zeroing, whose taker must write every byte
 * before reading it: poisoned when poisoning is on, left as it is otherwise.
 */
export function poisonUnwritten(buf: Uint8Array): void {
  if (poison) buf.fill(POISON_INUSE);
}

/**
 * A buffer of `size` bytes the taker must write before reading (the page
 * allocator's memory): zeroed like takeBytes, so that a run never depends on
 * the runs before it, and poisoned when poisoning is on.
 */
export function takeUnwrittenBytes(size: number): Uint8Array {
  const buf = takeBytes(size);
  poisonUnwritten(buf);
  return buf;
}

/**
 * Fresh memory of `size` bytes that may outlive the run (so not recycled)
 * and that its taker writes before it reads any of it: not zeroed, which a
 * file's worth of read-back would pay for at every execution (poisoned under
 * poisoning). A plain Uint8Array over its own buffer.
 */
export function allocUnwrittenBytes(size: number): Uint8Array {
  const b = Buffer.allocUnsafeSlow(size);
  const buf = new Uint8Array(b.buffer, b.byteOffset, b.length);
  poisonUnwritten(buf);
  return buf;
}

/** Below this a buffer is not worth recycling. */
const MIN_POOLED = 1024;

/** Free buffers by size class (a power of two). */
const free = new Map<number, Uint8Array[]>();
let keptBytes = 0;
/** Buffers handed out in the current scope; null outside a scope. */
let taken: Uint8Array[] | null = null;

/** A buffer of the size class at or above `size` (a power of two), and whether it was recycled. */
function takeClass(size: number): { buf: Uint8Array; recycled: boolean } {
  const cls = 2 ** Math.ceil(Math.log2(size));
  const buf = free.get(cls)?.pop();
  if (buf === undefined) return { buf: new Uint8Array(cls), recycled: false };
  keptBytes -= cls;
  return { buf, recycled: true };
}

/**
 * A zero-filled buffer of `size` bytes, recycled if a scope is open: then it
 * may be a view of a larger buffer (its .buffer is not the caller's to use).
 */
export function takeBytes(size: number): Uint8Array {
  if (taken === null || size < MIN_POOLED) return new Uint8Array(size);
  const { buf, recycled } = takeClass(size);
  if (recycled) buf.fill(0, 0, size);
  taken.push(buf);
  return size === buf.length ? buf : buf.subarray(0, size);
}

/**
 * A buffer of `size` bytes its taker writes in full before it reads any of
 * it (a copy, an array that grows and zeroes what it grows over): recycled
 * if a scope is open, and then not zeroed, which would only be overwritten
 * (stale in a campaign, poisoned under poisoning).
 */
export function takeBytesToOverwrite(size: number): Uint8Array {
  if (taken === null || size < MIN_POOLED) return new Uint8Array(size);
  const { buf } = takeClass(size);
  taken.push(buf);
  const mine = size === buf.length ? buf : buf.subarray(0, size);
  poisonUnwritten(mine);
  return mine;
}

/** A recycled copy of src (nothing to zero: every byte is overwritten). */
export function copyBytes(src: Uint8Array): Uint8Array {
  if (taken === null || src.length < MIN_POOLED) return src.slice();
  const copy = takeBytesToOverwrite(src.length);
  copy.set(src);
  return copy;
}

/**
 * Run fn with recycling on; every buffer it took goes back when it returns or
 * throws. A nested scope is part of the outer one.
 */
export function withByteScope<T>(fn: () => T): T {
  if (taken !== null) return fn();
  const mine: Uint8Array[] = [];
  taken = mine;
  try {
    return fn();
  } finally {
    taken = null;
    giveBack(mine);
  }
}

function giveBack(bufs: Uint8Array[]): void {
  for (const buf of bufs) {
    if (keptBytes + buf.length > MAX_KEPT_BYTES) continue;
    let list = free.get(buf.length);
    if (list === undefined) free.set(buf.length, (list = []));
    list.push(buf);
    keptBytes += buf.length;
  }
}
