// The header an exported program carries so that it stands alone: the
// filesystem to run it on, made exactly as the kernel twin makes it
// (worker/twin/provision.ts: one definition of the mkfs line), the finding it
// shows and what it expects instead, and the faults it cannot inject. Plain
// lines; each exporter puts its own comment marks around them.

import { runProgram } from '../exec/run.js';
import { describeOp } from '../prog/describe.js';
import type { Program } from '../prog/types.js';
import { SIM_VERSION } from '../sim/version.js';
import { FUSE_DAEMON, IMAGE_BYTES, deviceFs, describeSpec, mkfsCommand } from '../twin/provision.js';
import type { OpAt } from './fixed-run.js';
import type { Repro } from './repro.js';

/** Where the recipe mounts the filesystem the program runs in. */
export const MOUNT_DIR = '/mnt/ffz';
const BACK_DIR = '/mnt/ffz-back';
const IMAGE = '/tmp/ffz.img';

function imageLines(p: Program): string[] {
  const fs = deviceFs(p.config);
  return [
    `truncate -s ${(fs.fs === 'xfs' ? IMAGE_BYTES.xfs : IMAGE_BYTES.ext4) >> 20}M ${IMAGE}`,
    `DEV=$(losetup --find --show ${IMAGE})`,
    mkfsCommand(fs, '$DEV').join(' '),
  ];
}

/** fuse: what the daemon must be, ours and a substitute. */
function fuseLines(p: Program): string[] {
  const bs = p.config.blockSize;
  return [
    `mkdir -p ${BACK_DIR} ${MOUNT_DIR} && mount -t ext4 $DEV ${BACK_DIR}`,
    `${FUSE_DAEMON} -o subtype=${FUSE_DAEMON} ${BACK_DIR} ${MOUNT_DIR}`,
    `  # foliofuzz's passthrough daemon (native/fuse/; \`node native/build.mjs\` builds dist/native/${FUSE_DAEMON}, with libfuse3):`,
    '  # write-through (it never asks for the writeback cache: each write(2) is a FUSE WRITE before it returns),',
    `  # keeping the page cache across opens (FOPEN_KEEP_CACHE); files have st_blksize ${bs}, the ext4's.`,
    `  # A substitute must do the same: bindfs -o kernel_cache ${BACK_DIR} ${MOUNT_DIR} (Debian: bindfs) is`,
    '  # write-through too, but answers some requests otherwise (FALLOC_FL_ZERO_RANGE with EOPNOTSUPP),',
    '  # and then results differ from the ones expected here.',
  ];
}

/** The recipe: make and mount the filesystem, run, take it down; `run` is the command, in MOUNT_DIR. */
export function recipeLines(p: Program, run: string): string[] {
  const fuse = p.config.fs === 'fuse';
  return [
    `Filesystem: ${describeSpec(p.config)}. As root:`,
    ...imageLines(p).map((l) => `  ${l}`),
    ...(fuse ? fuseLines(p) : [`mkdir -p ${MOUNT_DIR} && mount -t ${p.config.fs} $DEV ${MOUNT_DIR}`]).map((l) => `  ${l}`),
    `  ${run}`,
    `  umount ${MOUNT_DIR}${fuse ? ` && umount ${BACK_DIR}` : ''} && losetup -d $DEV`,
  ];
}

/** The finding: its signature and what the sim said with its switches on, or that none is recorded. */
export function findingLines(r: Repro): string[] {
  if (r.signature === '') {
    return [
      'No finding is recorded with this program (a bare program, or one the sim runs cleanly with',
      `its switches on: ${r.bugs.join(', ') || 'none'}): every divergence it reports is a finding of its own.`,
    ];
  }
  const v = runProgram(r.program, { bugs: new Set(r.bugs) }).violation;
  const switches = r.bugs.join(', ') || 'no switch';
  return [
    `The finding: ${r.signature}`,
    v?.signature === r.signature
      ? `  the sim (${SIM_VERSION}) with ${switches} on: ${v.message}`
      : `  recorded by ${r.simVersion}; the sim (${SIM_VERSION}) with ${switches} on no longer reports it`,
  ];
}

/** Why the fixed kernel is the reference. */
export function referenceLines(): string[] {
  return [
    `Expected: what a fixed kernel does, which is the foliofuzz simulator (${SIM_VERSION}) with every bug`,
    'switch off, judged as foliofuzz judges a real kernel\'s run (worker/oracle/): what POSIX leaves',
    'open (a store past EOF that a later extension exposes, a read racing an AIO write in flight) is',
    'not checked.',
  ];
}

/** A fault op: what the sim did there, and what a real kernel needs for it. */
export function faultLines(p: Program, cut: OpAt | null): string[] {
  if (cut === null) return [];
  const op = p.threads[cut.t]!.ops[cut.i]!;
  const how = op.op === 'power_cut'
    ? 'a power cut and crash recovery (dm-log-writes replay, or a VM reset)'
    : p.config.fs === 'fuse'
      ? 'a FUSE request the daemon fails'
      : 'a failing bio (dm-flakey, or fail_make_request)';
  const rest = p.threads.length > 1
    ? ['it may strike any thread at any time, so nothing but the kernel log is checked.']
    : [`the ops from there on still run, but nothing from t${cut.t} #${cut.i} on is checked (results, reads,`,
      'AIO completions still in flight, the final contents): all of it depended on the fault.'];
  return [
    `Needs fault injection this export cannot do: t${cut.t} #${cut.i} ${describeOp(op).trimEnd()} is`,
    `  ${how};`,
    ...rest.map((l) => `  ${l}`),
  ];
}
