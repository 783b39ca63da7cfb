/** HTTP side of the bench: CLOVA-style recognition requests and /metrics scraping. */
import { readFileSync } from 'node:fs';
import type { Clip } from './manifest.js';
import { since } from './stats.js';

/** CLOVA Speech's `lang` values. */
export const CLOVA_LANG: Record<string, string> = { ko: 'Kor', en: 'Eng', ja: 'Jpn', zh: 'Chn' };

export interface SttResult {
  file: string;
  lang: string;
  durationS: number;
  status: number;
  text: string | null;
  latencyS: number;
  error?: string;
}

/** Audio bytes read once, so disk reads never land inside a timed request. */
export class Bodies {
  private readonly cache = new Map<string, Uint8Array<ArrayBuffer>>();
  get(clip: Clip): Uint8Array<ArrayBuffer> {
    let b = this.cache.get(clip.path);
    if (!b) {
      // A copy with its own ArrayBuffer: what fetch() accepts as a body without a cast.
      b = new Uint8Array(readFileSync(clip.path));
      this.cache.set(clip.path, b);
    }
    return b;
  }
}

export async function recognise(baseUrl: string, apiKey: string, clip: Clip, body: Uint8Array<ArrayBuffer>): Promise<SttResult> {
  const base = { file: clip.file, lang: clip.lang, durationS: clip.durationS };
  const t0 = performance.now();
  try {
    const res = await fetch(`${baseUrl}/recog/v1/stt?lang=${CLOVA_LANG[clip.lang]}`, {
      method: 'POST',
      headers: { 'X-CLOVASPEECH-API-KEY': apiKey, 'Content-Type': 'application/octet-stream' },
      body,
      signal: AbortSignal.timeout(600_000),
    });
    const raw = await res.text();
    const latencyS = since(t0);
    let text: string | null = null;
    try {
      const j = JSON.parse(raw) as { text?: unknown };
      if (typeof j.text === 'string') text = j.text;
    } catch {
      /* not JSON: reported below */
    }
    if (res.status !== 200 || text === null) {
      return { ...base, status: res.status, text, latencyS, error: raw.slice(0, 300) };
    }
    return { ...base, status: res.status, text, latencyS };
  } catch (err) {
    // status 0 = no HTTP answer at all (connection reset, timeout): a lost request.
    return { ...base, status: 0, text: null, latencyS: since(t0), error: err instanceof Error ? err.message : String(err) };
  }
}

/** `clients` workers take requests from one shared list in order; returns results in list order. */
export async function runClients(
  baseUrl: string,
  apiKey: string,
  requests: readonly Clip[],
  clients: number,
  bodies: Bodies,
  onDone?: (r: SttResult) => void,
): Promise<{ results: SttResult[]; wallS: number }> {
  const results: SttResult[] = new Array(requests.length);
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < requests.length) {
      const i = next++;
      const r = await recognise(baseUrl, apiKey, requests[i], bodies.get(requests[i]));
      results[i] = r;
      onDone?.(r);
    }
  };
  await Promise.all(Array.from({ length: Math.min(clients, requests.length) }, worker));
  return { results, wallS: since(t0) };
}

/** One gauge from the Prometheus text at /metrics (first series if labelled); null if absent. */
export async function scrapeMetric(baseUrl: string, apiKey: string, name: string): Promise<number | null> {
  const res = await fetch(`${baseUrl}/metrics`, { headers: { 'X-CLOVASPEECH-API-KEY': apiKey }, signal: AbortSignal.timeout(10_000) });
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  const text = await res.text();
  // `name` may carry its own labels (`x{quantile="0.99"}`): then exactly that series is read.
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const labels = name.includes('{') ? '' : '(?:\\{[^}]*\\})?';
  const m = new RegExp(`^${escaped}${labels}\\s+(\\S+)`, 'm').exec(text);
  return m ? Number(m[1]) : null;
}
