/** Where `sori transcribe` sends a file: this process's engine (local.ts) or a server (remote.ts). */
import type { CompletedResult } from '../../clova/longform-result.js';

export interface FileHooks {
  signal: AbortSignal;
  /** Work on the file began (a server may have kept it waiting before). */
  onStarted(): void;
  /** The media's length, once known (undefined: it is not known). */
  onDuration(durationS: number | undefined): void;
  /** 0-1 of the file processed. */
  onProgress(fraction: number): void;
}

export interface Backend {
  /** At most this many files in flight at once. */
  readonly concurrency: number;
  transcribe(path: string, hooks: FileHooks): Promise<CompletedResult>;
  close(): Promise<void>;
}

/** A file's failure, with a message for the user as it is (no stack). */
export class FileFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FileFailure';
  }
}

/** Interrupted while the server still runs the file's job: its token fetches the result later. */
export class StillOnServer extends Error {
  constructor(readonly token: string) {
    super(`still running on the server as job ${token}`);
    this.name = 'StillOnServer';
  }
}
