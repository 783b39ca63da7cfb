/**
 * Strict priority between the requests in flight in one inference process. Before every model
 * run (an encoder pass, a decoder step) a request asks for its turn, and waits while a request of
 * a more urgent rank is in flight. A model run is the unit of preemption: a 30 s long-form window
 * yields to a stream's final between two decoder steps, instead of after all of them (seconds).
 * Rank 0 is the most urgent.
 */
export class RunGate {
  private readonly inFlight: number[];
  private waiters: { rank: number; go: () => void }[] = [];

  constructor(ranks: number) {
    this.inFlight = new Array<number>(ranks).fill(0);
  }

  enter(rank: number): void {
    this.inFlight[rank]++;
  }

  leave(rank: number): void {
    this.inFlight[rank]--;
    const still: { rank: number; go: () => void }[] = [];
    for (const w of this.waiters) {
      if (this.blocked(w.rank)) still.push(w);
      else w.go();
    }
    this.waiters = still;
  }

  /** Resolves when no request more urgent than `rank` is in flight. */
  turn(rank: number): Promise<void> {
    if (!this.blocked(rank)) return Promise.resolve();
    return new Promise((go) => this.waiters.push({ rank, go }));
  }

  private blocked(rank: number): boolean {
    for (let r = 0; r < rank; r++) if (this.inFlight[r] > 0) return true;
    return false;
  }
}
