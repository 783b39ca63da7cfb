import type { Cue } from './cues.js';

/**
 * SAMI, as Korean players (PotPlayer, KMPlayer) and broadcasters expect: a HEAD with a STYLE
 * block that declares one caption class for the language, then a SYNC per cue start and an
 * `&nbsp;` SYNC where each cue ends (SAMI has no end times).
 */
const CLASSES: Record<string, { cls: string; name: string; lang: string }> = {
  ko: { cls: 'KRCC', name: 'Korean', lang: 'ko-KR' },
  en: { cls: 'ENCC', name: 'English', lang: 'en-US' },
  ja: { cls: 'JPCC', name: 'Japanese', lang: 'ja-JP' },
  zh: { cls: 'ZHCC', name: 'Chinese', lang: 'zh-CN' },
};

export function writeSmi(cues: readonly Cue[], language: string, title = 'Sori'): string {
  const c = CLASSES[language] ?? { cls: 'CC', name: language, lang: language };
  const out = [
    '<SAMI>',
    '<HEAD>',
    `<TITLE>${escapeHtml(title)}</TITLE>`,
    '<STYLE TYPE="text/css">',
    '<!--',
    'P { margin-left:8pt; margin-right:8pt; margin-bottom:2pt; margin-top:2pt; text-align:center; font-size:20pt; font-family:sans-serif; font-weight:normal; color:white; }',
    `.${c.cls} { Name:${c.name}; lang:${c.lang}; SAMIType:CC; }`,
    '-->',
    '</STYLE>',
    '</HEAD>',
    '<BODY>',
  ];
  cues.forEach((cue, i) => {
    const lines = cue.lines.map(escapeHtml);
    if (cue.speaker !== undefined) lines[0] = `${escapeHtml(cue.speaker)}: ${lines[0] ?? ''}`;
    out.push(`<SYNC Start=${Math.round(cue.start)}><P Class=${c.cls}>${lines.join('<br>')}`);
    const next = cues[i + 1];
    if (next === undefined || next.start > cue.end) out.push(`<SYNC Start=${Math.round(cue.end)}><P Class=${c.cls}>&nbsp;`);
  });
  out.push('</BODY>', '</SAMI>', '');
  return out.join('\r\n');
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
