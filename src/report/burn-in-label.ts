/**
 * Burns a short upper-case label ("RESEARCH USE ONLY") into an RGB image, so the heatmap stays
 * labelled when someone screenshots or exports it. Hand-written: only a dozen 5x7 glyphs are
 * needed, and no font-rendering library works without a canvas or font files.
 */

/** 5x7 glyphs, one string per row, '#' = ink. */
const GLYPHS: Record<string, readonly string[]> = {
  ' ': ['.....', '.....', '.....', '.....', '.....', '.....', '.....'],
  A: ['.###.', '#...#', '#...#', '#####', '#...#', '#...#', '#...#'],
  C: ['.###.', '#...#', '#....', '#....', '#....', '#...#', '.###.'],
  E: ['#####', '#....', '#....', '####.', '#....', '#....', '#####'],
  H: ['#...#', '#...#', '#...#', '#####', '#...#', '#...#', '#...#'],
  L: ['#....', '#....', '#....', '#....', '#....', '#....', '#####'],
  N: ['#...#', '##..#', '#.#.#', '#..##', '#...#', '#...#', '#...#'],
  O: ['.###.', '#...#', '#...#', '#...#', '#...#', '#...#', '.###.'],
  R: ['####.', '#...#', '#...#', '####.', '#.#..', '#..#.', '#...#'],
  S: ['.####', '#....', '#....', '.###.', '....#', '....#', '####.'],
  U: ['#...#', '#...#', '#...#', '#...#', '#...#', '#...#', '.###.'],
  Y: ['#...#', '#...#', '.#.#.', '..#..', '..#..', '..#..', '..#..'],
};

const GLYPH_W = 5;
const GLYPH_H = 7;

export function labelSupported(text: string): boolean {
  return [...text].every((ch) => ch in GLYPHS);
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
  const boxW = text.length * (GLYPH_W + 1) * scale + pad;
  const boxH = GLYPH_H * scale + 2 * pad;
  const put = (x: number, y: number, v: number): void => {
    if (x < 0 || y < 0 || x >= columns || y >= rows) return;
    const i = (y * columns + x) * 3;
    out[i] = v;
    out[i + 1] = v;
    out[i + 2] = v;
  };
  for (let y = 0; y < boxH; y++) for (let x = 0; x < boxW; x++) put(x0 + x, y0 + y, 0);
  [...text].forEach((ch, k) => {
    const glyph = GLYPHS[ch]!;
    for (let gy = 0; gy < GLYPH_H; gy++) {
      for (let gx = 0; gx < GLYPH_W; gx++) {
        if (glyph[gy]![gx] !== '#') continue;
        for (let sy = 0; sy < scale; sy++) {
          for (let sx = 0; sx < scale; sx++) {
            put(x0 + pad + (k * (GLYPH_W + 1) + gx) * scale + sx, y0 + pad + gy * scale + sy, 255);
          }
        }
      }
    }
  });
  return out;
}
