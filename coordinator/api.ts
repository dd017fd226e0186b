// What the coordinator offers the outside world (gRPC, HTTP, ctl): campaigns,
// their live stats, findings and reproducers. The coordinator (coordinator.ts)
// implements it; grpc-server.ts and http-server.ts only translate. Plain data,
// so the same shapes go into proto messages and JSON listings unchanged.

import type { KernelVerdict } from '../worker/report/kernel-verdict.js';
import type { Repro } from '../worker/repro/repro.js';
import type { BugName } from '../worker/sim/bugs.js';

export type CampaignState = 'running' | 'stopped' | 'done';

export interface CampaignInfo {
  /** Short, URL-safe, unique in the store (e.g. c-1a2b3c4d). */
  id: string;
  name: string;
  bugs: BugName[];
  state: CampaignState;
  /** ISO-8601 wall time of creation. */
  createdAt: string;
  /** Unset: runs until stopped. */
  durationSec?: number;
  /** Seconds spent running (across restarts and resumes). */
  elapsedSec: number;
  execs: number;
  execsPerSec: number;
  corpus: number;
  coverage: number;
  /** Distinct signatures reported (cross-checked on a second worker). */
  findings: number;
  /** Worker processes currently serving this campaign's work. */
  workers: number;
  /** Unset: the campaign does not ask for kernel confirmation. */
  kernelConfirm?: KernelConfirmInfo;
  /** Set for a kernel campaign (its batches run on workers started with --kernel). */
  kernel?: KernelCampaignInfo;
}

/** A kernel campaign's figures, per config, and where its batches stand. */
export interface KernelCampaignInfo {
  /** In the order the campaign was created with. */
  configs: KernelConfigFigures[];
  /** Workers started with --kernel connected now. */
  workers: number;
  /** In words, e.g. "kernel campaign: waiting for a worker started with --kernel". */
  status: string;
}

export interface KernelConfigFigures {
  /** `xfs:1024`. */
  config: string;
  programs: number;
  /** Programs per second of kernel time (the kernel side of the twin). */
  programsPerSec: number;
  divergences: number;
  divergencesPerMillion: number;
  kernelViolations: number;
  /** Of the divergences and kernel violations, those the sim shows under a switch. */
  explained: number;
}

/** Where a campaign's kernel confirmations stand. */
export interface KernelConfirmInfo {
  /** Runs of each reported finding's reproducer on a real kernel. */
  runs: number;
  /** Findings waiting for their verdict. */
  waiting: number;
  /** Findings with a verdict. */
  confirmed: number;
  /** Workers started with --kernel-confirm connected now. */
  workers: number;
  /** In words, e.g. "kernel confirmation: waiting for a worker started with --kernel-confirm (3 findings waiting)". */
  status: string;
}

export interface FindingInfo {
  /** URL-safe, unique across campaigns (e.g. <campaign id>-<sha12 of signature>). */
  id: string;
  campaignId: string;
  signature: string;
  invariant: string;
  message: string;
  count: number;
  firstFoundSec: number;
  firstFoundExec: number;
  lastFoundSec: number;
  /** Replayed with the same signature on a worker other than the finder. */
  verified: boolean;
  /** Minimized reproducer ready (else the reproducer is the first program). */
  minimized: boolean;
  opsBefore: number;
  opsAfter: number;
  /** What a real kernel said of it (the kernel twin); unset until it has a verdict. */
  kernel?: KernelVerdict;
  /** The bug it is (report/signature.ts bugKey): findings of any campaign with the same bug are one bug. */
  bug: string;
  /** The smallest set of the campaign's switches it needs, once its minimization found it (switchesKnown). */
  switches: string[];
  switchesKnown: boolean;
}

export interface CreateCampaignRequest {
  name?: string;
  bugs: BugName[];
  durationSec?: number;
  /** Unset: derived from the clock. */
  seed?: number;
  /** Run each reported finding's reproducer this many times on a worker started with --kernel-confirm; unset: no confirmation. */
  kernelConfirmRuns?: number;
  /** A kernel campaign on these configs (names as parseTwinConfigs writes them, validated); unset: a sim campaign. */
  kernelConfigs?: string[];
}

export type ApiErrorCode = 'INVALID_ARGUMENT' | 'NOT_FOUND' | 'FAILED_PRECONDITION' | 'UNAVAILABLE';

/** An error the API maps to a gRPC status / HTTP code. Anything else is INTERNAL / 500. */
export class ApiError extends Error {
  constructor(readonly code: ApiErrorCode, message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface CoordinatorApi {
  /** `req` is valid (grpc-validate.ts checked it: known switches, a duration > 0, a name that fits). */
  createCampaign(req: CreateCampaignRequest): Promise<CampaignInfo>;
  listCampaigns(): CampaignInfo[];
  /** Throws ApiError NOT_FOUND. */
  getCampaign(id: string): CampaignInfo;
  /** NOT_FOUND; FAILED_PRECONDITION when not running. */
  stopCampaign(id: string): Promise<CampaignInfo>;
  /** NOT_FOUND; FAILED_PRECONDITION when running or done. */
  resumeCampaign(id: string): Promise<CampaignInfo>;
  /** NOT_FOUND when the campaign does not exist. Only verified findings are listed. */
  listFindings(campaignId: string): FindingInfo[];
  /** NOT_FOUND when the finding does not exist (or is not verified yet). */
  getRepro(findingId: string): Repro;
  /** Calls `listener` at once and on every stats change (at most ~1/s); returns unsubscribe. NOT_FOUND. */
  watchCampaign(campaignId: string, listener: (info: CampaignInfo) => void): () => void;
  /** Connected to NATS and the store loaded. */
  ready(): boolean;
}
