// The text trace of a reproducer: a header, then the interleaving as it ran
// (each op's start and end, prefixed by its thread), the kernel-function
// frames of the thread switched away from at every context switch, and the
// violation with every thread's stack.

import { type RunResult, runProgram } from '../exec/run.js';
import { describeOp } from '../prog/describe.js';
import type { Decision, Program } from '../prog/types.js';
import type { SimThread } from '../sim/sched.js';
import type { Repro } from './repro.js';
import { plural } from './words.js';

function header(r: Repro): string[] {
  const p = r.program;
  const c = p.config;
  const s = p.schedule;
  const lines = [
    `# foliofuzz reproducer (${r.simVersion})`,
    `signature: ${r.signature === '' ? '(none: a control that must stay silent)' : r.signature}`,
    `invariant: ${r.invariant === '' ? '-' : r.invariant}`,
    `switches:  ${r.bugs.length === 0 ? '(none)' : r.bugs.join(', ')}`,
    `config:    fs=${c.fs} inode=${c.inode} blockSize=${c.blockSize} folioMax=${c.folioMax}`,
    `files:     ${p.files.map((f, i) => `file${i}=${f.name}`).join(' ')}`,
    `fds:       ${p.fds.map((d, i) => `fd${i}->file${d.file}${d.direct ? ' O_DIRECT' : ''}`).join(' ')}`,
    `schedule:  ${s === undefined ? 'default' : `${s.strategy} seed=${s.seed} depth=${s.depth} decisions=${s.decisions.length}`}`,
  ];
  for (const d of s?.decisions ?? []) lines.push(`  ${describeDecision(d)}`);
  if (r.minimized) lines.push(`minimized: ${r.minimized.opsBefore} -> ${plural(r.minimized.opsAfter, 'op')}`);
  if (r.foundAt) lines.push(`found at:  exec ${r.foundAt.exec}, ${r.foundAt.sec} s`);
  return lines;
}

/** A decision as a line: where it was taken, what ran. */
function describeDecision(d: Decision): string {
  const where = d.at === '' ? 'before any thread ran' : /^t\d+$/.test(d.at) ? `${d.at} #${d.op}` : `${d.at} pass ${d.op}`;
  const what = d.run.startsWith('ev:') ? `complete ${d.run.slice(3)}` : `run ${d.run}`;
  return `at ${where}, preemption point ${d.step}, turn ${d.nth}: ${what}`;
}

function frames(t: SimThread): string {
  return t.frames.length === 0 ? 'user space (no kernel frames)' : [...t.frames].reverse().join(' <- ');
}

/** What one run of a reproducer showed: its interleaving as lines, the kernel frames it passed through, its result. */
export interface TracedRun {
  lines: string[];
  /** Every kernel function a thread was in at a context switch, innermost first per switch, each once. */
  frames: string[];
  result: RunResult;
}

/** Run the reproducer once with its switches on, keeping the interleaving (and, with `record`, the observed trace). */
export function traceRun(r: Repro, record = false): TracedRun {
  const lines: string[] = [];
  const seen = new Set<string>();
  const program: Program = r.program;
  const result = runProgram(program, {
    bugs: new Set(r.bugs),
    record,
    onOpStart: (t, i) => lines.push(`t${t} #${i} > ${describeOp(program.threads[t]!.ops[i]!).trimEnd()}`),
    // run.ts's op lines read "tN #I op args = RET": keep the op's id and its result.
    trace: (line) => lines.push(line.replace(/^(t\d+ #\d+) .* = (.*)$/, '$1 < $2')),
    onSwitch: (from, to) => {
      if (from === null) return;
      for (const f of [...from.frames].reverse()) seen.add(f);
      lines.push(`   -- switch ${from.name} -> ${to.name}; ${from.name} is in ${frames(from)}`);
    },
  });
  return { lines, frames: [...seen], result };
}

/** The outcome of a run as lines: the violation with every thread's stack, or why there is none. */
export function outcomeLines(res: RunResult): string[] {
  const v = res.violation;
  if (v === null) {
    return [res.harnessError !== null ? `# simulator error: ${res.harnessError.split('\n')[0] ?? ''}` : '# no violation: the run stayed silent'];
  }
  const lines = [`# violation after ${plural(v.step, 'scheduler step')}`, `${v.signature}`, `  invariant: ${v.invariant} (${v.kind})`, `  ${v.message}`, '  stacks:'];
  for (const s of v.stacks) lines.push(`    ${s.thread}: ${s.frames.length === 0 ? '(idle)' : [...s.frames].reverse().join(' <- ')}`);
  return lines;
}

/** Run the reproducer once with its switches on and render what happened. */
export function textTrace(r: Repro): string {
  const run = traceRun(r);
  const lines = [...header(r), '', '# interleaving (tN = program thread N; other names are kernel threads)', ...run.lines, '', ...outcomeLines(run.result)];
  return `${lines.join('\n')}\n`;
}
