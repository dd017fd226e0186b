// Who must see a new signature again before it is reported: the one rule of
// the cross-check, shared by the finding pipeline and by a cluster worker
// deciding whether it may run a verify job. Nothing imported, so a worker
// process's main thread can use it without loading the engine.

/** 'another-worker': a replay on a worker other than the finder (the cluster); 'none': reported at once. */
export type CrossCheck = 'none' | 'another-worker';

/** A cross-check is a replay by a worker other than the finder: the finder hands such a job back. */
export function mayCrossCheck(job: { finderWorkerId: string }, workerId: string): boolean {
  return job.finderWorkerId !== workerId;
}
