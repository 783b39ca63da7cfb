/**
 * Simulated real-time streaming clients, gRPC NestService (`streamClip`) and the WebSocket route
 * (`streamClipWs`): each sends 16-bit PCM in chunks (100 ms by default) at the pace of the clock,
 * then `epFlag:true`, and records when every response arrived. A stream the server ends early (an
 * error, a dropped connection) stops sending at once.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { NEST_PROTO } from '../../src/stream/grpc.js';

type Msg = { type: 'CONFIG'; config: { config: string } } | { type: 'DATA'; data: { chunk: Buffer; extra_contents: string } };

interface NestClient {
  recognize(md: grpc.Metadata): grpc.ClientDuplexStream<Msg, { contents: string }>;
  close(): void;
}

let ctor: grpc.ServiceClientConstructor | undefined;

function clientCtor(): grpc.ServiceClientConstructor {
  if (ctor === undefined) {
    const def = protoLoader.loadSync(NEST_PROTO, { keepCase: true, enums: String, defaults: true, oneofs: true });
    const pkg = grpc.loadPackageDefinition(def) as unknown as { com: { nbp: { cdncp: { nest: { grpc: { proto: { v1: { NestService: grpc.ServiceClientConstructor } } } } } } } };
    ctor = pkg.com.nbp.cdncp.nest.grpc.proto.v1.NestService;
  }
  return ctor;
}

export interface StreamRun {
  /** Final texts in order. */
  text: string;
  /** ms from sending epFlag to receiving its endPoint final. */
  epLatencyMs: number | null;
  /**
   * For finals ended by a pause (gap): ms from the moment that pause had lasted the gap threshold
   * (the audio end they report, the last word's end, plus GAP_THRESHOLD_MS) to their arrival:
   * how far behind real time the stream runs. Overstated by the VAD's tail after the last word.
   */
  gapLagMs: number[];
  /** The same, from the last word's end: what a listener waits after the speaker stops. */
  speechLagMs: number[];
  partials: number;
  finals: number;
  error: string | null;
}

/**
 * CLOVA's default `semanticEpd.gapThreshold` (the bench's streams do not set one): a gap final
 * cannot exist before its speech was followed by this much silence.
 */
export const GAP_THRESHOLD_MS = 500;

/** What a stream answered: partials counted, finals kept, the endPoint final's latency after epFlag. */
class Answers {
  readonly started = performance.now();
  /** When the client sent `epFlag:true` (0: not yet). */
  epSentAt = 0;
  private readonly finals: string[] = [];
  private readonly gapLagMs: number[] = [];
  private readonly speechLagMs: number[] = [];
  private partials = 0;
  private epLatencyMs: number | null = null;

  /** One response's `contents` JSON. */
  take(contents: string): void {
    const now = performance.now();
    const m = JSON.parse(contents) as { transcription?: { text: string; epFlag: boolean; epdType: string; endTimestamp: number; seqId: number } };
    const t = m.transcription;
    if (t === undefined) return;
    if (!t.epFlag) {
      this.partials++;
      return;
    }
    if (t.text !== '') this.finals.push(t.text);
    if (t.epdType === 'endPoint' && t.seqId === 1 && this.epSentAt > 0) this.epLatencyMs = now - this.epSentAt;
    else if (t.epdType === 'gap') {
      this.speechLagMs.push(now - this.started - t.endTimestamp);
      this.gapLagMs.push(now - this.started - t.endTimestamp - GAP_THRESHOLD_MS);
    }
  }

  run(error: string | null): StreamRun {
    return { text: this.finals.join(' '), epLatencyMs: this.epLatencyMs, gapLagMs: this.gapLagMs, speechLagMs: this.speechLagMs, partials: this.partials, finals: this.finals.length, error };
  }
}

/**
 * `epOnLastChunk`: the last audio chunk itself carries `epFlag:true` (CLOVA's official samples,
 * 1 s chunks); otherwise an empty chunk with `epFlag:true` follows the audio.
 */
export async function streamClip(
  target: string,
  secret: string,
  pcm16: Buffer,
  language: string,
  chunkMs = 100,
  epOnLastChunk = false,
): Promise<StreamRun> {
  const Client = clientCtor();
  const client = new Client(target, grpc.credentials.createInsecure()) as unknown as NestClient;
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${secret}`);
  const call = client.recognize(md);
  let ended = false;
  const answers = new Answers();
  const done = new Promise<string | null>((resolve) => {
    call.on('data', (r: { contents: string }) => answers.take(r.contents));
    call.on('error', (e: Error) => resolve(e.message));
    call.on('end', () => resolve(null));
  }).finally(() => (ended = true));
  call.write({ type: 'CONFIG', config: { config: JSON.stringify({ transcription: { language } }) } });
  await sendPaced(pcm16, chunkMs, answers.started, () => ended, (chunk, last) => {
    const ep = epOnLastChunk && last;
    if (ep) answers.epSentAt = performance.now();
    call.write({ type: 'DATA', data: { chunk, extra_contents: JSON.stringify({ seqId: ep ? 1 : 0, epFlag: ep }) } });
  });
  if (!ended) {
    if (!epOnLastChunk) {
      answers.epSentAt = performance.now();
      call.write({ type: 'DATA', data: { chunk: Buffer.alloc(0), extra_contents: JSON.stringify({ seqId: 1, epFlag: true }) } });
    }
    call.end();
  }
  const error = await done;
  client.close();
  return answers.run(error);
}

/**
 * Sends `pcm16` in `chunkMs` pieces paced by the clock from `started`, until done or `stopped()`.
 * A chunk goes out when its audio would have been recorded (at its end), as from a microphone:
 * sent at its start, a 1 s chunk would reach the server a second ahead of real time.
 */
async function sendPaced(pcm16: Buffer, chunkMs: number, started: number, stopped: () => boolean, send: (chunk: Buffer, last: boolean) => void): Promise<void> {
  const bytesPerChunk = Math.round((16000 * 2 * chunkMs) / 1000);
  for (let i = 0; i < pcm16.length && !stopped(); i += bytesPerChunk) {
    const chunk = pcm16.subarray(i, i + bytesPerChunk);
    // Paced by the clock from the start, so a slow send never shifts later chunks.
    const due = started + (i + chunk.length) / 32; // 32 bytes per ms at 16 kHz, 16-bit
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (!stopped()) send(chunk, i + bytesPerChunk >= pcm16.length);
  }
}

/**
 * The same client over the WebSocket route (`ws://<host>/recognizer/stream?key=`): the config as
 * the first text frame, binary PCM frames, `{"seqId":1,"epFlag":true}`, then `{"end":true}`; the
 * server answers and closes with 1000. Any other close is the run's `error` (`close <code>`).
 */
export async function streamClipWs(baseUrl: string, secret: string, pcm16: Buffer, language: string, chunkMs = 100): Promise<StreamRun> {
  let ended = false;
  let opened = false;
  const answers = new Answers();
  const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/recognizer/stream?key=${encodeURIComponent(secret)}`);
  ws.binaryType = 'arraybuffer';
  let failure: string | null = null;
  const open = new Promise<void>((resolve) => {
    ws.addEventListener('open', () => {
      opened = true;
      resolve();
    });
    ws.addEventListener('close', () => resolve());
  });
  const done = new Promise<string | null>((resolve) => {
    ws.addEventListener('message', (e: MessageEvent) => {
      if (typeof e.data === 'string') answers.take(e.data);
    });
    ws.addEventListener('error', (e: Event) => {
      failure ??= (e as ErrorEvent).message || 'error';
    });
    ws.addEventListener('close', (e: CloseEvent) => {
      ended = true;
      resolve(e.code === 1000 && answers.epSentAt > 0 ? null : `close ${e.code}${e.reason ? ` ${e.reason}` : ''}${failure ? ` (${failure})` : ''}${opened ? '' : ' before open'}`);
    });
  });
  await open;
  if (!ended) {
    ws.send(JSON.stringify({ transcription: { language } }));
    await sendPaced(pcm16, chunkMs, answers.started, () => ended, (chunk) => ws.send(chunk));
  }
  if (!ended) {
    answers.epSentAt = performance.now();
    ws.send(JSON.stringify({ seqId: 1, epFlag: true }));
    ws.send(JSON.stringify({ end: true }));
  }
  const error = await done;
  return answers.run(error);
}

export function toPcm16(pcm: Float32Array): Buffer {
  const out = Buffer.alloc(pcm.length * 2);
  for (let i = 0; i < pcm.length; i++) out.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(pcm[i] * 32767))), i * 2);
  return out;
}

/**
 * The clip cut `keepS` after its last loud 20 ms frame (within 35 dB of the loudest): an `epFlag`
 * sent right as the speaker stops, with no trailing silence for the server to decode during.
 * Also returns the silence that was cut, seconds.
 */
export function cutAfterSpeech(pcm: Float32Array, keepS = 0.1, sampleRate = 16000): { pcm: Float32Array; cutS: number } {
  const frame = Math.round(sampleRate * 0.02);
  const frames = Math.floor(pcm.length / frame);
  const db = new Float64Array(frames);
  let loudest = -Infinity;
  for (let f = 0; f < frames; f++) {
    let e = 0;
    for (let i = f * frame; i < (f + 1) * frame; i++) e += pcm[i] * pcm[i];
    db[f] = 10 * Math.log10(e / frame + 1e-12);
    loudest = Math.max(loudest, db[f]);
  }
  let last = frames - 1;
  while (last > 0 && db[last] < loudest - 35) last--;
  const end = Math.min(pcm.length, (last + 1) * frame + Math.round(keepS * sampleRate));
  return { pcm: pcm.subarray(0, end), cutS: (pcm.length - end) / sampleRate };
}
