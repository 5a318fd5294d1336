/**
 * The two pictures of a run, drawn as plain SVG (people look at these rather than read the numbers):
 * a confusion matrix and a reliability diagram. Our own small code: two fixed layouts do not need a
 * chart library. Text uses a common sans-serif family so the PNG renderer finds a font on any system.
 */
import type { CalibrationReport } from './calibration.js';

const FONT = "DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif";
const INK = '#222222';
const MUTED = '#666666';
const ACCENT = '#1f5fa8';

/** Text for SVG content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

function fmt(x: number, digits = 3): string {
  return Number.isFinite(x) ? x.toFixed(digits) : 'n/a';
}

function text(x: number, y: number, content: string, attributes = ''): string {
  return `<text x="${fmt(x, 1)}" y="${fmt(y, 1)}" ${attributes}>${escapeXml(content)}</text>`;
}

function document(width: number, height: number, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}" fill="${INK}">`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

/** Rough width of a 16 px bold title (about 9.5 px a character in DejaVu Sans), with margins. */
function titleWidth(title: string): number {
  return Math.ceil(title.length * 9.5) + 32;
}

function shorten(label: string, max: number): string {
  return label.length <= max ? label : `${label.slice(0, max - 1)}…`;
}

/** White to the accent colour as `share` goes 0 -> 1. */
function shade(share: number): string {
  const s = Math.min(1, Math.max(0, share));
  const channel = (to: number) => Math.round(255 + (to - 255) * s).toString(16).padStart(2, '0');
  return `#${channel(0x1f)}${channel(0x5f)}${channel(0xa8)}`;
}

export interface ConfusionPicture {
  title: string;
  classes: readonly string[];
  /** matrix[actual][predicted] */
  matrix: readonly (readonly number[])[];
}

/** Cells shaded by the share of the actual class's row (its recall on the diagonal), counts written in. */
export function confusionMatrixSvg(picture: ConfusionPicture): string {
  const n = picture.classes.length;
  const labels = picture.classes.map((c) => shorten(c, 24));
  const cell = n <= 4 ? 84 : Math.max(30, Math.min(60, Math.floor(480 / n)));
  const longest = Math.max(...labels.map((l) => l.length), 4);
  const rotate = n > 4 || longest * 7 > cell;
  const left = 40 + Math.ceil(longest * 7.2);
  const top = 70 + (rotate ? Math.ceil(longest * 5.4) : 24);
  // Rotated column labels lean right past the grid; the title must fit as well.
  const width = Math.max(left + n * cell + (rotate ? Math.ceil(longest * 5.4) : 0) + 30, titleWidth(picture.title), 440);
  const height = top + n * cell + 40;
  const body: string[] = [
    text(16, 26, picture.title, 'font-size="16" font-weight="bold"'),
    text(16, 46, 'rows: actual · columns: predicted · shade: share of the actual row', `font-size="11" fill="${MUTED}"`),
  ];
  labels.forEach((label, j) => {
    const x = left + j * cell + cell / 2;
    const y = top - 8;
    body.push(rotate ? text(x, y, label, `font-size="11" text-anchor="start" transform="rotate(-45 ${fmt(x, 1)} ${fmt(y, 1)})"`) : text(x, y, label, 'font-size="12" text-anchor="middle"'));
  });
  picture.matrix.forEach((row, i) => {
    const total = row.reduce((a, b) => a + b, 0);
    const y = top + i * cell;
    body.push(text(left - 8, y + cell / 2 + 4, labels[i]!, 'font-size="12" text-anchor="end"'));
    row.forEach((count, j) => {
      const share = total === 0 ? 0 : count / total;
      const x = left + j * cell;
      body.push(`<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${shade(share)}" stroke="#ffffff" stroke-width="1"/>`);
      const ink = share > 0.55 ? '#ffffff' : INK;
      const size = cell >= 60 ? 14 : cell >= 40 ? 11 : 9;
      body.push(text(x + cell / 2, y + cell / 2 + (cell >= 60 ? 0 : 4), String(count), `font-size="${size}" text-anchor="middle" fill="${ink}"${i === j ? ' font-weight="bold"' : ''}`));
      if (cell >= 60) body.push(text(x + cell / 2, y + cell / 2 + 16, `${(share * 100).toFixed(0)}%`, `font-size="10" text-anchor="middle" fill="${ink}"`));
    });
  });
  body.push(`<rect x="${left}" y="${top}" width="${n * cell}" height="${n * cell}" fill="none" stroke="${MUTED}" stroke-width="1"/>`);
  body.push(text(left + (n * cell) / 2, top + n * cell + 24, 'predicted', `font-size="12" text-anchor="middle" fill="${MUTED}"`));
  body.push(text(14, top + (n * cell) / 2, 'actual', `font-size="12" text-anchor="middle" fill="${MUTED}" transform="rotate(-90 14 ${fmt(top + (n * cell) / 2, 1)})"`));
  return document(width, height, body);
}

export interface ReliabilityPicture {
  title: string;
  calibration: CalibrationReport;
}

/**
 * Reliability diagram: per confidence bin, the accuracy (bar) against the mean confidence (dot); the
 * diagonal is perfect calibration and the shaded gap is the miscalibration. A strip below shows how
 * many reviews fall in each bin (a big gap in an empty bin matters little).
 */
export function reliabilitySvg(picture: ReliabilityPicture): string {
  const { calibration } = picture;
  const plot = 360;
  const left = 64;
  const top = 70;
  const stripTop = top + plot + 34;
  const strip = 56;
  const width = Math.max(left + plot + 150, titleWidth(picture.title));
  const height = stripTop + strip + 44;
  const x = (v: number) => left + v * plot;
  const y = (v: number) => top + plot - v * plot;
  const body: string[] = [
    text(16, 26, picture.title, 'font-size="16" font-weight="bold"'),
    text(16, 46, `n = ${calibration.rows} · ECE ${fmt(calibration.ece)} · MCE ${fmt(calibration.mce)} · Brier ${fmt(calibration.brier)} · accuracy ${fmt(calibration.accuracy)} · mean confidence ${fmt(calibration.meanConfidence)}`, `font-size="11" fill="${MUTED}"`),
  ];
  for (let t = 0; t <= 5; t++) {
    const v = t / 5;
    body.push(`<line x1="${fmt(x(0), 1)}" y1="${fmt(y(v), 1)}" x2="${fmt(x(1), 1)}" y2="${fmt(y(v), 1)}" stroke="#e6e6e6" stroke-width="1"/>`);
    body.push(text(left - 8, y(v) + 4, v.toFixed(1), 'font-size="11" text-anchor="end"'));
    body.push(text(x(v), top + plot + 16, v.toFixed(1), 'font-size="11" text-anchor="middle"'));
  }
  for (const bin of calibration.bins) {
    if (bin.count === 0 || bin.accuracy === null || bin.meanConfidence === null) continue;
    const barX = x(bin.lower) + 1;
    const barWidth = (bin.upper - bin.lower) * plot - 2;
    body.push(`<rect x="${fmt(barX, 1)}" y="${fmt(y(bin.accuracy), 1)}" width="${fmt(barWidth, 1)}" height="${fmt(bin.accuracy * plot, 1)}" fill="${ACCENT}" fill-opacity="0.75"/>`);
    const gapTop = Math.max(bin.accuracy, bin.meanConfidence);
    const gapHeight = Math.abs(bin.accuracy - bin.meanConfidence) * plot;
    if (gapHeight > 0.5) body.push(`<rect x="${fmt(barX, 1)}" y="${fmt(y(gapTop), 1)}" width="${fmt(barWidth, 1)}" height="${fmt(gapHeight, 1)}" fill="#d62728" fill-opacity="0.3"/>`);
    body.push(`<circle cx="${fmt(x(bin.meanConfidence), 1)}" cy="${fmt(y(bin.accuracy), 1)}" r="3.5" fill="${INK}"/>`);
  }
  body.push(`<line x1="${fmt(x(0), 1)}" y1="${fmt(y(0), 1)}" x2="${fmt(x(1), 1)}" y2="${fmt(y(1), 1)}" stroke="${MUTED}" stroke-width="1.5" stroke-dasharray="6 4"/>`);
  body.push(`<rect x="${left}" y="${top}" width="${plot}" height="${plot}" fill="none" stroke="${MUTED}" stroke-width="1"/>`);
  body.push(text(left + plot / 2, top + plot + 32 + strip + 34, 'confidence of the predicted class', `font-size="12" text-anchor="middle" fill="${MUTED}"`));
  body.push(text(18, top + plot / 2, 'accuracy', `font-size="12" text-anchor="middle" fill="${MUTED}" transform="rotate(-90 18 ${fmt(top + plot / 2, 1)})"`));
  // The count strip, one bar per bin, scaled to the fullest bin.
  const most = Math.max(1, ...calibration.bins.map((b) => b.count));
  for (const bin of calibration.bins) {
    const h = (bin.count / most) * strip;
    body.push(`<rect x="${fmt(x(bin.lower) + 1, 1)}" y="${fmt(stripTop + strip - h, 1)}" width="${fmt((bin.upper - bin.lower) * plot - 2, 1)}" height="${fmt(h, 1)}" fill="#999999"/>`);
    if (bin.count > 0) body.push(text(x((bin.lower + bin.upper) / 2), stripTop + strip - h - 3, String(bin.count), 'font-size="9" text-anchor="middle"'));
  }
  body.push(`<line x1="${left}" y1="${stripTop + strip}" x2="${left + plot}" y2="${stripTop + strip}" stroke="${MUTED}" stroke-width="1"/>`);
  body.push(text(left - 8, stripTop + strip / 2 + 4, 'reviews', 'font-size="10" text-anchor="end"'));
  // Legend.
  const lx = left + plot + 16;
  body.push(`<rect x="${lx}" y="${top + 6}" width="14" height="14" fill="${ACCENT}" fill-opacity="0.75"/>`, text(lx + 20, top + 17, 'accuracy', 'font-size="11"'));
  body.push(`<rect x="${lx}" y="${top + 28}" width="14" height="14" fill="#d62728" fill-opacity="0.3"/>`, text(lx + 20, top + 39, 'gap to confidence', 'font-size="11"'));
  body.push(`<circle cx="${lx + 7}" cy="${top + 57}" r="3.5" fill="${INK}"/>`, text(lx + 20, top + 61, 'mean confidence', 'font-size="11"'));
  body.push(`<line x1="${lx}" y1="${top + 79}" x2="${lx + 14}" y2="${top + 79}" stroke="${MUTED}" stroke-width="1.5" stroke-dasharray="4 3"/>`, text(lx + 20, top + 83, 'perfect calibration', 'font-size="11"'));
  return document(width, height, body);
}
