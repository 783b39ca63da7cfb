// Upload with CLOVA's options, the job's progress, then its transcript and downloads.
import { call, json } from './api.js';
import { byId, clearError, saveAs, showError, status } from './ui.js';
import { TranscriptView } from './transcript.js';

const POLL_MS = 500;

/** @param {string} text @returns {string[]} */
function commaList(text) {
  return text.split(',').map((w) => w.trim()).filter((w) => w !== '');
}

/** CLOVA's long-form `params` from the form. @param {HTMLFormElement} form */
export function paramsFrom(form) {
  const f = new FormData(form);
  const num = (/** @type {string} */ name) => {
    const v = String(f.get(name) ?? '').trim();
    return v === '' ? undefined : Number(v);
  };
  const diarization = f.get('diarization') === 'on';
  const boost = commaList(String(f.get('boostings') ?? ''));
  const forbid = commaList(String(f.get('forbiddens') ?? ''));
  return {
    language: String(f.get('language')),
    completion: 'async',
    wordAlignment: true,
    fullText: true,
    format: String(f.get('format')),
    diarization: { enable: diarization, ...(diarization ? { speakerCountMin: num('speakersMin'), speakerCountMax: num('speakersMax') } : {}) },
    sed: { enable: f.get('sed') === 'on' },
    ...(boost.length > 0 ? { boostings: [{ words: boost.join(',') }] } : {}),
    ...(forbid.length > 0 ? { forbiddens: forbid.join(',') } : {}),
  };
}

/** @param {{ jobsChanged: () => void }} hooks */
export function setupTranscribe(hooks) {
  const form = /** @type {HTMLFormElement} */ (byId('upload-form'));
  const fileInput = /** @type {HTMLInputElement} */ (byId('file'));
  const drop = byId('drop');
  const bar = /** @type {HTMLProgressElement} */ (byId('progress-bar'));
  const view = new TranscriptView();
  /** @type {string | null} */
  let token = null;
  /** @type {unknown} */
  let lastResult = null;
  let watching = 0;

  for (const type of ['dragenter', 'dragover']) {
    drop.addEventListener(type, (e) => { e.preventDefault(); drop.classList.add('over'); });
  }
  for (const type of ['dragleave', 'drop']) drop.addEventListener(type, () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    const files = /** @type {DragEvent} */ (e).dataTransfer?.files;
    if (files && files.length > 0) {
      fileInput.files = files;
      status(`Ready: ${files[0].name}`);
    }
  });

  /** @param {string} state @param {number} progress */
  const showProgress = (state, progress) => {
    byId('job-progress').hidden = false;
    bar.value = progress;
    byId('progress-text').textContent = `${state} ${progress}%`;
  };

  /** Polls GET /recognizer/{token} until the job ends. @param {string} t */
  const watch = async (t) => {
    const mine = ++watching;
    for (;;) {
      const body = await json(`/recognizer/${t}`);
      if (mine !== watching) return null;
      const state = String(body.result);
      showProgress(state, Number(body.progress ?? 0));
      if (state === 'COMPLETED') return body;
      if (state === 'FAILED' || state === 'TIMEOUT') throw new Error(`The job ended ${state}: ${body.message}`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  };

  /** @param {any} result */
  const show = (result) => {
    lastResult = result;
    view.render(result);
    byId('result').hidden = false;
    document.body.dataset.transcriptShown = String(performance.now());
  };

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearError();
    const file = fileInput.files?.[0];
    if (!file) return;
    const button = /** @type {HTMLButtonElement} */ (byId('upload-button'));
    button.disabled = true;
    byId('result').hidden = true;
    try {
      const body = new FormData();
      body.append('media', file, file.name);
      body.append('params', JSON.stringify(paramsFrom(form)));
      status(`Uploading ${file.name}…`);
      showProgress('UPLOADING', 0);
      const accepted = await json('/recognizer/upload', { method: 'POST', body });
      token = String(accepted.token);
      hooks.jobsChanged();
      status(`Job ${token} accepted.`);
      view.setAudio(URL.createObjectURL(file));
      const result = await watch(token);
      if (result !== null) {
        show(result);
        status('Transcript ready.');
      }
    } catch (err) {
      showError(err);
    } finally {
      button.disabled = false;
    }
  });

  byId('result').addEventListener('click', async (e) => {
    const format = /** @type {HTMLElement} */ (e.target).getAttribute('data-download');
    if (format === null || token === null) return;
    try {
      if (format === 'JSON') {
        saveAs(new Blob([JSON.stringify(lastResult, null, 2)], { type: 'application/json' }), `${token}.json`);
      } else {
        const res = await call(`/recognizer/${token}/subtitle?format=${format}`);
        saveAs(await res.blob(), `${token}.${format.toLowerCase()}`);
      }
    } catch (err) {
      showError(err);
    }
  });

  return {
    /** Shows a job from the list (its audio is not on the server to play). @param {string} t */
    async open(t) {
      clearError();
      token = t;
      byId('result').hidden = true;
      view.setAudio(null);
      try {
        const result = await watch(t);
        if (result !== null) show(result);
      } catch (err) {
        showError(err);
      }
    },
  };
}
