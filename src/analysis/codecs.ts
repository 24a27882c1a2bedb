/**
 * Compressed pixel-data codecs for single frames: JPEG 2000 through the openjpeg wasm build, every
 * other encapsulated syntax through @cornerstonejs/dicom-codec, with the two library quirks fixed here
 * (stdout chatter, the JPEG lossless last-sample bug). Pure apart from the temporary stdout filter.
 */
import dicomCodec from '@cornerstonejs/dicom-codec';
import { createRequire } from 'node:module';

export interface FrameInfo {
  rows: number;
  columns: number;
  bitsAllocated: number;
  signed: boolean;
}

/** Transfer syntaxes whose frames dicom-codec can decode (RLE, JPEG family, JPEG-LS, JPEG 2000, HTJ2K). */
export function hasCodec(transferSyntaxUID: string): boolean {
  return dicomCodec.hasCodec(transferSyntaxUID) as boolean;
}

/** codec-openjpeg prints "[INFO] ..." to stdout per decode (platform notes §4); `--json` stdout must stay clean. */
let codecQuietDepth = 0;
let originalStdoutWrite: typeof process.stdout.write | null = null;
const CODEC_CHATTER = /^\[(INFO|WARNING)\]/;

function beginCodecQuiet(): void {
  if (codecQuietDepth++ > 0 || typeof process === 'undefined' || !process.stdout) return;
  originalStdoutWrite = process.stdout.write;
  const passThrough = originalStdoutWrite;
  // Drop only the codec's own lines: anything else written meanwhile (logs of other jobs) passes.
  process.stdout.write = function (this: unknown, chunk: unknown, ...rest: unknown[]) {
    if (typeof chunk === 'string' && CODEC_CHATTER.test(chunk)) return true;
    return (passThrough as (...a: unknown[]) => boolean).call(process.stdout, chunk, ...rest);
  } as typeof process.stdout.write;
}

function endCodecQuiet(): void {
  if (--codecQuietDepth > 0 || !originalStdoutWrite) return;
  process.stdout.write = originalStdoutWrite;
  originalStdoutWrite = null;
}

/**
 * JPEG 2000 goes straight to the openjpeg *wasm* build: dicom-codec picks the asm.js build, which is
 * 3-4x slower here (about 400 vs 110 ms per 512x512 slice). Creating the module with a silent `print`
 * also keeps its "[INFO]" lines off stdout.
 */
const J2K_SYNTAXES = new Set(['1.2.840.10008.1.2.4.90', '1.2.840.10008.1.2.4.91']);
let openjpegWasm: Promise<any> | null = null;
function loadOpenjpegWasm(): Promise<any> {
  if (!openjpegWasm) {
    const require = createRequire(import.meta.url);
    const factory = require('@cornerstonejs/codec-openjpeg/wasmjs');
    openjpegWasm = factory({ print: () => {}, printErr: () => {} });
  }
  return openjpegWasm!;
}

async function decodeJ2k(frame: Uint8Array): Promise<Uint8Array> {
  const codec = await loadOpenjpegWasm();
  const decoder = new codec.J2KDecoder();
  try {
    decoder.getEncodedBuffer(frame.length).set(frame);
    decoder.decode();
    // The decoded buffer lives in wasm memory: copy it out before the decoder is freed.
    return new Uint8Array(decoder.getDecodedBuffer());
  } finally {
    decoder.delete();
  }
}

const JPEG_LOSSLESS_SYNTAXES = new Set(['1.2.840.10008.1.2.4.57', '1.2.840.10008.1.2.4.70']);

/**
 * jpeg-lossless-decoder-js 2.1.2 (used by dicom-codec) decodes the very last sample as 0 when the EOI
 * marker directly follows the final code (needs look-ahead bits; seen on 24/255 chest-ct-1 slices).
 * Two zero bytes before EOI give it those bits; they lie after the last sample, so the image is unchanged.
 */
function padBeforeJpegEoi(frame: Uint8Array): Uint8Array {
  let eoi = -1;
  for (let i = frame.length - 2; i >= Math.max(0, frame.length - 16); i--) {
    if (frame[i] === 0xff && frame[i + 1] === 0xd9) {
      eoi = i;
      break;
    }
  }
  if (eoi < 0) return frame;
  const out = new Uint8Array(frame.length + 2);
  out.set(frame.subarray(0, eoi), 0);
  out.set(frame.subarray(eoi), eoi + 2);
  return out;
}

/**
 * Decodes one compressed frame. Returns the codec's output: a typed array of samples or the raw
 * little-endian sample bytes (the caller normalises). Throws with the codec's message.
 */
export async function decodeCompressedFrame(frame: Uint8Array, info: FrameInfo, transferSyntaxUID: string): Promise<ArrayLike<number> & { BYTES_PER_ELEMENT?: number }> {
  if (J2K_SYNTAXES.has(transferSyntaxUID)) return decodeJ2k(frame);
  beginCodecQuiet();
  try {
    const decoded = await dicomCodec.decode(
      JPEG_LOSSLESS_SYNTAXES.has(transferSyntaxUID) ? padBeforeJpegEoi(frame) : frame,
      { rows: info.rows, columns: info.columns, bitsAllocated: info.bitsAllocated, samplesPerPixel: 1, signed: info.signed },
      transferSyntaxUID,
    );
    return decoded.imageFrame;
  } finally {
    endCodecQuiet();
  }
}
