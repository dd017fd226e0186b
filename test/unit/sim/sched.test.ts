// The deterministic scheduler and the sleeping locks.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Violation } from '../../../worker/sim/checks.js';
import { Mutex, RwSem } from '../../../worker/sim/locks.js';
import { type Choice, type Co, type Policy, Sched, ThreadState, WaitQueue, waitForCycle } from '../../../worker/sim/sched.js';

/** Prefer a thread other than the current one (round robin), events last. */
const SWITCHY: Policy = {
  pick(sched: Sched, enabled: readonly Choice[]): number {
    let first = -1;
    for (let i = 0; i < enabled.length; i++) {
      const c = enabled[i]!;
      if (c.kind !== 'thread') continue;
      if (c.thread !== sched.current) return i;
      if (first < 0) first = i;
    }
    return first >= 0 ? first : 0;
  },
};

function trace(policy?: Policy): string[] {
  const s = new Sched(10_000, policy);
  const log: string[] = [];
  const body = (name: string): Co<void> => (function* () {
    for (let i = 0; i < 3; i++) {
      log.push(`${name}${i}`);
      s.queueEvent({ name: `ev-${name}${i}`, run: () => log.push(`ev-${name}${i}`) });
      yield* s.preempt();
    }
  })();
  s.spawn('a', body('a'));
  s.spawn('b', body('b'));
  assert.equal(s.run().kind, 'done');
  return log;
}

test('sched: the default policy runs the current thread on, then the next, events only when idle', () => {
  const log = trace();
  assert.deepEqual(log, ['a0', 'a1', 'a2', 'b0', 'b1', 'b2', 'ev-a0', 'ev-a1', 'ev-a2', 'ev-b0', 'ev-b1', 'ev-b2']);
});

test('sched: same program, same policy, same trace', () => {
  assert.deepEqual(trace(), trace());
  assert.deepEqual(trace(SWITCHY), trace(SWITCHY));
  assert.notDeepEqual(trace(SWITCHY), trace(), 'the policy decides the interleaving');
});

test('sched: waitUntil sleeps until woken with the condition true', () => {
  const s = new Sched(1000);
  const wq = new WaitQueue('flag');
  let flag = false;
  const log: string[] = [];
  s.spawn('waiter', (function* () {
    yield* s.waitUntil(wq, () => flag);
    log.push('woke');
  })());
  s.spawn('setter', (function* () {
    log.push('set');
    flag = true;
    s.wakeAll(wq);
  })());
  assert.equal(s.run().kind, 'done');
  assert.deepEqual(log, ['set', 'woke']);
});

test('sched: a thread sleeping forever with nothing to wake it is a deadlock', () => {
  const s = new Sched(1000);
  const wq = new WaitQueue('never');
  const t = s.spawn('stuck', (function* () {
    yield* s.waitUntil(wq, () => false);
  })());
  const o = s.run();
  assert.equal(o.kind, 'deadlock');
  if (o.kind === 'deadlock') assert.deepEqual(o.blocked, [t]);
  assert.equal(t.state, ThreadState.Blocked);
  assert.equal(t.blockedOn, wq);
});

test('sched: a blocked kernel thread alone is not a deadlock', () => {
  const s = new Sched(1000);
  const wq = new WaitQueue('work');
  s.spawn('kworker', (function* () {
    yield* s.waitUntil(wq, () => false);
  })(), true);
  assert.equal(s.run().kind, 'done');
});

test('sched: two threads each waiting for the lock the other holds deadlock, and both waits are named', () => {
  const s = new Sched(1000, SWITCHY);
  // Two locks of one class: lockdep does not order them, so the run goes on to deadlock.
  const a = new Mutex('inode_lock');
  const b = new Mutex('inode_lock');
  s.spawn('t0', (function* () {
    yield* a.lock(s);
    yield* b.lock(s);
    b.unlock(s);
    a.unlock(s);
  })());
  s.spawn('t1', (function* () {
    yield* b.lock(s);
    yield* a.lock(s);
    a.unlock(s);
    b.unlock(s);
  })());
  const o = s.run();
  assert.equal(o.kind, 'deadlock');
  if (o.kind !== 'deadlock') return;
  assert.deepEqual(o.blocked.map((t) => `${t.name}:${t.blockedOn?.name}`).sort(), ['t0:inode_lock', 't1:inode_lock']);
});

test('lockdep: an ABBA order is reported even when the run does not deadlock', () => {
  const s = new Sched(1000);
  const a = new Mutex('A');
  const b = new Mutex('B');
  for (const [x, y] of [[a, b], [b, a]] as const) {
    s.spawn('t', (function* () {
      yield* x.lock(s);
      yield* y.lock(s);
      y.unlock(s);
      x.unlock(s);
    })());
  }
  assert.throws(() => s.run(), (e: unknown) => e instanceof Violation && e.invariant === 'lockdep:inversion:B->A');
});

test('lockdep: rw_semaphore classes taken in both orders are an inversion', () => {
  const s = new Sched(1000, SWITCHY);
  const r1 = new RwSem('i_rwsem');
  const r2 = new RwSem('invalidate_lock');
  s.spawn('t0', (function* () {
    yield* r1.downWrite(s);
    yield* r2.downRead(s);
    r2.upRead(s);
    r1.upWrite(s);
  })());
  s.spawn('t1', (function* () {
    yield* r2.downWrite(s);
    yield* r1.downRead(s);
    r1.upRead(s);
    r2.upWrite(s);
  })());
  assert.throws(() => s.run(), (e: unknown) => e instanceof Violation && e.invariant === 'lockdep:inversion:invalidate_lock->i_rwsem');
});

test('lockdep: the same order every time is fine', () => {
  const s = new Sched(1000, SWITCHY);
  const a = new Mutex('A');
  const b = new Mutex('B');
  for (const n of ['t0', 't1', 't2']) {
    s.spawn(n, (function* () {
      yield* a.lock(s);
      yield* b.lock(s);
      b.unlock(s);
      a.unlock(s);
    })());
  }
  assert.equal(s.run().kind, 'done');
});

test('rwsem: readers share, a writer excludes', () => {
  const s = new Sched(1000, SWITCHY);
  const r = new RwSem('sem');
  const log: string[] = [];
  for (const n of ['r0', 'r1']) {
    s.spawn(n, (function* () {
      yield* r.downRead(s);
      log.push(`${n}+`);
      yield* s.preempt();
      log.push(`${n}-`);
      r.upRead(s);
    })());
  }
  s.spawn('w', (function* () {
    yield* r.downWrite(s);
    log.push('w+');
    assert.equal(r.isLocked(), true);
    r.upWrite(s);
    log.push('w-');
  })());
  assert.equal(s.run().kind, 'done');
  const wIn = log.indexOf('w+');
  assert.ok(log.indexOf('r0+') < log.indexOf('r1-'), 'readers overlap');
  assert.ok(log.indexOf('r1+') < log.indexOf('r0-'), 'readers overlap');
  assert.ok(wIn > log.indexOf('r0-') && wIn > log.indexOf('r1-'), `writer enters after readers left: ${log.join(',')}`);
  assert.equal(r.isLocked(), false);
});

test('locks: unlocking a lock one does not hold is a sim error', () => {
  const s = new Sched(1000);
  const m = new Mutex('m');
  const r = new RwSem('r');
  s.spawn('t', (function* () {
    assert.throws(() => m.unlock(s));
    assert.throws(() => r.upRead(s));
    assert.throws(() => r.upWrite(s));
    yield* m.lock(s);
    m.unlock(s);
  })());
  assert.equal(s.run().kind, 'done');
});

test('sched: the step budget stops a livelock', () => {
  const s = new Sched(500);
  s.spawn('spin', (function* () {
    for (;;) yield;
  })());
  const o = s.run();
  assert.equal(o.kind, 'budget');
  if (o.kind === 'budget') assert.equal(o.steps, 501);
});

test('sched: cur() outside a thread throws', () => {
  const s = new Sched(10);
  assert.throws(() => s.cur());
});

test('deadlock: the wait-for cycle goes through the holders of the locks', () => {
  const s = new Sched(1000, SWITCHY);
  const a = new Mutex('inode_lock');
  const b = new Mutex('inode_lock');
  const t0 = s.spawn('t0', (function* () {
    yield* a.lock(s);
    yield* b.lock(s);
  })());
  const t1 = s.spawn('t1', (function* () {
    yield* b.lock(s);
    yield* a.lock(s);
  })());
  const o = s.run();
  assert.equal(o.kind, 'deadlock');
  if (o.kind !== 'deadlock') return;
  const cycle = waitForCycle(o.blocked);
  assert.ok(cycle, 'a cycle is found');
  assert.deepEqual(new Set(cycle!.map(([t]) => t)), new Set([t0, t1]));
  assert.equal(cycle!.length, 2);
});
