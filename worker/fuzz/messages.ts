// What an embedded campaign's coordinator and its worker threads tell each
// other (structured-clone plain data). The cluster speaks the same content
// over NATS, encoded with proto/foliofuzz.proto.

import type { RunViolation } from '../report/violation.js';
import type { Program, ScheduleStrategy } from '../prog/types.js';

export interface WorkerStart {
  type: 'start';
  seed: number;
  bugs: string[];
  feedback: boolean;
  /** Generate with the scenes (false: `--no-scenes`). */
  scenes: boolean;
  /** Record alias coverage (false: line, state and switch coverage only). */
  aliasCoverage: boolean;
  schedule?: ScheduleStrategy;
  timeoutMs: number;
  /** How long a batch of executions runs before the worker reports. */
  batchMs: number;
  /**
   * Run at most this many executions, then idle (0: no limit): a one-worker
   * campaign with --max-execs runs exactly that many, whatever the batch
   * timing, so a fixed seed gives the same campaign every time.
   */
  maxExecs: number;
}

export interface SharedInput {
  program: Program;
  points: number[];
}

export type ToWorker =
  | WorkerStart
  | { type: 'inputs'; inputs: SharedInput[] }
  | MinimizeRequest
  | { type: 'pause' }
  | { type: 'stop' };

/** Minimize a finding's program (the job id comes back with the report). */
export interface MinimizeRequest {
  type: 'minimize';
  jobId: string;
  signature: string;
  program: Program;
  maxRuns: number;
  deadlineMs: number;
}

export interface BatchFinding {
  program: Program;
  violation: RunViolation;
  /** Index of the execution in the batch that found it. */
  at: number;
}

export interface BatchReport {
  type: 'batch';
  execs: number;
  timeouts: number;
  newInputs: (SharedInput & { newPoints: number })[];
  findings: BatchFinding[];
  harness: { program: Program; error: string }[];
}

export interface MinimizeReport {
  type: 'minimized';
  jobId: string;
  signature: string;
  /** Null when minimization failed (error says why); the original program stays the reproducer. */
  program: Program | null;
  opsBefore: number;
  opsAfter: number;
  runs: number;
  ms: number;
  error?: string;
  /** Other signatures met on the way (each a finding in its own right). */
  slipped: BatchFinding[];
  /** The smallest set of the campaign's switches the finding needs (repro/explain.ts attributeSwitches). */
  switches: string[];
}

export type FromWorker = BatchReport | MinimizeReport;
