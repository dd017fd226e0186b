// Sleeping locks: the rw_semaphore behind i_rwsem and invalidate_lock, and the
// mutex. Acquisition is a preemption point, so the scheduler can interleave
// other threads right before a lock is taken, where real races open.

import { lockAcquire, lockRelease } from './lockdep.js';
import { type Co, type Sched, type SimThread, WaitQueue } from './sched.js';

export class RwSem {
  private readers = 0;
  private writer: SimThread | null = null;
  private readonly wq: WaitQueue;

  constructor(readonly name: string) {
    this.wq = new WaitQueue(name);
    // Readers are not tracked one by one; a writer is the holder a deadlock report can name.
    this.wq.holders = () => (this.writer ? [this.writer] : []);
  }

  *downRead(s: Sched): Co<void> {
    if (s.preemptPoint()) yield;
    lockAcquire(s, this.name);
    if (this.writer !== null) yield* s.waitUntil(this.wq, () => this.writer === null);
    this.readers++;
  }

  upRead(s: Sched): void {
    if (this.readers <= 0) throw new Error(`sim: up_read(${this.name}) without down_read`);
    lockRelease(s, this.name);
    if (--this.readers === 0) s.wakeAll(this.wq);
  }

  *downWrite(s: Sched): Co<void> {
    if (s.preemptPoint()) yield;
    lockAcquire(s, this.name);
    if (this.writer !== null || this.readers !== 0) {
      yield* s.waitUntil(this.wq, () => this.writer === null && this.readers === 0);
    }
    this.writer = s.cur();
  }

  upWrite(s: Sched): void {
    if (this.writer !== s.cur()) throw new Error(`sim: up_write(${this.name}) by a non-owner`);
    lockRelease(s, this.name);
    this.writer = null;
    s.wakeAll(this.wq);
  }


  isLocked(): boolean {
    return this.writer !== null || this.readers > 0;
  }
}

export class Mutex {
  private owner: SimThread | null = null;
  private readonly wq: WaitQueue;

  constructor(readonly name: string) {
    this.wq = new WaitQueue(name);
    this.wq.holders = () => (this.owner ? [this.owner] : []);
  }

  *lock(s: Sched): Co<void> {
    if (s.preemptPoint()) yield;
    lockAcquire(s, this.name);
    if (this.owner !== null) yield* s.waitUntil(this.wq, () => this.owner === null);
    this.owner = s.cur();
  }

  unlock(s: Sched): void {
    if (this.owner !== s.cur()) throw new Error(`sim: mutex_unlock(${this.name}) by a non-owner`);
    lockRelease(s, this.name);
    this.owner = null;
    s.wakeAll(this.wq);
  }
}
