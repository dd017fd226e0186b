// What a cluster worker's main thread and its executor threads tell each
// other (structured-clone plain data).

import type { BatchReport, MinimizeReport } from '../fuzz/messages.js';
import type { MinimizeJob, VerifyJob, WorkBatch } from './wire.js';

export type ExecutorRequest =
  | { type: 'batch'; id: number; batch: WorkBatch }
  | { type: 'verify'; id: number; job: VerifyJob }
  | { type: 'minimize'; id: number; job: MinimizeJob };

export type ExecutorReply =
  | { type: 'batch'; id: number; report: BatchReport; ms: number }
  /** observed: the signature the replay reported, '' when silent; note: 'timeout' or 'harness'. */
  | { type: 'verify'; id: number; observed: string; note: string }
  | { type: 'minimize'; id: number; report: MinimizeReport }
  | { type: 'error'; id: number; error: string };
