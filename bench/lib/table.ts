/** Plain-text tables for the terminal; widths counted in code points (CJK cells may look wider). */

export type Cell = string | number | null | undefined;

export function formatTable(header: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const text = [header, ...rows].map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))));
  const widths = header.map((_, i) => Math.max(...text.map((r) => [...(r[i] ?? '')].length)));
  // A column is right-aligned when every body cell in it is a number (or '-').
  const numeric = header.map((_, i) => text.slice(1).every((r) => /^([-+]?[\d.]+[%x]?|-|)$/.test(r[i] ?? '')));
  const line = (r: string[]) =>
    r
      .map((c, i) => {
        const pad = ' '.repeat(widths[i] - [...c].length);
        return numeric[i] ? pad + c : c + pad;
      })
      .join('  ')
      .trimEnd();
  const out = [line(text[0]), widths.map((w) => '-'.repeat(w)).join('  ')];
  for (const r of text.slice(1)) out.push(line(r));
  return out.join('\n');
}

export function pct(rate: number | null | undefined, digits = 1): string {
  return rate === null || rate === undefined || !Number.isFinite(rate) ? '-' : (rate * 100).toFixed(digits) + '%';
}

export function fixed(x: number | null | undefined, digits = 3): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits);
}
