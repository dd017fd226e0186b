// The two ends of a FUSE mount's connection: struct fuse_conn on the kernel
// side (fs/fuse/dev.c: requests queued to the daemon, each answered as a
// scheduler event, all of them ended by fuse_abort_conn when the daemon
// dies) and the daemon itself, a passthrough server over its own storage
// whose durability follows its FUSE_FSYNCs. fuse.ts is the filesystem that
// sends the requests.

import { SparseStore } from '../blockdev.js';
import { provenance } from '../provenance.js';
import { ECONNABORTED } from '../errno.js';
import type { Rng } from '../schedule.js';
import { type Co, type Sched, WaitQueue } from '../sched.js';

/** struct fuse_conn, as far as requests go. */
export class FuseConn {
  /**
   * The connection to the daemon: bumped by each power cut. The daemon that
   * took a request died with the machine, so a request sent on an earlier
   * connection and not answered yet never reaches the restarted daemon's
   * files: fuse_abort_conn ends every pending and processing request with
   * -ECONNABORTED (end_requests), and only the request's end callback runs.
   */
  private conn = 0;

  constructor(private readonly sched: Sched) {}

  /**
   * Send a request; the server answers it as a scheduler event, or, if the
   * connection was aborted meanwhile, `aborted` runs instead (the request's
   * end with -ECONNABORTED).
   */
  request(name: string, handle: () => void, aborted: () => void): void {
    const conn = this.conn;
    const fc = this;
    this.sched.queueEvent({
      name,
      run(): void {
        if (conn === fc.conn) handle();
        else aborted();
      },
    });
  }

  /** Send a request and sleep until the reply (-ECONNABORTED if the connection was aborted first). */
  *requestWait(name: string, handle: () => number): Co<number> {
    const wq = new WaitQueue(name);
    let done = false;
    let ret = 0;
    const end = (r: number): void => {
      ret = r;
      done = true;
      this.sched.wakeAll(wq);
    };
    this.request(name, () => end(handle()), () => end(-ECONNABORTED));
    yield* this.sched.waitUntil(wq, () => done);
    return ret;
  }

  /** fuse_abort_conn: the daemon is gone; what it had not answered ends with -ECONNABORTED. */
  abort(): void {
    this.conn++;
  }
}

/** The daemon's view of one file. */
interface ServerFile {
  data: SparseStore;
  size: number;
  /** What the daemon's own storage holds durably: its content at the last FUSE_FSYNC. */
  durable: { data: SparseStore; size: number };
}

/** The FUSE server: a passthrough daemon over its own storage. */
export class FuseServer {
  private readonly files = new Map<number, ServerFile>();

  file(ino: number): ServerFile {
    let f = this.files.get(ino);
    if (!f) {
      f = { data: new SparseStore(), size: 0, durable: { data: new SparseStore(), size: 0 } };
      this.files.set(ino, f);
    }
    return f;
  }

  read(ino: number, off: number, dst: Uint8Array): number {
    const f = this.file(ino);
    const n = Math.max(0, Math.min(dst.length, f.size - off));
    if (n > 0) f.data.read(off, dst.subarray(0, n));
    dst.fill(0, n);
    // Past the server's EOF a READ comes back short and the rest is zeroed (fuse_short_read).
    provenance()?.mark(dst, n, dst.length, 'hole', 'fuse_short_read');
    return n;
  }

  write(ino: number, off: number, src: Uint8Array): number {
    const f = this.file(ino);
    f.data.write(off, src);
    if (off + src.length > f.size) f.size = off + src.length;
    return src.length;
  }

  zero(ino: number, off: number, len: number): void {
    const f = this.file(ino);
    const end = Math.min(off + len, f.size);
    if (end > off) f.data.write(off, zeroes(end - off, 'fuse_fallocate'));
  }

  /** FUSE_FSYNC: the daemon fsyncs its backing file; what it holds now is durable. */
  fsync(ino: number): void {
    const f = this.file(ino);
    f.durable = { data: f.data.clone(), size: f.size };
  }

  /**
   * The machine lost power (the daemon with it) and the daemon starts again
   * over its storage: a file not fsynced since it last changed holds either
   * its content at its last FUSE_FSYNC or what the daemon had written since
   * (whole-file granularity: the daemon's backing filesystem is not modelled
   * further), drawn from the seed.
   */
  powerCut(rng: Rng): void {
    for (const ino of [...this.files.keys()].sort((a, b) => a - b)) {
      const f = this.files.get(ino)!;
      if (rng.int(2) === 0) {
        f.data = f.durable.data.clone();
        f.size = f.durable.size;
      } else this.fsync(ino);
    }
  }

  setSize(ino: number, size: number): void {
    const f = this.file(ino);
    if (size < f.size) f.data.write(size, zeroes(f.size - size, 'fuse_do_setattr'));
    f.size = size;
  }
}

/** Zeroes nothing ever writes into: what the daemon writes when no provenance needs a buffer of its own. */
const ZEROES = new Uint8Array(1 << 16);

/** n zeroes the daemon writes over its file for a request of `fn` (the provenance of those bytes). */
function zeroes(n: number, fn: string): Uint8Array {
  const prov = provenance();
  if (!prov && n <= ZEROES.length) return ZEROES.subarray(0, n);
  const z = new Uint8Array(n);
  prov?.mark(z, 0, n, 'zero', fn);
  return z;
}
