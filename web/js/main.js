// Entry point: sign-in, the tabs, and each tab's module.
import { call, setSecret, secret, ApiError } from './api.js';
import { byId, clearError, showError, status } from './ui.js';
import { setupTranscribe } from './transcribe.js';
import { setupJobs } from './jobs.js';
import { setupLive } from './live.js';
import { setupPractice } from './practice.js';

/** @type {Record<string, () => void>} */
const onShow = {};

/** @param {string} name */
function showTab(name) {
  for (const b of document.querySelectorAll('#tabs [data-tab]')) {
    const on = b.getAttribute('data-tab') === name;
    if (on) b.setAttribute('aria-current', 'page');
    else b.removeAttribute('aria-current');
  }
  for (const s of document.querySelectorAll('section.tab')) /** @type {HTMLElement} */ (s).hidden = s.id !== name;
  clearError();
  status('');
  onShow[name]?.();
}

/** @param {boolean} signedIn */
function setSignedIn(signedIn) {
  byId('sign-in').hidden = signedIn;
  byId('tabs').hidden = !signedIn;
  if (signedIn) showTab('transcribe');
  else for (const s of document.querySelectorAll('section.tab')) /** @type {HTMLElement} */ (s).hidden = true;
}

/** A secret is good if the API accepts it: list one job. @param {string} key */
async function check(key) {
  await call('/recognizer?limit=1', { key });
}

function init() {
  const jobs = setupJobs({ open: (token) => { showTab('transcribe'); transcribe.open(token); } });
  const transcribe = setupTranscribe({ jobsChanged: () => jobs.refresh() });
  onShow.jobs = () => void jobs.refresh();
  setupLive();
  setupPractice();

  for (const b of document.querySelectorAll('#tabs [data-tab]')) {
    b.addEventListener('click', () => showTab(/** @type {string} */ (b.getAttribute('data-tab'))));
  }
  byId('sign-out').addEventListener('click', () => {
    setSecret(null);
    status('Signed out.');
    setSignedIn(false);
  });
  byId('sign-in-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    clearError();
    const input = /** @type {HTMLInputElement} */ (byId('secret'));
    try {
      await check(input.value);
      setSecret(input.value);
      input.value = '';
      status('Signed in.');
      setSignedIn(true);
    } catch (err) {
      showError(err instanceof ApiError && err.status === 401 ? 'That secret is not accepted.' : err);
    }
  });
  setSignedIn(secret() !== null);
}

init();
