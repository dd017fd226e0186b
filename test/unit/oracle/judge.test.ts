// The oracle judges a trace, not a live sim: a run's recorded trace, judged
// after the fact (the way a real kernel's is), must give the verdict the run
// gave live; and without the sim's SIM ONLY events (as a kernel's trace
// comes), it must never be stricter.

import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type RunResult, runProgram } from '../../../worker/exec/run.js';
import { generateProgram } from '../../../worker/fuzz/generate.js';
import { FuzzRng } from '../../../worker/fuzz/rng.js';
import { judgeTrace } from '../../../worker/oracle/judge.js';
import type { Program } from '../../../worker/prog/types.js';
import { parseSignature } from '../../../worker/report/signature.js';
import { validateProgram } from '../../../worker/prog/validate.js';
import { parseRepro } from '../../../worker/repro/repro.js';
import { BUG_SWITCHES, type BugName, type BugSet } from '../../../worker/sim/bugs.js';
import type { Trace, TraceEvent } from '../../../worker/trace/types.js';

const CORPUS = fileURLToPath(new URL('../../../../corpus/', import.meta.url));
const ALL: BugSet = new Set(BUG_SWITCHES.filter((b) => b.implemented).map((b) => b.name));

/** The live run's verdict and the recorded trace's, judged after the fact, name the same check. */
function assertSameVerdict(program: Program, bugs: BugSet, what: string): RunResult {
  const live = runProgram(program, { bugs, record: true });
  assert.equal(live.harnessError, null, `${what}: ${live.harnessError ?? ''}`);
  const trace = live.trace!;
  const judged = judgeTrace(trace).violation;
  if (live.violation === null || live.timedOut) {
    assert.equal(judged, null, `${what}: clean live, judged ${judged?.signature ?? ''}`);
    return live;
  }
  assert.ok(judged, `${what}: live ${live.violation.signature}, judged clean`);
  const a = parseSignature(live.violation.signature)!;
  const b = parseSignature(judged.signature)!;
  assert.equal(b.kind, a.kind, what);
  // The same check saw it.
  assert.equal(judged.invariant, live.violation.invariant, what);
  if (a.kind === 'DATA') {
    // Live, the sim names a wrong byte by its cause (byte provenance); a trace names what was read instead.
    // Both name whose bytes were expected.
    if (a.cause) assert.equal(b.cause?.expected, a.cause.expected, `${what}: ${live.violation.signature} / ${judged.signature}`);
    return live;
  }
  assert.equal(b.invariant, a.invariant, what);
  // Judged after the fact, a site is the check's function alone (no live stack to name its caller).
  assert.equal(b.site[0], a.site[0], what);
  return live;
}

/** A trace as a real kernel's comes: no SIM ONLY events or fields. */
function asKernelTrace(t: Trace): Trace {
  const events: TraceEvent[] = [];
  for (const ev of t.events) {
    if (ev.e === 'fallback' || ev.e === 'posteof') continue;
    if (ev.e === 'ret' && ev.unsettled) {
      const { unsettled: _u, ...rest } = ev;
      events.push(rest);
    } else events.push(ev);
  }
  return { ...t, source: { kind: 'kernel', release: 'test', fsType: t.program.config.fs, blockSize: t.program.config.blockSize, run: 0 }, events };
}

interface Corpus { name: string; program: Program; bugs: BugName[] }

/** corpus/known: plain programs, each with its switch in the manifest. */
function knownPrograms(): Corpus[] {
  const manifest = JSON.parse(readFileSync(join(CORPUS, 'known', 'manifest.json'), 'utf8')) as { switch: BugName; program: string }[];
  return manifest.map((e) => {
    const path = join(CORPUS, 'known', e.program);
    return { name: `known/${e.program}`, program: validateProgram(JSON.parse(readFileSync(path, 'utf8')), path), bugs: [e.switch] };
  });
}

/** corpus/regress: reproducers of false positives, run with every switch off. */
function regressRepros(): Corpus[] {
  const dir = join(CORPUS, 'regress');
  return readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => {
    const path = join(dir, f);
    const r = parseRepro(readFileSync(path, 'utf8'), path);
    return { name: `regress/${f}`, program: r.program, bugs: r.bugs };
  });
}

test('every known and regress reproducer: the recorded trace judged after the fact gives the live verdict', () => {
  const repros = [...knownPrograms(), ...regressRepros()];
  assert.ok(repros.length >= 40, `${repros.length} reproducers`);
  let fired = 0;
  for (const r of repros) {
    if (assertSameVerdict(r.program, new Set(r.bugs), r.name).violation) fired++;
    assertSameVerdict(r.program, ALL, `${r.name} (every switch)`);
  }
  // Every known reproducer but the benign controls fires with its switch.
  assert.ok(fired >= 12, `${fired} fired`);
});

test('600 generated programs, every switch off and every switch on: judged traces give the live verdicts', () => {
  let fired = 0;
  for (let seed = 1; seed <= 300; seed++) {
    const p = generateProgram(new FuzzRng(seed));
    assertSameVerdict(p, new Set(), `seed ${seed}`);
    if (assertSameVerdict(p, ALL, `seed ${seed}, every switch`).violation) fired++;
  }
  // The comparison means something only if checks fired.
  assert.ok(fired >= 20, `${fired} programs fired with every switch on`);
});

test('without the sim-only events (a kernel trace), a clean run stays clean', () => {
  let judged = 0;
  for (let seed = 1000; seed < 1300; seed++) {
    const p = generateProgram(new FuzzRng(seed));
    const live = runProgram(p, { record: true });
    if (live.violation || live.timedOut) continue;
    judged++;
    const v = judgeTrace(asKernelTrace(live.trace!)).violation;
    assert.equal(v, null, `seed ${seed}: ${v?.message ?? ''}`);
  }
  assert.ok(judged >= 250, `${judged} clean runs judged`);
});

test('a store racing an AIO that grows the file: a kernel\'s trace cannot say which came first, the sim\'s can', () => {
  // corpus/regress/xfs-aio-extension-under-fault-store: f0 is 5120 bytes; an
  // AIO write at 16384 grows it to 17408 at completion while t0 stores 5s at
  // [7168, 7387) through a mapping. Reported as completing during the store,
  // it may have grown the file before the store or after it: a store past
  // the EOF of then is not file data, and the disk may read 0s there.
  const path = join(CORPUS, 'regress', 'xfs-aio-extension-under-fault-store.json');
  const live = runProgram(parseRepro(readFileSync(path, 'utf8'), path).program, { record: true });
  assert.equal(live.violation, null);
  const events: TraceEvent[] = live.trace!.events.filter((e) => e.e !== 'aio');
  const completion = live.trace!.events.find((e) => e.e === 'aio')!;
  const storeRet = events.findIndex((e) => e.e === 'ret' && e.i === 3);
  events.splice(storeRet, 0, completion);
  const lost = events.map((e): TraceEvent => (e.e === 'final' ? { ...e, data: e.data.slice().fill(0, 7168, 7387) } : e));
  const reordered: Trace = { ...live.trace!, events: lost };
  assert.equal(judgeTrace(asKernelTrace(reordered)).violation, null, 'a kernel\'s trace: either order');
  // The sim's trace says the store was not past EOF (no post-EOF store hint): the 5s are file data.
  const v = judgeTrace(reordered).violation;
  assert.match(v?.message ?? '', /byte 7168 is 0x0, expected 0x5/);
});
