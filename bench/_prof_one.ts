import { loadWhisperModel } from '../src/speech/whisper/model.js';
import { WhisperTranscriber } from '../src/speech/whisper/transcriber.js';
import { execFileSync } from 'node:child_process';
const m = await loadWhisperModel('/work/shared/models/whisper-base', 'whisper-base', Number(process.env.T ?? 2));
const t = new WhisperTranscriber(m);
const times: Record<string, number[]> = {};
for (const [name, sess] of [['enc', m.encoder], ['dec', m.decoder]] as const) {
  const run = sess.run.bind(sess);
  (sess as any).run = async (...a: any[]) => { const s = performance.now(); const r = await (run as any)(...a); (times[name] ??= []).push(performance.now() - s); return r; };
}
const raw = execFileSync('ffmpeg', ['-v','error','-i','/work/shared/testdata/ko/etts_nek00001.flac','-f','f32le','-ac','1','-ar','16000','-'], { maxBuffer: 1<<30 });
const pcm = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
for (const o of [{ beamSize: 1, words: false }, { beamSize: 1, words: true }, { beamSize: 5, words: true }, { beamSize: 1, words: false }, { beamSize: 1, words: true }, { beamSize: 5, words: true }]) {
  for (const k of Object.keys(times)) delete times[k];
  const s = performance.now();
  await t.transcribe(pcm, { language: 'ko', beamSize: o.beamSize, wordTimestamps: o.words, temperatureFallback: false });
  const total = performance.now() - s;
  const d = times.dec ?? [];
  console.log(JSON.stringify(o), 'total', total.toFixed(0), 'enc', times.enc.map((x) => x.toFixed(0)).join(','), 'dec n', d.length, 'sum', d.reduce((a, b) => a + b, 0).toFixed(0), 'first', d[0].toFixed(0), 'last', d.at(-1)!.toFixed(0), 'median', [...d].sort((a, b) => a - b)[d.length >> 1].toFixed(1));
}
