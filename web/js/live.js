// Live transcription: the microphone over the streaming WebSocket, partials then finals, each
// final with the end point that closed it (gap, period, durationThreshold, ...).
import { secret } from './api.js';
import { startMicrophone } from './mic.js';
import { byId, clock, el, showError, status } from './ui.js';

/** The secret as a WebSocket subprotocol: base64url of its UTF-8 (a token's characters only). @param {string} text */
function base64url(text) {
  let bin = '';
  for (const b of new TextEncoder().encode(text)) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Opens the stream; the secret travels in Sec-WebSocket-Protocol, never in the URL. @returns {WebSocket} */
function openStream() {
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/recognizer/stream`;
  return new WebSocket(url, ['sori', `sori.key.${base64url(secret() ?? '')}`]);
}

export function setupLive() {
  const start = /** @type {HTMLButtonElement} */ (byId('live-start'));
  const stop = /** @type {HTMLButtonElement} */ (byId('live-stop'));
  const partial = byId('live-partial');
  const finals = byId('live-finals');
  /** @type {{ stop: () => Promise<void> } | null} */
  let mic = null;
  /** @type {WebSocket | null} */
  let ws = null;

  const finish = async () => {
    stop.disabled = true;
    const m = mic;
    mic = null;
    await m?.stop();
    // Half-close: the server flushes the last utterance's final, then closes.
    if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ end: true }));
  };

  start.addEventListener('click', async () => {
    start.disabled = true;
    finals.replaceChildren();
    partial.textContent = '';
    try {
      const socket = openStream();
      ws = socket;
      socket.binaryType = 'arraybuffer';
      socket.addEventListener('message', (e) => {
        const m = JSON.parse(String(e.data));
        const types = /** @type {string[]} */ (m.responseType ?? []);
        if (types.includes('config')) status('Listening…');
        if (types.includes('recognize')) showError(`Streaming: ${m.recognize?.status} ${m.recognize?.message ?? ''}`);
        const t = m.transcription;
        if (!types.includes('transcription') || t === undefined) return;
        if (t.epFlag) {
          partial.textContent = '';
          if (t.text === '') return;
          finals.append(el('li', { 'data-epd': t.epdType }, [
            el('span', { class: 'ep', title: 'end point' }, [t.epdType]),
            el('span', { class: 'when' }, [`${clock(t.startTimestamp)} `]),
            el('span', { class: 'text' }, [t.text]),
          ]));
        } else {
          partial.textContent = t.text;
        }
      });
      socket.addEventListener('close', (e) => {
        if (e.code !== 1000) showError(`The stream closed: ${e.code} ${e.reason}`);
        status('Stopped.');
        void finish();
        ws = null;
        start.disabled = false;
      });
      await new Promise((resolve, reject) => {
        socket.addEventListener('open', resolve, { once: true });
        socket.addEventListener('error', () => reject(new Error('could not open the stream')), { once: true });
      });
      const language = /** @type {HTMLSelectElement} */ (byId('live-language')).value;
      socket.send(JSON.stringify({ transcription: { language } }));
      mic = await startMicrophone((pcm) => {
        if (socket.readyState === WebSocket.OPEN) socket.send(pcm.buffer);
      });
      stop.disabled = false;
    } catch (err) {
      showError(err);
      await finish();
      ws?.close();
      start.disabled = false;
    }
  });
  stop.addEventListener('click', () => void finish());
}
