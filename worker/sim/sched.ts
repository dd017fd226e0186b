// The deterministic scheduler: simulated threads are generators that run until
// they block or reach a choice point, and one loop decides what runs next.
//
// Nothing here reads a clock or a random source. The only decisions are taken
// through a Policy, so the same program under the same policy (and seed) runs
// the same way on any machine. A sequential program never meets a real choice
// (one runnable thread, no pending completion): the loop takes the only option
// and records nothing.

import { aliasEvent, aliasRunning } from './alias.js';
import { covSwitch } from './cov.js';

/** A kernel function that may sleep: yields to the scheduler, returns T. */
export type Co<T> = Generator<undefined, T, undefined>;

export const enum ThreadState {
  Runnable = 0,
  Blocked = 1,
  Done = 2,
}

export class WaitQueue {
  /** Threads sleeping here, in arrival order. */
  readonly waiters: SimThread[] = [];
  /** For a lock's queue: who holds the lock, so a deadlock report can follow the wait-for edges. */
  holders: (() => SimThread[]) | null = null;
  constructor(readonly name: string) {}
}

/**
 * The wait-for cycle among blocked threads: each waits on a queue whose lock
 * the next one holds. Returns the cycle as [thread, queue] pairs, or null
 * when the blocked threads wait on something no thread holds.
 */
export function waitForCycle(blocked: readonly SimThread[]): [SimThread, WaitQueue][] | null {
  for (const start of blocked) {
    const path: [SimThread, WaitQueue][] = [];
    const seen = new Set<SimThread>();
    let t: SimThread | undefined = start;
    while (t && t.blockedOn && !seen.has(t)) {
      seen.add(t);
      const q: WaitQueue = t.blockedOn;
      path.push([t, q]);
      t = q.holders?.().find((h) => h.state === ThreadState.Blocked);
    }
    if (t && seen.has(t)) return path.slice(path.findIndex(([x]) => x === t));
  }
  return null;
}

export class SimThread {
  state: ThreadState = ThreadState.Runnable;
  blockedOn: WaitQueue | null = null;
  /** Kernel function names, outermost first: the sim stack shown in findings and traces. */
  readonly frames: string[] = [];
  /** Journal handles this thread holds open (ext4/jbd2): it must not wait on writeback meanwhile. */
  journalHandles = 0;
  /** Lock classes this thread holds, in the order taken (lockdep). */
  readonly heldLocks: string[] = [];
  /** Where it is, as a schedule decision names it: its op (a kernel thread: its pass) ... */
  op = 0;
  /** ... and the preemption points (sleeps included) it has passed in that op. */
  step = 0;
  /** The choice of running it, made once: the loop offers it at every step. */
  readonly choice: Choice;
  constructor(
    readonly id: number,
    readonly name: string,
    readonly kernel: boolean,
    readonly body: Co<void>,
  ) {
    this.choice = { kind: 'thread', thread: this };
  }
}

/** Work that runs to completion outside any thread: a bio's end_io, an interrupt. */
export interface SimEvent {
  readonly name: string;
  run(): void;
}

/** What the loop may do next: run a thread, or deliver one pending event. */
export type Choice = { kind: 'thread'; thread: SimThread } | { kind: 'event'; index: number };

/** Decides among two or more enabled choices. */
export interface Policy {
  pick(sched: Sched, enabled: readonly Choice[]): number;
}

/**
 * The fixed default: keep running the current thread while it can run, else the
 * lowest-numbered runnable thread; deliver completions (oldest first) only when
 * no thread can run. Sequential programs therefore behave like one process
 * issuing syscalls on an otherwise idle machine.
 */
export const DEFAULT_POLICY: Policy = {
  pick(sched: Sched, enabled: readonly Choice[]): number {
    let firstThread = -1;
    for (let i = 0; i < enabled.length; i++) {
      const c = enabled[i]!;
      if (c.kind !== 'thread') continue;
      if (c.thread === sched.current) return i;
      if (firstThread < 0) firstThread = i;
    }
    return firstThread >= 0 ? firstThread : 0;
  },
};

export type RunOutcome =
  | { kind: 'done' }
  | { kind: 'deadlock'; blocked: SimThread[] }
  | { kind: 'budget'; steps: number }
  | { kind: 'timeout'; steps: number };

/** The innermost kernel function a thread is in ('' when it is between syscalls). */
function topFrame(t: SimThread | null): string {
  if (!t) return '';
  const f = t.frames;
  return f.length ? f[f.length - 1]! : t.name;
}

/** Lock class -> the classes taken while holding it: lockdep's graph (lockdep.ts). */
export type LockOrder = Map<string, Set<string>>;

export class Sched {
  readonly threads: SimThread[] = [];
  /** The lock order graph of this machine's sleeping locks (lockdep.ts keeps it). */
  readonly lockOrder: LockOrder = new Map();
  current: SimThread | null = null;
  steps = 0;
  /**
   * The executor's wall-time limit, asked every 1024 steps. The sim never
   * reads a clock itself: a run that stops here is not a result, it is
   * reported apart (it says nothing about the kernel).
   */
  overtime: (() => boolean) | null = null;
  /** Observer for trace exporters: called when the running thread changes (never when unset). */
  onSwitch?: (from: SimThread | null, to: SimThread) => void;
  /**
   * Scheduler turns taken while the current thread stood where it stands now
   * (same thread, op and step): the `nth` of a decision's anchor.
   */
  turnsHere = 0;
  private readonly events: SimEvent[] = [];
  private readonly enabled: Choice[] = [];
  /** The choice of delivering the i-th pending event, made once per index. */
  private readonly eventChoices: Choice[] = [];

  constructor(
    private readonly stepBudget: number,
    private readonly policy: Policy = DEFAULT_POLICY,
  ) {}

  spawn(name: string, body: Co<void>, kernel = false): SimThread {
    const t = new SimThread(this.threads.length, name, kernel, body);
    this.threads.push(t);
    return t;
  }

  cur(): SimThread {
    const t = this.current;
    if (!t) throw new Error('sim: no current thread (called outside a thread)');
    return t;
  }

  /** Queue work to run later, at a point the policy chooses. */
  queueEvent(ev: SimEvent): void {
    this.events.push(ev);
  }

  get pendingEvents(): number {
    return this.events.length;
  }

  eventName(i: number): string {
    return this.events[i]?.name ?? '?';
  }

  /**
   * The current thread starts op `op` of its program (a kernel thread: its
   * pass `op`): where the schedule's decisions are anchored from now on.
   */
  beginOp(op: number): void {
    const t = this.cur();
    t.op = op;
    t.step = 0;
    this.turnsHere = 0;
  }

  /** The current kernel thread starts another pass of its loop (its passes count from 1). */
  beginPass(): void {
    this.beginOp(this.cur().op + 1);
  }

  /** Sleep on wq until cond() holds. Checked before sleeping, so no wakeup is lost. */
  *waitUntil(wq: WaitQueue, cond: () => boolean): Co<void> {
    while (!cond()) {
      const t = this.cur();
      t.step++;
      this.turnsHere = 0;
      t.state = ThreadState.Blocked;
      t.blockedOn = wq;
      wq.waiters.push(t);
      yield;
    }
  }

  /** Make every sleeper on wq runnable; each re-checks its condition. */
  wakeAll(wq: WaitQueue): void {
    const w = wq.waiters;
    for (let i = 0; i < w.length; i++) {
      const t = w[i]!;
      t.state = ThreadState.Runnable;
      t.blockedOn = null;
    }
    w.length = 0;
  }

  /** A preemption point: another thread or a pending completion may run here. */
  *preempt(): Co<void> {
    if (this.preemptPoint()) yield;
  }

  /**
   * The running thread passes a preemption point: it counts toward where the
   * thread stands (Decision.step) whether or not anything else could run, so
   * that a decision's anchor does not move when another thread's work is cut.
   * True when something else could run. Hot paths call this and yield
   * themselves (`if (s.preemptPoint()) yield;`), so that the uncontended case
   * does not even create the preempt() generator.
   */
  preemptPoint(): boolean {
    const t = this.current;
    if (t !== null) {
      t.step++;
      this.turnsHere = 0;
    }
    return this.events.length !== 0 || this.otherRunnable();
  }

  /** Remove and return the i-th pending event; the later ones move up, keeping their order. */
  private takeEvent(i: number): SimEvent {
    const evs = this.events;
    const ev = evs[i]!;
    for (let j = i + 1; j < evs.length; j++) evs[j - 1] = evs[j]!;
    evs.length--;
    return ev;
  }

  private otherRunnable(): boolean {
    const cur = this.current;
    for (const t of this.threads) if (t !== cur && t.state === ThreadState.Runnable) return true;
    return false;
  }

  /** A completion runs in its own context, then the thread it interrupted goes on. */
  private runEvent(ev: SimEvent): void {
    aliasEvent(ev.name);
    ev.run();
    const t = this.current;
    if (t !== null) aliasRunning(t.id, t.frames, t.name);
  }

  /**
   * Fill `enabled` with what may run now: the runnable threads, then the
   * pending events. Written in place, as `enabled.length = 0` would drop the
   * array's storage at every step (V8 frees it) and allocate it anew.
   */
  private collectEnabled(): number {
    const enabled = this.enabled;
    let n = 0;
    for (const t of this.threads) if (t.state === ThreadState.Runnable) enabled[n++] = t.choice;
    for (let i = 0; i < this.events.length; i++) enabled[n++] = this.eventChoices[i] ?? (this.eventChoices[i] = { kind: 'event', index: i });
    if (enabled.length !== n) enabled.length = n;
    return n;
  }

  /** Run until every thread is done and no event is pending, or a deadlock, or the budget. */
  run(): RunOutcome {
    const enabled = this.enabled;
    for (;;) {
      if (this.collectEnabled() === 0) {
        const blocked = this.threads.filter((t) => t.state === ThreadState.Blocked && !t.kernel);
        if (blocked.length === 0) return { kind: 'done' };
        return { kind: 'deadlock', blocked: this.threads.filter((t) => t.state === ThreadState.Blocked) };
      }
      if (++this.steps > this.stepBudget) return { kind: 'budget', steps: this.steps };
      if ((this.steps & 1023) === 0 && this.overtime?.()) return { kind: 'timeout', steps: this.steps };
      const pick = enabled.length === 1 ? 0 : this.policy.pick(this, enabled);
      this.turnsHere++;
      const choice = enabled[pick]!;
      if (choice.kind === 'event') {
        const ev = this.takeEvent(choice.index);
        // Interleaving coverage: which completion ran while which code waited.
        if (enabled.length > 1) covSwitch(topFrame(this.current), ev.name);
        this.runEvent(ev);
        continue;
      }
      const t = choice.thread;
      if (t !== this.current && enabled.length > 1) covSwitch(topFrame(this.current), topFrame(t));
      if (t !== this.current) {
        if (this.onSwitch !== undefined) this.onSwitch(this.current, t);
        this.current = t;
        aliasRunning(t.id, t.frames, t.name);
        this.turnsHere = 0;
      }
      const r = t.body.next();
      if (r.done) t.state = ThreadState.Done;
    }
  }
}
