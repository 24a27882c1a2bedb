/**
 * Small 2-D binary-mask operations (4-connectivity, like scipy.ndimage's default cross structure),
 * used to make fat masks on the cohort's 8-bit images. Hand-written: a few dozen lines, and the
 * npm image libraries on offer work on RGBA canvases rather than typed 0/1 masks.
 * Pure: no I/O.
 */

import * as gridMorphology from '../analysis/morphology.ts';

// The connected-component and hole-filling logic lives once, in src/analysis/morphology.ts
// (rows/columns order); these adapters keep this module's width/height order for the cohort code.

/** Label 4-connected components of mask (0/1). Returns labels (0 = background, 1..count) and sizes (index = label). */
export function labelComponents(mask: Uint8Array, width: number, height: number): { labels: Int32Array; count: number; sizes: number[] } {
  const { labels, sizes } = gridMorphology.labelComponents(mask, height, width);
  return { labels, count: sizes.length - 1, sizes };
}

/** Keep only the largest 4-connected component (empty mask stays empty). */
export function largestComponent(mask: Uint8Array, width: number, height: number): Uint8Array {
  return gridMorphology.largestComponent(mask, height, width);
}

/** Fill holes: every background pixel not 4-connected to the image border becomes foreground (scipy binary_fill_holes). */
export function fillHoles(mask: Uint8Array, width: number, height: number): Uint8Array {
  return gridMorphology.fillHoles(mask, height, width);
}

/**
 * City-block distance (in pixels) from each foreground pixel to the nearest background pixel,
 * counting outside the image as background (so a pixel on the border has distance 1).
 * Foreground pixels with distance <= k are exactly those removed by k iterations of scipy's binary_erosion.
 */
export function cityBlockDepth(mask: Uint8Array, width: number, height: number): Int32Array {
  const big = width + height;
  const d = new Int32Array(mask.length);
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      const i = r * width + c;
      if (!mask[i]) { d[i] = 0; continue; }
      const up = r > 0 ? (d[i - width] as number) : 0;
      const left = c > 0 ? (d[i - 1] as number) : 0;
      d[i] = Math.min(up, left, big) + 1;
    }
  }
  for (let r = height - 1; r >= 0; r--) {
    for (let c = width - 1; c >= 0; c--) {
      const i = r * width + c;
      if (!mask[i]) continue;
      const down = r < height - 1 ? (d[i + width] as number) : 0;
      const right = c < width - 1 ? (d[i + 1] as number) : 0;
      d[i] = Math.min(d[i] as number, down + 1, right + 1);
    }
  }
  return d;
}
