// The bug switches: historical kernel bugs the sim can re-introduce, one code
// path each. Only the code of the bug itself reads a switch; no invariant,
// oracle or signature may (the fuzzer has to find each through what breaks).

export type BugName =
  | 'fuse-clear-uptodate-ifs'
  | 'set-uptodate-during-read'
  | 'mkwrite-ifs-zeroed'
  | 'ext4-dio-fallback-no-drain'
  | 'iomap-no-validity-check'
  | 'zero-range-hole-flush'
  | 'write-begin-read-not-uptodate'
  | 'dio-invalidate-whole-file'
  | 'append-zero-padding'
  | 'aio-dio-no-invalidate'
  | 'errseq-report-once-global'
  | 'short-write-punch-delalloc'
  | 'dio-completion-no-invalidate-window'
  | 'dio-extend-no-isize-extended'
  | 'fuse-writethrough-eof-zeroed'
  | 'zero-batch-locked-folio';

export interface BugSwitch {
  name: BugName;
  /** Where the bug lives: iomap, mm, fs/ext4, fs/xfs, fs/fuse, vfs. */
  layer: string;
  year: number;
  /** Where it came from: a shared/seeds thread or the upstream fix it reverts. */
  source: string;
  description: string;
  /** A race the kernel accepts: the fuzzer must not report it. */
  benign: boolean;
  /** Whether this build implements the switch. */
  implemented: boolean;
}

export const BUG_SWITCHES: readonly BugSwitch[] = [
  {
    name: 'fuse-clear-uptodate-ifs', layer: 'fs/fuse', year: 2025, source: 'seeds/000 (iomap uptodate race / fuse)',
    description: 'a fuse write error or short write clears the folio uptodate flag but leaves the ifs uptodate bits set',
    benign: false, implemented: true,
  },
  {
    name: 'set-uptodate-during-read', layer: 'iomap', year: 2025, source: 'seeds/000 (iomap_set_range_uptodate vs folio_end_read)',
    description: 'iomap_set_range_uptodate marks the folio uptodate while a read is pending; folio_end_read then XORs the flag off',
    benign: false, implemented: true,
  },
  {
    name: 'mkwrite-ifs-zeroed', layer: 'iomap', year: 2020, source: 'seeds/001 (ifs bits on page_mkwrite)',
    description: 'an ifs created for an uptodate folio starts with zero bits, and writeback picks blocks by uptodate bits',
    benign: false, implemented: true,
  },
  {
    name: 'ext4-dio-fallback-no-drain', layer: 'fs/ext4', year: 2026, source: 'seeds/002 (ext4 DIO fallback vs in-flight DIO)',
    description: 'the buffered fallback of an ext4 direct write does not inode_dio_wait for direct I/O in flight',
    benign: false, implemented: true,
  },
  {
    name: 'iomap-no-validity-check', layer: 'iomap', year: 2022, source: 'seeds/003 (iomap_folio_ops and the validity cookie)',
    description: 'iomap_write_begin does not check the mapping validity cookie under the folio lock',
    benign: false, implemented: true,
  },
  {
    name: 'zero-range-hole-flush', layer: 'fs/ext4', year: 2025, source: 'seeds/004 (zero range and the dirty folio batch)',
    description: 'zero range flushes dirty folios over a hole while holding an ext4 journal handle',
    benign: false, implemented: true,
  },
  {
    name: 'write-begin-read-not-uptodate', layer: 'iomap', year: 2020,
    source: 'iomap: Clear page error before beginning a write (e6e7ca92623a) + Mark read blocks uptodate in write_begin (14284fedf59f)',
    description: "blocks read in write_begin are not marked uptodate, and a failed read's PG_error (which blocks all marking) survives write_begin: a later read re-reads the written blocks",
    benign: false, implemented: true,
  },
  {
    name: 'dio-invalidate-whole-file', layer: 'iomap', year: 2020, source: 'iomap: post-DIO invalidation range after a full fallback',
    description: 'post-DIO invalidation of (pos, pos+0-1) after a full buffered fallback hits unrelated dirty folios',
    benign: false, implemented: true,
  },
  {
    name: 'append-zero-padding', layer: 'iomap', year: 2024, source: 'iomap: writeback EOF zeroing vs on-disk size',
    description: "writeback's EOF zero padding extends the on-disk size past durable data under a concurrent append",
    benign: false, implemented: false,
  },
  {
    name: 'aio-dio-no-invalidate', layer: 'iomap', year: 2017, source: 'fs: invalidate page cache after end of O_DIRECT write (AIO)',
    description: 'AIO direct write completion does not invalidate the page cache: a racing buffered read keeps stale data',
    benign: false, implemented: true,
  },
  {
    name: 'errseq-report-once-global', layer: 'vfs', year: 2017, source: 'pre-errseq writeback error reporting',
    description: 'the first fsync clears a writeback error for every open file, not just its own',
    benign: false, implemented: true,
  },
  {
    name: 'short-write-punch-delalloc', layer: 'fs/xfs', year: 2022,
    source: 'iomap: buffered write failure should not truncate the page cache (f43dc4dc3eff)',
    description: "a short write (a stale mapping) drops the page cache over the rest of its delalloc reservation and punches it, taking a racing mmap write's dirty folio with it",
    benign: false, implemented: true,
  },
  {
    name: 'dio-completion-no-invalidate-window', layer: 'iomap', year: 2023, source: 'IOMAP_DIO_NO_INVALIDATE window the kernel accepts',
    description: 'control: the window between DIO completion and page cache invalidation that the kernel accepts',
    benign: true, implemented: true,
  },
  {
    name: 'dio-extend-no-isize-extended', layer: 'fs/ext4', year: 2026,
    source: 'found by foliofuzz with every switch off (campaign seed 11); the exported C reproducer loses the data on Linux 6.18.44 ext4 with 1 KiB blocks',
    description: "a direct write that extends i_size does not write-protect the folio straddling the old EOF (no pagecache_isize_extended; on xfs neither does an AIO that extends at completion): a store through a mapping there lands in a block page_mkwrite never reserved, and writeback drops it",
    benign: false, implemented: true,
  },
  {
    name: 'fuse-writethrough-eof-zeroed', layer: 'fs/fuse', year: 2026,
    source: 'found by foliofuzz with every switch off (campaign seeds 25, 26); a C race test loses the write on Linux 6.18.44 over bindfs in 3,132 of 4,000 iterations',
    description: 'a write-through write unlocks its folios before it sends the WRITE and updates i_size; writeback of a dirty EOF folio in between zeroes the bytes past the old i_size, in the page cache and in what the server receives',
    benign: false, implemented: true,
  },
  {
    name: 'zero-batch-locked-folio', layer: 'iomap', year: 2026,
    source: 'found by foliofuzz with every switch off (a kernel campaign, xfs, 1 KiB blocks): Linux 6.18.44 prints WARNING at fs/iomap/buffered-io.c:1464 iomap_zero_iter',
    description: 'zero range takes a folio filemap_get_folios_dirty could not trylock without checking under the lock that it is dirty: a folio a page fault holds locked past a new EOF (while it rechecks i_size) is zeroed and dirtied beyond EOF',
    benign: false, implemented: true,
  },
];

export function findBug(name: string): BugSwitch | undefined {
  return BUG_SWITCHES.find((b) => b.name === name);
}

/** The switches that are on for one run. */
export type BugSet = ReadonlySet<BugName>;

export const NO_BUGS: BugSet = new Set();
