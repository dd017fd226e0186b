// `export --format report`: a finding as plain text a kernel developer would
// send to a mailing list, after syzbot's reports: a title, the kernel and
// config it concerns, how to make the filesystem, the program (an xfs_io
// script when it fits, else C), the interleaving that fired, the expected and
// actual bytes, and the kernel functions involved. What the simulator shows
// comes from one run of the reproducer, so it says what it does now; what a
// real kernel did (the kernel twin's verdict and that kernel's log) comes
// from the verdict the reproducer carries.

import { type DataCause, type InvariantKind, parseSignature } from '../report/signature.js';
import type { KernelVerdict } from '../report/kernel-verdict.js';
import { SIM_VERSION } from '../sim/version.js';
import type { Trace } from '../trace/types.js';
import { exportC } from './c.js';
import { ExportError } from './errors.js';
import { CLASS_MEANINGS, describeSwitch, switchesNeeded } from './explain.js';
import type { Repro } from './repro.js';
import { outcomeLines, traceRun } from './text.js';
import { plural } from './words.js';
import { exportXfsIo } from './xfs-io.js';

const TITLE_WORDS: Record<InvariantKind, string> = {
  WARN: 'WARNING in', BUG: 'kernel BUG in', INVARIANT: 'broken rule in', DATA: 'data corruption in', DEADLOCK: 'deadlock', LIVELOCK: 'livelock',
  DIVERGENCE: 'divergence from the model in',
};

const CAUSE_WORDS: Record<DataCause['cls'], string> = {
  'lost-write': 'lost write in', stale: 'stale data in', 'lost-zero': 'lost zeroes in', mismatch: 'data corruption in',
};

/**
 * A syzbot-style title: "WARNING in ifs_free (ifs_free:ifs-not-uptodate)";
 * a DATA finding by its cause: "lost write in iomap_writeback_handle_eof (write <- zeroed)".
 */
export function reportTitle(signature: string): string {
  const p = parseSignature(signature);
  if (p === null) return signature === '' ? 'no violation (a control that must stay silent)' : signature;
  if (p.kind === 'DEADLOCK' || p.kind === 'LIVELOCK') return `${TITLE_WORDS[p.kind]}: ${p.invariant}`;
  if (p.cause) return `${CAUSE_WORDS[p.cause.cls]} ${p.cause.fn} (${p.cause.expected} <- ${p.cause.how})`;
  return `${TITLE_WORDS[p.kind]} ${p.site[0]} (${p.invariant})`;
}

/** How to make and mount the filesystem the program ran on. */
function filesystemLines(r: Repro): string[] {
  const c = r.program.config;
  const dev = '/dev/vdb';
  switch (c.fs) {
    case 'xfs': return [`mkfs.xfs -f -b size=${c.blockSize} ${dev}`, `mount ${dev} /mnt`];
    case 'ext4': return c.inode === 'indirect'
      ? [`mkfs.ext4 -F -b ${c.blockSize} -O ^extent,^64bit ${dev}    # block-mapped (indirect) files`, `mount ${dev} /mnt`]
      : [`mkfs.ext4 -F -b ${c.blockSize} ${dev}`, `mount ${dev} /mnt`];
    case 'fuse': return ['# a passthrough FUSE server over a directory; the sim models one that writes through', 'bindfs /srv/lower /mnt'];
  }
}

/** What a real kernel did with the reproducer (the kernel twin's verdict), or that none has run it yet. */
function realKernelLines(v: KernelVerdict | undefined): string[] {
  if (!v) return ['Not run on a real kernel yet: `foliofuzz kernel confirm repro.json` (as root) tells whether', 'a kernel has it.'];
  const on = `Linux ${v.release ?? '?'} (${v.fs ?? '?'})`;
  switch (v.verdict) {
    case 'reproduces': return [
      `Seen on ${on}: the reproducer below showed it in ${v.hits} of ${plural(v.runs, 'run')}`,
      `(foliofuzz kernel confirm, ${v.at.slice(0, 10)}), as ${v.signature ?? '?'}:`,
      `  ${v.detail ?? ''}`,
      ...warnOnceLines(v),
    ];
    case 'not-reproduced': return [
      `Not seen on ${on} in ${plural(v.runs, 'run')} of the reproducer below (${v.at.slice(0, 10)}): that kernel`,
      'may not have the bug, or its timing may miss the race.',
    ];
    case 'cannot-run': return [`Not run on a real kernel: ${v.detail ?? v.text}`];
  }
}

/**
 * A WARNING the kernel printed once in many runs may be a WARN_ON_ONCE: it
 * stays silent after its first hit until the machine reboots, so the runs after
 * that one could not show it and the count is no rate. Said so the reader does
 * not take "1 of 1,000" for a rare race.
 */
function warnOnceLines(v: KernelVerdict): string[] {
  if (!v.signature?.startsWith('WARN kernel-warning:') || v.hits !== 1 || v.runs <= 1) return [];
  return [
    'If that WARNING is a WARN_ON_ONCE, it stays silent after its first hit until a reboot: the',
    `runs after the first hit could not show it, so 1 of ${v.runs.toLocaleString('en-US')} is no measure of how often it happens.`,
  ];
}

/** What the simulator shows: the switches the reproducer needs there. */
function simulatorLines(r: Repro, seenOnKernel: boolean): string[] {
  const recorded = r.simVersion === SIM_VERSION ? '' : `; found by ${r.simVersion}`;
  const lines = [`In the simulator: Linux mainline as foliofuzz models it (${SIM_VERSION}${recorded}).`];
  const needs = switchesNeeded(r);
  if (r.signature === '') {
    lines.push(`A control: with ${r.bugs.length ? `the switches ${r.bugs.join(', ')}` : 'no switch'} on it must stay silent; this run ${needs.observed === null ? 'stayed silent' : `shows ${needs.observed}`}.`);
  } else if (!needs.reproduces) {
    lines.push(`The reproducer no longer shows its signature there (it shows ${needs.observed ?? 'nothing'})${seenOnKernel ? ': the kernel\'s run above is the evidence' : ''}.`);
  } else if (needs.needed.length === 0) {
    lines.push('It fires with every bug switch off: no re-introduced bug explains it.');
    if (!seenOnKernel) lines.push('Confirm it on a real kernel with the C program below before reporting it: it is either a kernel bug or a false positive of the sim.');
  } else {
    lines.push(`It needs ${needs.needed.length === 1 ? 'this bug switch' : 'these bug switches'} on (a switch re-introduces a known bug into that kernel):`);
    for (const n of needs.needed) lines.push(`  ${describeSwitch(n)}`);
  }
  return lines;
}

function kernelLines(r: Repro): string[] {
  const c = r.program.config;
  const lines = [...realKernelLines(r.kernel), '', ...simulatorLines(r, r.kernel?.verdict === 'reproduces')];
  lines.push('', 'Config:', `  CONFIG_${c.fs === 'fuse' ? 'FUSE_FS' : c.fs === 'xfs' ? 'XFS_FS' : 'EXT4_FS'}=y`,
    `  CONFIG_TRANSPARENT_HUGEPAGE=y     # large folios in the page cache (the sim caps them at ${c.folioMax / 1024} KiB)`);
  if (r.program.threads.some((t) => t.ops.some((o) => o.op === 'aio_write' || o.op === 'aio_read'))) lines.push('  CONFIG_AIO=y');
  lines.push(`  block size ${c.blockSize} bytes${c.fs === 'ext4' ? `, ${c.inode} inodes` : ''}`);
  return lines;
}

/** The real kernel's log of the first run that showed it (a WARNING and its call trace), as syzbot quotes a crash. */
function kernelLogSection(v: KernelVerdict | undefined): string[] {
  if (v?.verdict !== 'reproduces' || v.log.length === 0) return [];
  return section(`Kernel log (Linux ${v.release ?? '?'}, the first run that showed it)`, v.log.map((l) => `  ${l}`));
}

/** The program: an xfs_io script when one script on one file says it all, else the C program. */
function programLines(r: Repro): string[] {
  if (r.program.threads.length === 1) {
    try {
      const [script] = exportXfsIo(r);
      // A '#' op line is an op xfs_io has no command for: the C program says it all.
      if (script && !script.text.split('\n').some((l) => l.startsWith('# sim:'))) return ['xfs_io script:', '', script.text.trimEnd()];
    } catch (err) {
      if (!(err instanceof ExportError)) throw err;
    }
  }
  return ['C program (gcc -pthread repro.c && ./repro /mnt):', '', exportC(r).trimEnd()];
}

const hex2 = (b: number): string => b.toString(16).padStart(2, '0');

/** The bytes some read (or the final read-back) returned around `at`, from the recorded trace. */
function actualBytesAround(trace: Trace | undefined, at: number): { start: number; bytes: Uint8Array } | null {
  const events = trace?.events ?? [];
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i]!;
    let start: number | null = null;
    if (e.e === 'call' && e.data) start = e.off;
    else if (e.e === 'final') start = 0;
    const data = e.e === 'call' || e.e === 'final' ? e.data : undefined;
    if (start === null || !data || at < start || at >= start + data.length) continue;
    const from = Math.max(start, (at & ~15) - 16);
    return { start: from, bytes: data.subarray(from - start, Math.min(data.length, from - start + 48)) };
  }
  return null;
}

function expectedActualLines(message: string, kind: InvariantKind | null, trace: Trace | undefined): string[] {
  const m = /byte (\d+) is 0x([0-9a-f]+), expected 0x([0-9a-f]+)/.exec(message);
  if (kind !== 'DATA' || m === null) return [`expected: no ${kind ?? 'violation'} here`, `actual:   ${message}`];
  const at = Number(m[1]);
  const lines = [`at byte ${at}: expected 0x${hex2(parseInt(m[3]!, 16))}, read 0x${hex2(parseInt(m[2]!, 16))}`, `  (${message})`];
  // The cause in words, as the signature names it: whose bytes, and what replaced them.
  const cause = /; (byte \d+: .*)$/.exec(message)?.[1];
  if (cause) lines.push('', `why: ${cause}`);
  const around = actualBytesAround(trace, at);
  if (around) {
    lines.push('', 'what was read there ([..] the first byte that differs):');
    for (let row = 0; row < around.bytes.length; row += 16) {
      const cells = [...around.bytes.subarray(row, row + 16)].map((b, k) => (around.start + row + k === at ? `[${hex2(b)}]` : ` ${hex2(b)} `));
      lines.push(`  0x${(around.start + row).toString(16).padStart(8, '0')}: ${cells.join('')}`.trimEnd());
    }
  }
  return lines;
}

function minimizedLines(r: Repro): string[] {
  const m = r.minimized;
  if (!m) return [];
  if (m.opsBefore === m.opsAfter) return [`reproducer of ${plural(m.opsAfter, 'op')} (minimizing removed none)`];
  return [`reproducer minimized from ${plural(m.opsBefore, 'op')} to ${plural(m.opsAfter, 'op')}`];
}

function section(title: string, body: string[]): string[] {
  return ['', title, '-'.repeat(title.length), ...body];
}

/** The whole report (of a control that must stay silent, too: it then says so). */
export function exportReport(r: Repro): string {
  const title = reportTitle(r.signature);
  const kind = parseSignature(r.signature)?.kind ?? null;
  const run = traceRun(r, true);
  const v = run.result.violation;
  const site = parseSignature(r.signature)?.site ?? [];
  const stackFrames = (v?.stacks ?? []).flatMap((s) => [...s.frames].reverse());
  const functions = [...new Set([...site, ...stackFrames, ...run.frames])];
  return [
    `Subject: [foliofuzz] ${title}`,
    '',
    'Hello,',
    '',
    'foliofuzz, a fuzzer that runs the Linux storage stack (page cache, iomap, ext4, xfs, fuse)',
    ...(r.signature === ''
      ? ['in a deterministic simulation, keeps this program as a control: it must stay silent.']
      : ['in a deterministic simulation, found the following issue.', '', r.signature]),
    ...(kind ? [`${kind}: ${CLASS_MEANINGS[kind]}`] : []),
    ...minimizedLines(r),
    ...section('Kernel', kernelLines(r)),
    ...kernelLogSection(r.kernel),
    ...section('Filesystem', filesystemLines(r)),
    ...section('Reproducer', programLines(r)),
    ...section('Interleaving', ['(tN is program thread N; `final` reads every file back after the program; other names are kernel threads)', '', ...run.lines, '', ...outcomeLines(run.result)]),
    ...section('Expected and actual', v ? expectedActualLines(v.message, kind, run.result.trace) : ['the run stayed silent: nothing to compare']),
    ...section('Kernel functions involved (where it fired first)', functions.length ? functions.map((f) => `  ${f}`) : ['  (none recorded)']),
    ...section('Reproduce it in the simulator', [
      '  foliofuzz replay repro.json',
      '  foliofuzz export repro.json --format text|xfs_io|c|fsx',
    ]),
    '',
  ].join('\n');
}
