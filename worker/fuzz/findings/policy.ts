// Who must see a new signature again before it is reported: the one rule of
// the cross-check, shared by the finding pipeline and by a cluster worker
// deciding whether it may run a verify job. Nothing imported, so a worker
// process's main thread can use it without loading the engine.
//
// A cluster with one worker has nobody else to cross-check on. Rather than
// never reporting anything, its coordinator waits SAME_WORKER_DELAY_MS and
// then has the finder itself replay the program, in an executor and on a
// simulated machine of their own (coordinator/findings.ts). Such a job names
// as its finder the finder's id with a mark, which names no worker: every
// worker may take it, and the record keeps the mark, so the finding says how
// it was cross-checked.

/** 'another-worker': a replay on a worker other than the finder (the cluster); 'none': reported at once. */
export type CrossCheck = 'none' | 'another-worker';

/** How long a one-worker cluster waits before it cross-checks on the finder itself. */
export const SAME_WORKER_DELAY_MS = 30_000;

const SAME_WORKER_MARK = '.same-worker';

/** A cross-check is a replay by a worker other than the finder: the finder hands such a job back. */
export function mayCrossCheck(job: { finderWorkerId: string }, workerId: string): boolean {
  return job.finderWorkerId !== workerId;
}

/** The finder id of a cross-check the finder may run itself. */
export function sameWorkerFinder(finder: string): string {
  return isSameWorkerCheck(finder) ? finder : `${finder}${SAME_WORKER_MARK}`;
}

export function isSameWorkerCheck(finderWorkerId: string): boolean {
  return finderWorkerId.endsWith(SAME_WORKER_MARK);
}

/** The worker that found it, without the mark. */
export function finderOf(finderWorkerId: string): string {
  return isSameWorkerCheck(finderWorkerId) ? finderWorkerId.slice(0, -SAME_WORKER_MARK.length) : finderWorkerId;
}

/**
 * Whether a cross-check still waiting after the delay goes to its finder:
 * only when the finder is the one worker there is. With none connected it
 * waits for whoever comes; with another one it goes there.
 */
export function crossCheckOnFinder(finder: string, connected: readonly string[]): boolean {
  return connected.length === 1 && connected[0] === finderOf(finder);
}

/** How a finding was cross-checked, in words (the listing, the dashboard, the logs). */
export function crossCheckLabel(r: { verified: boolean; verifiedBy?: string; finderWorkerId: string; verifyJob?: string }): string {
  if (!r.verified) return r.verifyJob ? 'waiting for a cross-check on another worker' : 'not cross-checked yet';
  if (r.verifiedBy === undefined) return 'reported without a cross-check (one process)';
  if (isSameWorkerCheck(r.finderWorkerId)) {
    return `cross-checked on its finder ${finderOf(r.finderWorkerId)} (the only worker), on a fresh executor ${SAME_WORKER_DELAY_MS / 1000} s later`;
  }
  return `cross-checked on ${r.verifiedBy} (found by ${r.finderWorkerId})`;
}
