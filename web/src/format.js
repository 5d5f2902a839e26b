// Small pure helpers shared by both pages: number and date formatting, colours.

export const DASH = '—';

const isNum = (v) => typeof v === 'number' && Number.isFinite(v);

export function formatNumber(value, digits = 0) {
  if (!isNum(value)) return DASH;
  return value.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

/** A 0..1 ratio as a percentage; null (unknown) as a dash. */
export function formatPercent(ratio, digits = 1) {
  if (!isNum(ratio)) return DASH;
  return `${(ratio * 100).toLocaleString('en', { maximumFractionDigits: digits })}%`;
}

export function formatMs(ms) {
  if (!isNum(ms)) return DASH;
  if (ms >= 10000) return `${(ms / 1000).toLocaleString('en', { maximumFractionDigits: 1 })} s`;
  return `${Math.round(ms).toLocaleString('en')} ms`;
}

/** US dollars with enough digits that a fraction of a cent still shows. */
export function formatUsd(usd) {
  if (!isNum(usd)) return DASH;
  const digits = usd !== 0 && Math.abs(usd) < 0.01 ? 4 : 2;
  return `$${usd.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits })}`;
}

export function formatBytes(bytes) {
  if (!isNum(bytes)) return DASH;
  const units = ['B', 'KB', 'MB', 'GB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toLocaleString('en', { maximumFractionDigits: unit ? 1 : 0 })} ${units[unit]}`;
}

/** A readable local date and time for an ISO timestamp; the raw text when it does not parse. */
export function formatDate(iso, withTime = true) {
  if (!iso) return DASH;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return date.toLocaleString('en', {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    ...(withTime ? { hour: '2-digit', minute: '2-digit' } : {}),
  });
}

/** "brand_voice" → "Brand voice". */
export function humanize(text) {
  const words = String(text ?? '')
    .replace(/[_-]+/g, ' ')
    .trim();
  return words ? words[0].toUpperCase() + words.slice(1) : '';
}

// ---- colours ----

const HEX = /^#([0-9a-f]{6})$/i;

export function parseHex(color) {
  const m = HEX.exec(String(color ?? '').trim());
  if (!m) return null;
  const n = parseInt(m[1], 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** WCAG relative luminance of an sRGB colour. */
export function luminance([r, g, b]) {
  const lin = (c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

export function contrastRatio(a, b) {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

/** Black or white, whichever reads better on the given background. */
export function textOn(color) {
  const rgb = parseHex(color);
  if (!rgb) return '#ffffff';
  return contrastRatio(rgb, [255, 255, 255]) >= contrastRatio(rgb, [0, 0, 0]) ? '#ffffff' : '#000000';
}

/**
 * A brand colour made dark enough to be read as text (links, outlines) on white: the configured
 * colour may be any shade, and WCAG AA asks 4.5:1 for text.
 */
export function readableOnWhite(color) {
  let rgb = parseHex(color);
  if (!rgb) return null;
  for (let i = 0; i < 20 && contrastRatio(rgb, [255, 255, 255]) < 4.5; i++) {
    rgb = rgb.map((c) => Math.round(c * 0.9));
  }
  return `#${rgb.map((c) => c.toString(16).padStart(2, '0')).join('')}`;
}

// One colour per assistant, each at least 4.5:1 against white text and distinct in hue.
export const ASSISTANT_COLORS = {
  diagnostic: '#1d4ed8',
  avatar: '#7e22ce',
  canvas: '#047857',
  capture: '#b45309',
  core: '#be123c',
};

// Titles as the bundled assistants file names them, for when /api/ui/config is unavailable.
export const DEFAULT_TITLES = {
  diagnostic: 'IDEA Diagnostic Specialist',
  avatar: 'IDEA Avatar Creator',
  canvas: 'IDEA Canvas Developer',
  capture: 'IDEA CAPTURE Strategist',
  core: 'IDEA Core Brand Advisor',
};

const EXTRA_COLORS = ['#0e7490', '#4d7c0f', '#9d174d', '#475569'];

export function assistantColor(id, index = 0) {
  return ASSISTANT_COLORS[id] || EXTRA_COLORS[index % EXTRA_COLORS.length];
}
