// jbd2, the journal under ext4 (fs/jbd2/transaction.c, commit.c, journal.c),
// as far as the sim's ext4 needs it: handles join the running transaction
// (start_this_handle waits while it is locked for commit), the commit thread
// kjournald2 commits one transaction at a time (on fsync, on a handle-count
// limit standing in for log credits), and a commit, in ordered mode, waits for
// the data I/O of the transaction's inodes before it writes the commit block.
//
// Ordered data: the sim allocates blocks only as writeback submits their data
// (delayed allocation), so the data a transaction's new mappings point at is
// already in flight when the commit looks; the commit waits for it
// (journal_finish_inode_data_buffers) rather than submitting it.
//
// Metadata is not modelled block by block: a transaction holds inodes, and
// what it commits of each is the inode's in-core metadata (size, extents) as
// the transaction's last handle left it, captured when the transaction stops
// taking handles (T_FLUSH; jbd2 keeps frozen copies of buffers that later
// handles modify, so the commit writes exactly that state). A power cut keeps
// what completed commits installed and nothing of a commit in flight.

import { violation } from '../checks.js';
import { lockAcquire, lockRelease } from '../lockdep.js';
import type { Co, Sched } from '../sched.js';
import { WaitQueue } from '../sched.js';
import type { Inode } from '../include/fs.js';

/** transaction_t.t_state, the states the sim passes through. */
export const enum TState {
  Running = 0,
  /** T_LOCKED: no new handles; the commit waits for the open ones to stop. */
  Locked = 1,
  /** T_FLUSH: the ordered data of its inodes is being written. */
  Flush = 2,
  /** T_COMMIT: the commit block is being written. */
  Commit = 3,
  Finished = 4,
}

export class Transaction {
  state = TState.Running;
  /** t_updates: handles open on it. */
  updates = 0;
  /** t_handle_count: handles started on it, the stand-in for the log credits it used. */
  handles = 0;
  /** Inodes whose metadata (and, ordered mode, data) it holds, in the order they joined. */
  readonly inodes = new Set<Inode>();

  constructor(readonly tid: number) {}
}

export interface Handle {
  readonly transaction: Transaction;
}

/** What the journal needs from its filesystem. */
export interface JournalOwner<S> {
  /** The inode's metadata as a commit now would write it. */
  snapshotInode(inode: Inode): S;
  /** The commit block reached the disk (REQ_PREFLUSH|REQ_FUA): these are what recovery replays. */
  installCommitted(snaps: readonly S[]): void;
  /** Ordered mode (journal_finish_inode_data_buffers): wait for the inode's data I/O in flight. */
  waitInodeData(inode: Inode): Co<void>;
}

/** J_ASSERT: jbd2's BUG_ON(!(assert)), on in every kernel build. */
function jAssert(s: Sched, assert: boolean, what: string, fn: string): asserts assert {
  if (!assert) violation(s, 'BUG', `J_ASSERT:${what}`, fn, `J_ASSERT(${what}) failed`);
}

/** Handles a transaction takes before the commit thread is asked to commit it (log space pressure). */
export const MAX_HANDLES_PER_TRANSACTION = 64;

export class Journal<S> {
  running: Transaction | null = null;
  committing: Transaction | null = null;
  /** j_commit_sequence: the last tid whose commit completed. */
  commitSequence = 0;
  /** j_commit_request: the highest tid a commit was asked for. */
  commitRequest = 0;
  private nextTid = 1;
  /** The tid of the last transaction each inode joined (ext4's i_sync_tid). */
  private readonly inodeTid = new Map<Inode, number>();
  private readonly waitTransactionLocked = new WaitQueue('j_wait_transaction_locked');
  private readonly waitUpdates = new WaitQueue('j_wait_updates');
  private readonly waitDoneCommit = new WaitQueue('j_wait_done_commit');
  private readonly waitCommit = new WaitQueue('j_wait_commit');
  private threadStarted = false;
  /** Bumped by a power cut: a commit under way from before it writes nothing. */
  private epoch = 0;

  constructor(
    private readonly sched: Sched,
    private readonly owner: JournalOwner<S>,
  ) {}

  private newTransaction(): Transaction {
    this.running = new Transaction(this.nextTid++);
    return this.running;
  }

  /** jbd2__journal_start / start_this_handle: join the running transaction, waiting while it is locked. */
  *start(): Co<Handle> {
    const s = this.sched;
    for (;;) {
      const t = this.running ?? this.newTransaction();
      if (t.state === TState.Running) {
        t.updates++;
        t.handles++;
        const cur = s.cur();
        cur.journalHandles++;
        lockAcquire(s, 'jbd2_handle');
        return { transaction: t };
      }
      // wait_transaction_locked: until the commit has moved it on.
      yield* s.waitUntil(this.waitTransactionLocked, () => this.running !== t);
    }
  }

  /** jbd2_journal_stop: the last handle out wakes the commit waiting for it; many handles ask for a commit. */
  stop(h: Handle): void {
    const s = this.sched;
    const t = h.transaction;
    const cur = s.cur();
    // jbd2_journal_stop: J_ASSERT(journal_current_handle() == handle), as far as the sim tracks handles.
    jAssert(s, cur.journalHandles > 0, 'journal_current_handle() == handle', 'jbd2_journal_stop');
    // stop_this_handle
    jAssert(s, t.updates > 0, 'atomic_read(&transaction->t_updates) > 0', 'stop_this_handle');
    lockRelease(s, 'jbd2_handle');
    cur.journalHandles--;
    if (--t.updates === 0) s.wakeAll(this.waitUpdates);
    if (t.handles >= MAX_HANDLES_PER_TRANSACTION && t === this.running && t.state === TState.Running) this.logStartCommit(t.tid);
  }

  /**
   * The inode's metadata changed under this handle (ext4_mark_inode_dirty,
   * jbd2_journal_inode_ranged_write): it is part of the handle's transaction.
   */
  joinInode(h: Handle, inode: Inode): void {
    h.transaction.inodes.add(inode);
    this.inodeTid.set(inode, h.transaction.tid);
  }

  /**
   * A metadata change made where ext4 uses a reserved handle (I/O completion)
   * or that the sim makes outside a handle: the inode joins the running
   * transaction (a new one if none runs), without waiting.
   */
  joinInodeReserved(inode: Inode): number {
    let t = this.running;
    if (!t || t.state > TState.Locked) t = this.newTransaction();
    t.inodes.add(inode);
    this.inodeTid.set(inode, t.tid);
    return t.tid;
  }

  /** ext4's i_sync_tid: the last transaction holding the inode's metadata (0: none). */
  tidOf(inode: Inode): number {
    return this.inodeTid.get(inode) ?? 0;
  }

  /** __jbd2_log_start_commit: ask kjournald2 to commit `tid` if it is the running transaction. */
  logStartCommit(tid: number): void {
    if (this.commitRequest >= tid || this.running?.tid !== tid) return;
    this.commitRequest = tid;
    if (!this.threadStarted) {
      this.threadStarted = true;
      this.sched.spawn('jbd2/kjournald2', this.kjournald2(), true);
    }
    this.sched.wakeAll(this.waitCommit);
  }

  /** jbd2_log_wait_commit */
  *logWaitCommit(tid: number): Co<void> {
    yield* this.sched.waitUntil(this.waitDoneCommit, () => this.commitSequence >= tid);
  }

  /** jbd2_complete_transaction: make sure `tid` is committed, starting its commit if it still runs. */
  *completeTransaction(tid: number): Co<void> {
    if (tid <= this.commitSequence) return;
    if (this.running?.tid === tid) this.logStartCommit(tid);
    yield* this.logWaitCommit(tid);
  }

  private *kjournald2(): Co<void> {
    const s = this.sched;
    for (;;) {
      yield* s.waitUntil(this.waitCommit, () => this.running !== null && this.commitRequest >= this.running.tid);
      s.beginPass();
      yield* this.commitTransaction();
    }
  }

  /** jbd2_journal_commit_transaction */
  private *commitTransaction(): Co<void> {
    const s = this.sched;
    const epoch = this.epoch;
    const t = this.running;
    jAssert(s, t !== null, 'journal->j_running_transaction != NULL', 'jbd2_journal_commit_transaction');
    jAssert(s, this.committing === null, 'journal->j_committing_transaction == NULL', 'jbd2_journal_commit_transaction');
    jAssert(s, t.state === TState.Running, 'commit_transaction->t_state == T_RUNNING', 'jbd2_journal_commit_transaction');
    t.state = TState.Locked;
    yield* s.waitUntil(this.waitUpdates, () => t.updates === 0);
    if (epoch !== this.epoch) return;
    // Switch to a new running transaction: handles waiting on the locked one go on.
    t.state = TState.Flush;
    this.committing = t;
    this.running = null;
    s.wakeAll(this.waitTransactionLocked);
    const snaps = [...t.inodes].map((inode) => this.owner.snapshotInode(inode));
    // Ordered mode: the data the new metadata points at goes to disk before the commit block.
    for (const inode of t.inodes) {
      yield* this.owner.waitInodeData(inode);
      if (epoch !== this.epoch) return;
    }
    t.state = TState.Commit;
    this.owner.installCommitted(snaps);
    t.state = TState.Finished;
    this.committing = null;
    this.commitSequence = t.tid;
    s.wakeAll(this.waitDoneCommit);
  }

  /**
   * Power cut: the running and committing transactions are gone with
   * everything they did not commit. Their waiters are released (on a real
   * machine they died); tids stay monotonic.
   */
  powerCut(): void {
    this.epoch++;
    this.running = null;
    this.committing = null;
    this.commitSequence = this.commitRequest = this.nextTid - 1;
    this.inodeTid.clear();
    this.sched.wakeAll(this.waitTransactionLocked);
    this.sched.wakeAll(this.waitUpdates);
    this.sched.wakeAll(this.waitDoneCommit);
  }
}
