/** Shapes shared by the analysis (per window) and the pipeline (per session) halves of diarization. */

export interface WindowResult {
  /** Frame runs [start, end) of each local speaker, relative to the window. */
  runs: Uint16Array[];
  /** Each local speaker's embedding, or null when it spoke too little to embed. */
  embeddings: (Int8Array | null)[];
}
