/**
 * Burns a short upper-case label ("RESEARCH USE ONLY") into an RGB image, so the heatmap stays
 * labelled when someone screenshots or exports it. Uses the project's 5x7 bitmap font.
 */
import { GLYPH_ADVANCE, GLYPH_HEIGHT, drawText, hasGlyphs } from '../util/bitmap-font.ts';

export function labelSupported(text: string): boolean {
  return hasGlyphs(text);
}

/**
 * Returns a copy of `rgb` with `text` drawn at (x, y) in white on a black box, scaled by `scale`.
 * Text that does not fit is clipped at the image edge.
 */
export function burnInLabel(
  rgb: Uint8Array,
  rows: number,
  columns: number,
  text: string,
  opts: { x?: number; y?: number; scale?: number } = {},
): Uint8Array {
  if (!labelSupported(text)) throw new Error(`burnInLabel: unsupported character in "${text}"`);
  const scale = opts.scale ?? Math.max(1, Math.floor(columns / 250));
  const x0 = opts.x ?? 4;
  const y0 = opts.y ?? 4;
  const out = new Uint8Array(rgb);
  const pad = scale;
  const boxW = text.length * GLYPH_ADVANCE * scale + pad;
  const boxH = GLYPH_HEIGHT * scale + 2 * pad;
  const put = (x: number, y: number, v: number): void => {
    if (x < 0 || y < 0 || x >= columns || y >= rows) return;
    const i = (y * columns + x) * 3;
    out[i] = v;
    out[i + 1] = v;
    out[i + 2] = v;
  };
  for (let y = 0; y < boxH; y++) for (let x = 0; x < boxW; x++) put(x0 + x, y0 + y, 0);
  drawText(text, x0 + pad, y0 + pad, scale, (x, y) => put(x, y, 255));
  return out;
}
