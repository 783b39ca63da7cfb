// Pronunciation practice: read a sentence aloud, then the short API's assessment (sentence and
// word scores) and its two waveform envelopes, the reference's laid over the reader's.
import { call } from './api.js';
import { SAMPLE_RATE, startMicrophone } from './mic.js';
import { byId, clearError, el, showError, status } from './ui.js';

/** 16 kHz mono 16-bit PCM chunks as one WAV file. @param {Int16Array[]} chunks */
export function wav(chunks) {
  const samples = chunks.reduce((n, c) => n + c.length, 0);
  const buf = new ArrayBuffer(44 + samples * 2);
  const v = new DataView(buf);
  const text = (/** @type {number} */ at, /** @type {string} */ s) => { for (let i = 0; i < s.length; i++) v.setUint8(at + i, s.charCodeAt(i)); };
  text(0, 'RIFF'); v.setUint32(4, 36 + samples * 2, true); text(8, 'WAVE');
  text(12, 'fmt '); v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 1, true);
  v.setUint32(24, SAMPLE_RATE, true); v.setUint32(28, SAMPLE_RATE * 2, true); v.setUint16(32, 2, true); v.setUint16(34, 16, true);
  text(36, 'data'); v.setUint32(40, samples * 2, true);
  let at = 44;
  for (const c of chunks) for (const x of c) { v.setInt16(at, x, true); at += 2; }
  return new Blob([buf], { type: 'audio/wav' });
}

/**
 * `word|{chunk(ipa):score, ...} ` entries (docs/api/short.md) -> words with their chunks; a
 * word's score is its chunks' mean, as the server computes it.
 * @param {string} details
 */
export function parseDetails(details) {
  return [...details.matchAll(/([^|{}\s]+)\|\{([^}]*)\}/gu)].map((m) => {
    const chunks = [...m[2].matchAll(/([^(),\s]+)\(([^)]*)\):(\d+)/gu)].map((c) => ({ text: c[1], ipa: c[2], score: Number(c[3]) }));
    const score = chunks.length === 0 ? 0 : Math.round(chunks.reduce((a, c) => a + c.score, 0) / chunks.length);
    return { word: m[1], score, chunks };
  });
}

/** @param {number} score */
function grade(score) {
  return score >= 80 ? 'good' : score >= 60 ? 'fair' : 'poor';
}

/** Both envelopes on one axis: the reference filled grey, the reader's a blue line. @param {HTMLCanvasElement} canvas @param {number[]} ref @param {number[]} usr */
function drawGraphs(canvas, ref, usr) {
  const g = canvas.getContext('2d');
  if (g === null) return;
  const { width, height } = canvas;
  g.clearRect(0, 0, width, height);
  const n = Math.max(ref.length, usr.length, 1);
  const peak = Math.max(1, ...ref, ...usr);
  const x = (/** @type {number} */ i) => (i / (n - 1 || 1)) * width;
  const y = (/** @type {number} */ v) => height - 4 - (v / peak) * (height - 8);
  g.fillStyle = 'rgba(107, 114, 128, 0.45)';
  g.beginPath();
  g.moveTo(0, height);
  ref.forEach((v, i) => g.lineTo(x(i), y(v)));
  g.lineTo(x(ref.length - 1), height);
  g.closePath();
  g.fill();
  g.strokeStyle = '#1d4ed8';
  g.lineWidth = 2;
  g.beginPath();
  usr.forEach((v, i) => (i === 0 ? g.moveTo(x(i), y(v)) : g.lineTo(x(i), y(v))));
  g.stroke();
}

export function setupPractice() {
  const pick = /** @type {HTMLSelectElement} */ (byId('practice-pick'));
  const text = /** @type {HTMLInputElement} */ (byId('practice-text'));
  const record = /** @type {HTMLButtonElement} */ (byId('practice-record'));
  const stop = /** @type {HTMLButtonElement} */ (byId('practice-stop'));
  const recording = byId('practice-recording');
  /** @type {{ stop: () => Promise<void> } | null} */
  let mic = null;
  /** @type {Int16Array[]} */
  let chunks = [];

  pick.addEventListener('change', () => { if (pick.value !== '') text.value = pick.value; });

  record.addEventListener('click', async () => {
    clearError();
    if (text.value.trim() === '') {
      showError('Type or pick a sentence to read first.');
      text.focus();
      return;
    }
    record.disabled = true;
    chunks = [];
    let samples = 0;
    try {
      mic = await startMicrophone((pcm) => {
        chunks.push(pcm);
        samples += pcm.length;
        recording.textContent = `Recording: ${(samples / SAMPLE_RATE).toFixed(1)} s`;
        recording.dataset.seconds = String(samples / SAMPLE_RATE);
      });
      status('Recording… read the sentence aloud, then press Stop and score.');
      stop.disabled = false;
      stop.focus();
    } catch (err) {
      showError(err);
      record.disabled = false;
    }
  });

  stop.addEventListener('click', async () => {
    stop.disabled = true;
    await mic?.stop();
    mic = null;
    status('Scoring…');
    try {
      const lang = /** @type {HTMLSelectElement} */ (byId('practice-language')).value;
      const query = new URLSearchParams({ lang, assessment: 'true', graph: 'true', utterance: text.value.trim() });
      const res = await call(`/recog/v1/stt?${query}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/octet-stream' },
        body: wav(chunks),
      });
      const body = await res.json();
      byId('practice-score').textContent = String(body.assessment_score);
      byId('practice-heard').textContent = `(heard: “${body.text}”)`;
      byId('practice-words').replaceChildren(...parseDetails(String(body.assessment_details ?? '')).map((w) =>
        el('li', { class: grade(w.score), 'data-score': String(w.score), title: w.chunks.map((c) => `${c.text} /${c.ipa}/ ${c.score}`).join(', ') }, [
          `${w.word} `, el('strong', {}, [String(w.score)]),
        ])));
      drawGraphs(/** @type {HTMLCanvasElement} */ (byId('practice-graph')), body.ref_graph ?? [], body.usr_graph ?? []);
      byId('practice-result').hidden = false;
      status('Scored.');
    } catch (err) {
      showError(err);
    } finally {
      record.disabled = false;
    }
  });
}
