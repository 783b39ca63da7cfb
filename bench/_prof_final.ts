import { loadWhisperModel } from '../src/speech/whisper/model.js';
import { WhisperTranscriber } from '../src/speech/whisper/transcriber.js';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
const m = await loadWhisperModel('/work/shared/models/whisper-base', 'whisper-base', 2);
const t = new WhisperTranscriber(m);
const clips = readFileSync('/work/shared/testdata/manifest.jsonl', 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((c) => c.lang === 'ko' && c.tags?.includes('quick') && c.reference);
await t.transcribe(new Float32Array(16000), { language: 'ko', beamSize: 1, wordTimestamps: false, temperatureFallback: false });
const rows: string[] = [];
const tot: Record<string, number> = {};
for (const c of clips) {
  const raw = execFileSync('ffmpeg', ['-v','error','-i','/work/shared/testdata/' + c.file,'-f','f32le','-ac','1','-ar','16000','-'], { maxBuffer: 1<<30 });
  const pcm = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  // trailing silence: last sample above -40 dBFS in 20 ms frames
  let last = 0; for (let i = 0; i + 320 <= pcm.length; i += 320) { let e = 0; for (let j = 0; j < 320; j++) e += pcm[i+j]**2; if (10*Math.log10(e/320+1e-12) > -45) last = i + 320; }
  const row = [c.file.padEnd(40), c.duration_s.toFixed(1), ((pcm.length - last)/16).toFixed(0)];
  for (const [name, o] of [['b2fb', { beamSize: 2, temperatureFallback: true }], ['b1fb', { beamSize: 1, temperatureFallback: true }]] as const) {
    const s = performance.now();
    await t.transcribe(pcm, { language: 'ko', wordTimestamps: true, ...o });
    const ms = performance.now() - s; tot[name] = (tot[name] ?? 0) + ms;
    row.push(ms.toFixed(0));
  }
  rows.push(row.join(' '));
  console.log(row.join(' '));
}
console.log(tot);
