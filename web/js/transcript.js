// One job's transcript: speakers in colour, timestamps, words that seek the player, the current word lit.
import { byId, clock, el } from './ui.js';

/**
 * @typedef {{ start: number, end: number, text: string, speaker?: { label: string, name: string },
 *   words: Array<[number, number, string]> }} Segment
 * @typedef {{ token: string, segments: Segment[], speakers?: Array<{ label: string, name: string }>,
 *   events?: Array<{ startTimestamp: number, endTimestamp: number, type: string, label: string }> }} Result
 */

/** Speaker label "3" -> CSS class "spk-3" (eight colours, then round again). @param {string | undefined} label */
function speakerClass(label) {
  const n = Number(label ?? '1');
  return `spk-${((Number.isInteger(n) && n > 0 ? n : 1) - 1) % 8 + 1}`;
}

export class TranscriptView {
  constructor() {
    this.list = byId('transcript');
    this.speakers = byId('speakers');
    this.events = byId('events');
    /** @type {HTMLAudioElement} */
    this.player = byId('player');
    /** Every word span with its times, in time order. @type {Array<{ start: number, end: number, node: HTMLElement }>} */
    this.words = [];
    /** @type {HTMLElement | null} */
    this.current = null;
    this.frame = 0;
    this.list.addEventListener('click', (e) => {
      const target = /** @type {HTMLElement} */ (e.target);
      const at = target.closest('[data-start]');
      if (at !== null) this.seek(Number(at.getAttribute('data-start')));
    });
    const tick = () => {
      this.highlight(this.player.currentTime * 1000);
      if (!this.player.paused) this.frame = requestAnimationFrame(tick);
    };
    this.player.addEventListener('play', () => { cancelAnimationFrame(this.frame); this.frame = requestAnimationFrame(tick); });
    this.player.addEventListener('seeked', () => this.highlight(this.player.currentTime * 1000));
    this.player.addEventListener('timeupdate', () => this.highlight(this.player.currentTime * 1000));
  }

  /** @param {string | null} src a blob URL of the local file, or null when there is none */
  setAudio(src) {
    if (this.player.src.startsWith('blob:')) URL.revokeObjectURL(this.player.src);
    if (src === null) {
      this.player.removeAttribute('src');
      this.player.hidden = true;
    } else {
      this.player.src = src;
      this.player.hidden = false;
    }
  }

  /** @param {number} ms */
  seek(ms) {
    if (this.player.hidden) return;
    this.player.currentTime = ms / 1000;
    this.highlight(ms);
    void this.player.play().catch(() => undefined);
  }

  /** Lights the word being said at `ms` (binary search over the words' starts). @param {number} ms */
  highlight(ms) {
    let lo = 0;
    let hi = this.words.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.words[mid].start <= ms) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    const w = found >= 0 && ms < this.words[found].end + 150 ? this.words[found].node : null;
    if (w === this.current) return;
    this.current?.classList.remove('now');
    this.current?.removeAttribute('aria-current');
    this.current = w;
    if (w !== null) {
      w.classList.add('now');
      w.setAttribute('aria-current', 'true');
    }
  }

  /** @param {Result} result */
  render(result) {
    this.list.replaceChildren();
    this.speakers.replaceChildren();
    this.events.replaceChildren();
    this.words = [];
    this.current = null;
    for (const s of result.speakers ?? []) {
      this.speakers.append(el('li', { class: speakerClass(s.label) }, [`Speaker ${s.name}`]));
    }
    for (const seg of result.segments) {
      const words = seg.words.length > 0 ? seg.words : [[seg.start, seg.end, seg.text]];
      const text = el('p', { class: 'text' });
      words.forEach(([start, end, word], i) => {
        const node = el('span', { class: 'w', 'data-start': String(start), 'data-end': String(end) }, [word.trim()]);
        this.words.push({ start, end, node });
        if (i > 0) text.append(' ');
        text.append(node);
      });
      const who = seg.speaker === undefined ? '' : `Speaker ${seg.speaker.name}`;
      this.list.append(el('li', { class: `seg ${speakerClass(seg.speaker?.label)}` }, [
        el('span', { class: 'who' }, [who]),
        el('button', { type: 'button', class: 'ts', 'data-start': String(seg.start), 'aria-label': `Play from ${clock(seg.start)}` }, [clock(seg.start)]),
        text,
      ]));
    }
    this.words.sort((a, b) => a.start - b.start);
    for (const e of result.events ?? []) {
      this.events.append(el('li', {}, [`${clock(e.startTimestamp)}–${clock(e.endTimestamp)} ${e.label}`]));
    }
  }
}
