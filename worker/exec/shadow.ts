// The data oracle: an fsx-style shadow of every file, updated with the effect
// each successful op must have had by POSIX and Linux semantics, so that
// every read can be checked against what the file must hold.

import type { FallocMode } from '../prog/types.js';

export class ShadowFile {
  private buf = new Uint8Array(0);
  size = 0;

  private reserve(n: number): void {
    if (n <= this.buf.length) return;
    let cap = Math.max(4096, this.buf.length * 2);
    while (cap < n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.size));
    this.buf = next;
  }

  /** The bytes [off, off+len) clipped to the size. */
  view(off: number, len: number): Uint8Array {
    const end = Math.min(off + len, this.size);
    return end > off ? this.buf.subarray(off, end) : this.buf.subarray(0, 0);
  }

  private setSize(n: number): void {
    if (n > this.size) {
      this.reserve(n);
      this.buf.fill(0, this.size, n);
    }
    this.size = n;
  }

  write(off: number, src: Uint8Array): void {
    this.setSize(Math.max(this.size, off + src.length));
    this.buf.set(src, off);
  }

  fill(off: number, len: number, byte: number): void {
    this.setSize(Math.max(this.size, off + len));
    this.buf.fill(byte, off, off + len);
  }

  /** A store through a mapping: bytes past EOF are not part of the file. */
  storeMapped(off: number, len: number, byte: number): void {
    const end = Math.min(off + len, this.size);
    if (end > off) this.buf.fill(byte, off, end);
  }

  truncate(size: number): void {
    if (size < this.size) this.buf.fill(0, size, this.size);
    this.setSize(size);
  }

  private zero(off: number, len: number): void {
    const end = Math.min(off + len, this.size);
    if (end > off) this.buf.fill(0, off, end);
  }

  fallocate(mode: FallocMode, off: number, len: number): void {
    switch (mode) {
      case 'punch':
        this.zero(off, len);
        return;
      case 'zero':
        this.zero(off, len);
        this.setSize(Math.max(this.size, off + len));
        return;
      case 'zero_keep':
        this.zero(off, len);
        return;
      case 'collapse': {
        const tail = this.buf.slice(off + len, this.size);
        this.buf.set(tail, off);
        this.truncate(this.size - len);
        return;
      }
      case 'insert': {
        const tail = this.buf.slice(off, this.size);
        this.setSize(this.size + len);
        this.buf.set(tail, off + len);
        this.buf.fill(0, off, off + len);
        return;
      }
      case 'alloc':
      case 'unshare':
        this.setSize(Math.max(this.size, off + len));
        return;
      case 'keep_size':
        return;
    }
  }

  contents(): Uint8Array {
    return this.buf.slice(0, this.size);
  }
}

/** Index of the first differing byte, or -1. */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  const ba = Buffer.from(a.buffer, a.byteOffset, n);
  const bb = Buffer.from(b.buffer, b.byteOffset, n);
  if (ba.equals(bb)) return a.length === b.length ? -1 : n;
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}
