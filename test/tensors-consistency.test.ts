/**
 * Are the training tensors (models/artifacts/tensors, made by models/make-tensors.ts) still what the serving
 * code would compute? Recomputes a few images with the current channel code and fat-mask segmentation and
 * compares with the stored files. Skipped when the tensors have not been generated (they are not in git).
 * A failure means: rerun `npx tsx models/make-tensors.ts` and retrain (the CNN learnt from stale inputs).
 */
import { strict as assert } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildModelChannels } from '../src/model/channels.ts';
import { cohortFatMaskSource, cohortModelInputs, decodeJpegToGrey } from '../src/model/cohort-image.ts';

const TENSORS = new URL('../models/artifacts/tensors/', import.meta.url).pathname;
const COHORT = new URL('../../shared/data/lf-dlrn-bc/', import.meta.url).pathname;

describe('training tensors match the serving channel code (if generated)', function () {
  it('CT/HOG/LBP identical and fat mask Dice >= 0.98 on every 40th image', function () {
    if (!existsSync(join(TENSORS, 'index.json'))) this.skip();
    const index = JSON.parse(readFileSync(join(TENSORS, 'index.json'), 'utf8')) as {
      fatMaskSource: string;
      items: { id: string; split: string; file: string }[];
    };
    assert.equal(index.fatMaskSource, cohortFatMaskSource(), 'tensors were made with another fat-mask method');
    const n = 500 * 400;
    const dices: number[] = [];
    index.items.filter((_, i) => i % 40 === 0).forEach((item) => {
      const b = readFileSync(join(TENSORS, item.file));
      const stored = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
      const img = decodeJpegToGrey(readFileSync(join(COHORT, 'images', 't11', item.split, `${item.id}.jpg`)));
      const { grey, satMask } = cohortModelInputs(img);
      const now = buildModelChannels(grey, satMask);
      for (let i = 0; i < 3 * n; i++) assert.equal(stored[i], now[i], `${item.file}: channel ${Math.floor(i / n)} differs at pixel ${i % n}`);
      let both = 0;
      let a = 0;
      let c = 0;
      for (let i = 3 * n; i < 4 * n; i++) {
        const s = stored[i] === 0.5 ? 1 : 0;
        const t = now[i] === 0.5 ? 1 : 0;
        a += s;
        c += t;
        both += s & t;
      }
      const dice = a + c === 0 ? 1 : (2 * both) / (a + c);
      console.log(`    ${item.file}: fat mask Dice stored vs current ${dice.toFixed(4)}`);
      dices.push(dice);
    });
    const worst = Math.min(...dices);
    assert.ok(worst >= 0.98, `fat mask segmentation changed since the tensors were made (worst Dice ${worst.toFixed(3)}): regenerate tensors and retrain`);
  });
});
