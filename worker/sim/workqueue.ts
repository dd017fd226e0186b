// Kernel threads that sleep until given work: a workqueue (the DIO completion
// queue) runs queued items in order; a kickable daemon (the writeback flusher,
// kswapd) runs its pass each time it is woken. Created on first use, so a
// program that never needs them runs with its own threads only.

import { type Co, type Sched, WaitQueue } from './sched.js';

export class Workqueue {
  private readonly items: (() => Co<void>)[] = [];
  private readonly wq: WaitQueue;
  private started = false;

  constructor(
    private readonly sched: Sched,
    readonly name: string,
  ) {
    this.wq = new WaitQueue(name);
  }

  /** queue_work */
  queueWork(work: () => Co<void>): void {
    this.items.push(work);
    if (!this.started) {
      this.started = true;
      this.sched.spawn(this.name, this.worker(), true);
    }
    this.sched.wakeAll(this.wq);
  }

  private *worker(): Co<void> {
    for (;;) {
      yield* this.sched.waitUntil(this.wq, () => this.items.length > 0);
      this.sched.beginPass();
      const work = this.items.shift()!;
      yield* work();
    }
  }
}

/** A daemon that runs `pass` once per kick (kicks while it runs coalesce into one more pass). */
export class KickedDaemon {
  private kicked = false;
  private started = false;
  private readonly wq: WaitQueue;

  constructor(
    private readonly sched: Sched,
    readonly name: string,
    private readonly pass: () => Co<void>,
  ) {
    this.wq = new WaitQueue(name);
  }

  kick(): void {
    this.kicked = true;
    if (!this.started) {
      this.started = true;
      this.sched.spawn(this.name, this.loop(), true);
    }
    this.sched.wakeAll(this.wq);
  }

  private *loop(): Co<void> {
    for (;;) {
      yield* this.sched.waitUntil(this.wq, () => this.kicked);
      this.sched.beginPass();
      this.kicked = false;
      yield* this.pass();
    }
  }
}
