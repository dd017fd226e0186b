// What the kernel twin said of a finding: whether this machine's kernel has
// the bug. Plain data, stored with the finding and shown wherever findings
// are (CLI, API, dashboard, metrics).

export type KernelVerdictKind = 'reproduces' | 'not-reproduced' | 'cannot-run';

/** The most runs one confirmation may ask for (`kernel confirm --runs`, a campaign's kernel_confirm_runs). */
export const MAX_KERNEL_CONFIRM_RUNS = 1_000_000;

/** At most this many kernel log lines are kept with a verdict, each at most MAX_KERNEL_LOG_LINE characters (printk's own limit is 1024). */
export const MAX_KERNEL_LOG_LINES = 200;
export const MAX_KERNEL_LOG_LINE = 1024;

export const KERNEL_VERDICT_KINDS: readonly KernelVerdictKind[] = ['reproduces', 'not-reproduced', 'cannot-run'];

export interface KernelVerdict {
  verdict: KernelVerdictKind;
  /**
   * One line, as every interface shows it: "reproduces 25/100 on Linux
   * 6.18.44 (ext4 with indirect-block inodes, 1024-byte blocks): ...",
   * "not reproduced in 100 runs on Linux ...", "cannot run here: ...".
   */
  text: string;
  /** uname -r of the kernel it ran on; null when it could not run. */
  release: string | null;
  /** The filesystem it ran on, as provisioned ("ext4, 1024-byte blocks"). */
  fs: string | null;
  runs: number;
  /** Runs whose trace the oracle found a violation in. */
  hits: number;
  /** The first violating run's signature (judged on the kernel's trace), or null. */
  signature: string | null;
  /** What the kernel did against what a fixed kernel does, for the first violating run; or why it cannot run. */
  detail: string | null;
  /**
   * The kernel's log lines of the first violating run, as /dev/kmsg gave them
   * (a WARNING and its call trace, say): what a bug report quotes. Empty when
   * it logged nothing, and in verdicts stored before the lines were kept.
   */
  log: string[];
  /** When it was judged (ISO 8601). */
  at: string;
}

/** The first lines of a run's kernel log that a verdict keeps. */
export function keptKernelLog(lines: readonly string[]): string[] {
  return lines.slice(0, MAX_KERNEL_LOG_LINES).map((l) => l.slice(0, MAX_KERNEL_LOG_LINE));
}

/** The verdict of a reproducer the twin could not run: `why` says what is missing. */
export function cannotRunVerdict(why: string, release: string | null = null, fs: string | null = null): KernelVerdict {
  return {
    verdict: 'cannot-run', text: `cannot run here: ${why}`, release, fs, runs: 0, hits: 0, signature: null, detail: why, log: [],
    at: new Date().toISOString(),
  };
}

/** How each verdict's one line begins (twin/confirm.ts writes them). */
const TEXT_START: Record<KernelVerdictKind, string> = { 'reproduces': 'reproduces ', 'not-reproduced': 'not reproduced ', 'cannot-run': 'cannot run here: ' };

/** A stored verdict read back (finding.json, a NATS payload): checked field by field; throws naming the field. */
export function kernelVerdictFromJson(value: unknown, path: string): KernelVerdict {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${path}: not an object`);
  const v = value as Record<string, unknown>;
  const str = (k: string): string => {
    if (typeof v[k] !== 'string') throw new Error(`${path}.${k}: not a string`);
    return v[k] as string;
  };
  const strOrNull = (k: string): string | null => (v[k] === null ? null : str(k));
  const count = (k: string): number => {
    const n = v[k];
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new Error(`${path}.${k}: not a count`);
    return n;
  };
  const logLines = (k: string): string[] => {
    const l = v[k];
    if (l === undefined) return [];
    if (!Array.isArray(l) || l.length > MAX_KERNEL_LOG_LINES) throw new Error(`${path}.${k}: not a list of at most ${MAX_KERNEL_LOG_LINES} lines`);
    return l.map((x: unknown, i) => {
      if (typeof x !== 'string' || x.length > MAX_KERNEL_LOG_LINE) throw new Error(`${path}.${k}[${i}]: not a line of at most ${MAX_KERNEL_LOG_LINE} characters`);
      return x;
    });
  };
  const verdict = str('verdict') as KernelVerdictKind;
  if (!KERNEL_VERDICT_KINDS.includes(verdict)) throw new Error(`${path}.verdict: must be one of ${KERNEL_VERDICT_KINDS.join('|')}`);
  const out: KernelVerdict = {
    verdict, text: str('text'), release: strOrNull('release'), fs: strOrNull('fs'), runs: count('runs'), hits: count('hits'),
    signature: strOrNull('signature'), detail: strOrNull('detail'), log: logLines('log'), at: str('at'),
  };
  if (Number.isNaN(Date.parse(out.at))) throw new Error(`${path}.at: not a date`);
  if (out.hits > out.runs) throw new Error(`${path}.hits: more than its ${out.runs} runs`);
  // What the twin makes of a tally (twin/confirm.ts): a hit is a reproduction, and what could not run ran nothing.
  if ((out.verdict === 'reproduces') !== out.hits > 0) throw new Error(`${path}.hits: ${out.hits} for a verdict '${out.verdict}'`);
  if (out.verdict === 'cannot-run' && out.runs !== 0) throw new Error(`${path}.runs: ${out.runs} for a verdict 'cannot-run'`);
  if (!out.text.startsWith(TEXT_START[out.verdict])) throw new Error(`${path}.text: a '${out.verdict}' verdict's text starts "${TEXT_START[out.verdict]}"`);
  return out;
}
