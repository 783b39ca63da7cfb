// Small DOM helpers shared by the tabs.

/** @template {HTMLElement} T @param {string} id @returns {T} */
export function byId(id) {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`#${id} missing`);
  return /** @type {T} */ (el);
}

/**
 * @param {string} tag
 * @param {Record<string, string>} [attrs]
 * @param {Array<Node | string>} [children]
 */
export function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

/** @param {string} text */
export function status(text) {
  byId('status').textContent = text;
}

/** @param {unknown} err */
export function showError(err) {
  const box = byId('error');
  box.textContent = err instanceof Error ? err.message : String(err);
  box.hidden = false;
}

export function clearError() {
  const box = byId('error');
  box.textContent = '';
  box.hidden = true;
}

/** 83450 -> "1:23.4" @param {number} ms */
export function clock(ms) {
  const s = Math.max(0, ms) / 1000;
  const m = Math.floor(s / 60);
  return `${m}:${(s - m * 60).toFixed(1).padStart(4, '0')}`;
}

/** Saves `data` as a file named `name` (a blob URL, revoked afterwards). @param {Blob} data @param {string} name */
export function saveAs(data, name) {
  const url = URL.createObjectURL(data);
  const a = el('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
