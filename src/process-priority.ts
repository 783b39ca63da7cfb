import { setPriority } from 'node:os';

/**
 * Niceness of the server's child processes: the HTTP event loop runs at 0 and must get the CPU
 * first; ffmpeg decoding comes next, so a new request's audio is ready while the previous one is
 * recognised; inference, which keeps every core busy, last. Niced work still gets all idle CPU.
 */
export const DECODER_NICE = 5;
export const INFERENCE_NICE = 10;

/** Lowers a child's scheduling priority; where that is not permitted, only latency suffers. */
export function lowerPriority(pid: number | undefined, nice: number): void {
  if (pid === undefined) return;
  try {
    setPriority(pid, nice);
  } catch {
    // EPERM/EACCES in some containers: results are the same, the event loop just waits longer.
  }
}
