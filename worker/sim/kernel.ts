// One simulated machine: scheduler, block device, one mounted filesystem of
// the configured personality, the open files and the process's mappings.
// Built from a SimConfig; everything in it is deterministic.

import type { SimConfig } from '../prog/types.js';
import { BlockDevice, SECTOR_SIZE } from './blockdev.js';
import { type Policy, Sched } from './sched.js';
import { Ext4Fs } from './fs/ext4.js';
import type { Filesystem } from './fs/filesystem.js';
import { FuseFs } from './fs/fuse.js';
import type { Inode, OpenFile } from './fs/inode.js';
import { XfsFs } from './fs/xfs.js';
import { errseqSample } from './errseq.js';
import { MmState } from './mm/mmap.js';

/** 1 GiB, sparse: only written chunks take memory. */
const DEVICE_BYTES = 1 << 30;

export interface KernelOptions {
  stepBudget: number;
  policy?: Policy;
}

export class Kernel {
  readonly sched: Sched;
  readonly dev: BlockDevice;
  readonly fs: Filesystem;
  readonly mm: MmState;
  readonly inodes: Inode[] = [];
  readonly fds: OpenFile[] = [];

  constructor(
    readonly config: SimConfig,
    opts: KernelOptions,
  ) {
    this.sched = new Sched(opts.stepBudget, opts.policy);
    this.dev = new BlockDevice(this.sched, DEVICE_BYTES / SECTOR_SIZE);
    this.mm = new MmState(this.sched);
    const unmap = (inodeOf: (f: import('./mm/folio.js').Folio) => Inode | undefined) => (f: import('./mm/folio.js').Folio) => {
      const inode = inodeOf(f);
      if (inode) this.mm.unmapFolio(inode, f);
    };
    const inodeOfFolio = (f: import('./mm/folio.js').Folio): Inode | undefined => this.inodes.find((i) => i.mapping === f.mapping);
    if (config.fs === 'fuse') {
      const fuse = new FuseFs(this.sched, this.dev, config.blockSize, config.folioMax);
      fuse.unmapFolio = unmap(inodeOfFolio);
      this.fs = fuse;
    } else {
      const opts2 = { blockSize: config.blockSize, folioMax: config.folioMax, deviceBytes: DEVICE_BYTES };
      const bfs = config.fs === 'xfs' ? new XfsFs(this.sched, this.dev, opts2) : new Ext4Fs(this.sched, this.dev, opts2);
      bfs.unmapFolio = unmap(inodeOfFolio);
      this.fs = bfs;
    }
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
