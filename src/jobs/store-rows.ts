/**
 * The jobs, deliveries and attempts tables' rows as both stores read them (SQLite and
 * PostgreSQL keep the same columns, times as epoch ms and JSON as text), and their records.
 */
import type { DeliveryKind, DeliveryRecord, JobRecord, JobSource, JobState } from './store.js';

export interface JobRow {
  token: string;
  domain: string;
  state: string;
  params: string;
  source: string;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  progress: number;
  attempts: number;
  lease_owner: string | null;
  lease_until: number | null;
  resume_at_ms: number;
  partial: string | null;
  result: string | null;
  error_code: string | null;
  error_message: string | null;
}

export interface DeliveryRow {
  id: number;
  token: string;
  kind: string;
  target: string;
  state: string;
  attempts: number;
  next_at: number;
  created_at: number;
  delivered_at: number | null;
}

export interface AttemptRow {
  delivery_id: number;
  kind: string;
  at: number;
  status: number | null;
  error: string | null;
  ms: number;
}

export function parseJson(text: string | null): unknown {
  return text === null ? null : JSON.parse(text);
}

export function toJob(row: JobRow): JobRecord {
  return {
    token: row.token,
    domain: row.domain,
    state: row.state as JobState,
    params: JSON.parse(row.params),
    source: JSON.parse(row.source) as JobSource,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    progress: row.progress,
    attempts: row.attempts,
    leaseOwner: row.lease_owner,
    leaseUntil: row.lease_until,
    resumeAtMs: row.resume_at_ms,
    partial: parseJson(row.partial),
    result: parseJson(row.result),
    errorCode: row.error_code,
    errorMessage: row.error_message,
  };
}

export function toDelivery(row: DeliveryRow): DeliveryRecord {
  return {
    id: row.id,
    token: row.token,
    kind: row.kind as DeliveryKind,
    target: row.target,
    state: row.state as DeliveryRecord['state'],
    attempts: row.attempts,
    nextAt: row.next_at,
    createdAt: row.created_at,
    deliveredAt: row.delivered_at,
  };
}
