// One simulated machine: scheduler, block device, one mounted filesystem of
// the configured personality, the open files and the process's mappings, and
// the kernel threads that run beside the program (the writeback flusher and
// kswapd, woken by the program's writeback_kick and reclaim ops; the DIO
// completion workqueue lives with the filesystem). Built from a SimConfig and
// the bug switches; everything in it is deterministic.

import type { SimConfig } from '../prog/types.js';
import { BlockDevice, SECTOR_SIZE } from './blockdev.js';
import { type BugSet, NO_BUGS } from './bugs.js';
import { errseqSample } from './errseq.js';
import { Ext4Fs } from './fs/ext4.js';
import { FuseFs } from './fs/fuse.js';
import { XfsFs } from './fs/xfs.js';
import { filemapFdatawriteRange } from './mm/filemap.js';
import { MmState } from './mm/mmap.js';
import { shrinkMapping } from './mm/vmscan.js';
import { type Policy, Sched } from './sched.js';
import { KickedDaemon } from './workqueue.js';
import type { Inode, OpenFile, Filesystem } from './include/fs.js';

/** 1 GiB, sparse: only written chunks take memory. */
const DEVICE_BYTES = 1 << 30;

export interface KernelOptions {
  stepBudget: number;
  policy?: Policy;
  bugs?: BugSet;
}

export class Kernel {
  readonly sched: Sched;
  readonly dev: BlockDevice;
  readonly fs: Filesystem;
  readonly mm: MmState;
  readonly bugs: BugSet;
  readonly inodes: Inode[] = [];
  /** The per-bdi writeback thread: background writeback of every dirty file. */
  readonly flusher: KickedDaemon;
  /** kswapd: one reclaim pass over the page cache. */
  readonly kswapd: KickedDaemon;

  constructor(
    readonly config: SimConfig,
    opts: KernelOptions,
  ) {
    this.bugs = opts.bugs ?? NO_BUGS;
    this.sched = new Sched(opts.stepBudget, opts.policy);
    this.dev = new BlockDevice(this.sched, DEVICE_BYTES / SECTOR_SIZE);
    this.mm = new MmState(this.sched);
    if (config.fs === 'fuse') {
      this.fs = new FuseFs(this.sched, this.dev, config.blockSize, config.folioMax, this.bugs);
    } else {
      const o = { blockSize: config.blockSize, folioMax: config.folioMax, deviceBytes: DEVICE_BYTES, bugs: this.bugs };
      this.fs = config.fs === 'xfs' ? new XfsFs(this.sched, this.dev, o) : new Ext4Fs(this.sched, this.dev, o);
    }
    const k = this;
    this.flusher = new KickedDaemon(this.sched, 'flush', function* () {
      // wb_writeback: WB_SYNC_NONE over every dirty file.
      for (const inode of k.inodes) yield* filemapFdatawriteRange(inode.mapping, 0, Number.MAX_SAFE_INTEGER, false);
    });
    this.kswapd = new KickedDaemon(this.sched, 'kswapd', function* () {
      for (const inode of k.inodes) yield* shrinkMapping(inode.mapping);
    });
  }

  /** Create a regular file (O_CREAT of a new name). */
  createFile(name: string): Inode {
    const indirect = this.config.fs === 'ext4' && this.config.inode === 'indirect';
    const inode = this.fs instanceof Ext4Fs ? this.fs.createInode(name, indirect) : this.fs.createInode(name);
    this.mm.attachInode(inode);
    this.inodes.push(inode);
    return inode;
  }

  /** open(2): a new struct file that samples the mapping's errseq. */
  openFile(inode: Inode, direct: boolean): OpenFile {
    return { inode, direct, fWbErr: { v: errseqSample(inode.mapping.wbErr) } };
  }
}
