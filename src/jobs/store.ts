/**
 * What a long-form job is, and the narrow storage interface every backend implements (SQLite,
 * embedded: sqlite-store.ts; PostgreSQL, for several nodes: postgres-store.ts). Durability rules
 * live here, in the contract:
 *
 * - A job is accepted (the client gets 2xx) only after `create` has committed.
 * - A worker owns a job only while its lease is unexpired; every write a worker makes names its
 *   owner id and is refused once the lease is gone, so a job is never completed twice.
 * - Finishing a job and queueing its deliveries (callback, object store) happen in one
 *   transaction: a crash between the two cannot lose a callback.
 */

/**
 * The store cannot be reached (its server is down or restarting): nothing was written, and the
 * same call may succeed once it is back. Callers answer "busy, retry later", never "failed".
 */
export class JobStoreUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JobStoreUnavailableError';
  }
}

export type JobState = 'WAITING' | 'PROCESSING' | 'COMPLETED' | 'FAILED' | 'TIMEOUT';

export type JobSource =
  | { kind: 'upload'; path: string; filename: string | undefined }
  /** Cluster mode (`media.store: s3`): the upload waits in the bucket for whichever node runs the job. */
  | { kind: 'upload'; key: string; filename: string | undefined }
  | { kind: 'url'; url: string }
  | { kind: 'object-storage'; key: string };

export interface NewJob {
  token: string;
  domain: string;
  /** The validated request parameters, as the job will run them (JSON). */
  params: unknown;
  source: JobSource;
  createdAt: number;
}

export interface JobRecord extends NewJob {
  state: JobState;
  /** 0-100. */
  progress: number;
  /** Claims since the job last made progress (a checkpoint); too many means it kills its worker. */
  attempts: number;
  leaseOwner: string | null;
  leaseUntil: number | null;
  startedAt: number | null;
  finishedAt: number | null;
  /** Media time (ms) up to which `partial` holds finished recognition. */
  resumeAtMs: number;
  /** Checkpointed work of an interrupted run (JSON), resumed from `resumeAtMs`. */
  partial: unknown;
  /** The CLOVA result body once COMPLETED; the error body once FAILED/TIMEOUT. */
  result: unknown;
  errorCode: string | null;
  errorMessage: string | null;
}

export interface JobOutcome {
  state: 'COMPLETED' | 'FAILED' | 'TIMEOUT';
  result: unknown;
  errorCode?: string;
  errorMessage?: string;
}

export type DeliveryKind = 'callback' | 'object-storage';

export interface NewDelivery {
  kind: DeliveryKind;
  /** The callback URL, or the object key. */
  target: string;
}

export interface DeliveryRecord extends NewDelivery {
  id: number;
  token: string;
  state: 'PENDING' | 'DELIVERED' | 'GAVE_UP';
  attempts: number;
  nextAt: number;
  createdAt: number;
  deliveredAt: number | null;
}

export interface DeliveryAttempt {
  deliveryId: number;
  kind: DeliveryKind;
  at: number;
  /** HTTP status of the answer, if one came. */
  status: number | null;
  error: string | null;
  ms: number;
}

export type AttemptResult =
  | { outcome: 'delivered'; status: number | null; ms: number }
  | { outcome: 'retry'; nextAt: number; status: number | null; error: string; ms: number }
  | { outcome: 'gave-up'; status: number | null; error: string; ms: number };

/** One line of a domain's job list: what a person picks a job by, without its result. */
export interface JobSummary {
  token: string;
  state: JobState;
  progress: number;
  createdAt: number;
  finishedAt: number | null;
  source: JobSource;
}

export interface JobStore {
  create(job: NewJob): Promise<void>;
  get(token: string): Promise<JobRecord | undefined>;
  /** A domain's jobs, newest first (ties: token descending), `offset` of them skipped. */
  list(domain: string, page: { limit: number; offset: number }): Promise<JobSummary[]>;
  /** Jobs WAITING or PROCESSING (what ERROR_TOO_MANY_JOBS counts). */
  countUnfinished(): Promise<number>;
  /**
   * Takes the oldest WAITING job, or a PROCESSING one whose lease expired, and leases it to
   * `owner` (attempts + 1). Atomic across processes.
   */
  claim(owner: string, leaseMs: number, now: number): Promise<JobRecord | undefined>;
  /** Extends the lease and records progress; false once the lease is no longer `owner`'s. */
  heartbeat(token: string, owner: string, leaseMs: number, progress: number, now: number): Promise<boolean>;
  /**
   * Saves finished work so a later attempt resumes at `resumeAtMs`; false if the lease is lost.
   * Resets `attempts` to 1: an attempt that made progress is not evidence of a poison job.
   */
  checkpoint(token: string, owner: string, resumeAtMs: number, partial: unknown): Promise<boolean>;
  /** Ends the job and queues its deliveries in one transaction; false if the lease was lost. */
  finish(token: string, owner: string, outcome: JobOutcome, deliveries: NewDelivery[], now: number): Promise<boolean>;
  /** Ends a job nobody holds (too many attempts, timed out while waiting), with its deliveries. */
  finishUnowned(token: string, outcome: JobOutcome, deliveries: NewDelivery[], now: number): Promise<boolean>;
  /** Gives up leases whose owner is known dead (a previous process on this host). */
  releaseLeases(isDead: (owner: string) => boolean): Promise<number>;
  /** Unfinished jobs accepted before `before` (for TIMEOUT). */
  listOverdue(before: number): Promise<string[]>;

  claimDelivery(owner: string, leaseMs: number, now: number): Promise<DeliveryRecord | undefined>;
  recordAttempt(id: number, owner: string, result: AttemptResult, now: number): Promise<void>;
  deliveries(token: string): Promise<{ deliveries: DeliveryRecord[]; attempts: DeliveryAttempt[] }>;

  /** Deletes finished jobs older than `before`; returns the tokens (their files go too). */
  purge(before: number): Promise<string[]>;
  close(): Promise<void>;
  /**
   * A store on another machine (PostgreSQL): resolves once it answers a round trip, rejects with
   * JobStoreUnavailableError when it cannot be reached. Absent for an embedded store.
   */
  ping?(): Promise<void>;
}
