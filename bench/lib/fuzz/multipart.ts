/** multipart/form-data bodies built byte by byte, so a case can also leave out what a library always writes. */

export interface Part {
  headers: string[];
  body: Uint8Array;
}

/** The parts between `--boundary` lines; `close` adds the closing `--boundary--`. */
export function multipart(boundary: string, parts: readonly Part[], close: boolean): Uint8Array {
  const chunks: Uint8Array[] = [];
  for (const p of parts) {
    chunks.push(Buffer.from(`--${boundary}\r\n${p.headers.join('\r\n')}\r\n\r\n`, 'latin1'), p.body, Buffer.from('\r\n', 'latin1'));
  }
  if (close) chunks.push(Buffer.from(`--${boundary}--\r\n`, 'latin1'));
  return Buffer.concat(chunks);
}
