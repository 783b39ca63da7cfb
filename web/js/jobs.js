// The domain's jobs, newest first, a page at a time (Sori's GET /recognizer).
import { json } from './api.js';
import { byId, el, showError } from './ui.js';

const PAGE = 20;
/** While a listed job is unfinished and the list is on screen, it refreshes this often. */
const LIVE_MS = 2000;

/** @param {{ open: (token: string) => void }} hooks */
export function setupJobs(hooks) {
  const body = /** @type {HTMLTableSectionElement} */ (byId('jobs-table').querySelector('tbody'));
  const newer = /** @type {HTMLButtonElement} */ (byId('jobs-newer'));
  const older = /** @type {HTMLButtonElement} */ (byId('jobs-older'));
  let offset = 0;
  let timer = 0;

  const refresh = async () => {
    clearTimeout(timer);
    try {
      const page = await json(`/recognizer?limit=${PAGE}&offset=${offset}`);
      body.replaceChildren(...page.jobs.map((/** @type {any} */ j) => el('tr', { 'data-token': j.token }, [
        el('td', {}, [el('time', { datetime: j.createdAt }, [new Date(j.createdAt).toLocaleString()])]),
        el('td', {}, [j.fileName ?? j.source]),
        el('td', { class: 'state' }, [j.state]),
        el('td', {}, [el('progress', { max: '100', value: String(j.progress), 'aria-label': `${j.progress}%` }), ` ${j.progress}%`]),
        el('td', { class: 'token' }, [j.token]),
        el('td', {}, [el('button', { type: 'button', 'data-open': j.token, 'aria-label': `Open job ${j.token}` }, ['Open'])]),
      ])));
      newer.disabled = offset === 0;
      older.disabled = page.next === null;
      const running = page.jobs.some((/** @type {any} */ j) => j.state === 'WAITING' || j.state === 'PROCESSING');
      if (running && !byId('jobs').hidden) timer = window.setTimeout(() => void refresh(), LIVE_MS);
    } catch (err) {
      showError(err);
    }
  };

  body.addEventListener('click', (e) => {
    const t = /** @type {HTMLElement} */ (e.target).getAttribute('data-open');
    if (t !== null) hooks.open(t);
  });
  byId('jobs-refresh').addEventListener('click', () => void refresh());
  newer.addEventListener('click', () => { offset = Math.max(0, offset - PAGE); void refresh(); });
  older.addEventListener('click', () => { offset += PAGE; void refresh(); });
  return { refresh };
}
