/**
 * Messages from a child process to its parent over the IPC channel, for a parent that may be
 * gone: SIGKILLed, its end of the channel closed. A send then fails (EPIPE, or
 * ERR_IPC_CHANNEL_CLOSED once Node has seen the disconnect), and without a callback Node reports
 * that as an 'error' event on `process`: unhandled, it crashed the child with a stack trace
 * (written into the server's log, which the child shares) whenever a result was ready just
 * after the parent died, before 'disconnect' could end it quietly. Found by the crash soak.
 */

/** The error codes of a send to a parent that is no longer there. */
const PARENT_GONE = new Set(['EPIPE', 'ECONNRESET', 'ERR_IPC_CHANNEL_CLOSED', 'ERR_IPC_DISCONNECTED']);

/** The part of `process` this needs (a stand-in in tests). */
export interface ParentChannel {
  send?(message: unknown, sendHandle: undefined, options: undefined, callback: (error: Error | null) => void): boolean;
}

/**
 * A send that calls `onGone` when the parent has gone away; any other failure is thrown (an
 * uncaught exception, as before: it is a bug, not a dead parent).
 */
export function parentSender<M>(channel: ParentChannel, onGone: (err: Error) => void): (message: M) => void {
  return (message) => {
    channel.send?.(message, undefined, undefined, (err) => {
      if (err === null || err === undefined) return;
      if (PARENT_GONE.has((err as NodeJS.ErrnoException).code ?? '')) onGone(err);
      else throw err;
    });
  };
}
