/**
 * Checks that a DICOM data set is structurally complete: every element's value fits in the bytes
 * received, and every undefined-length sequence / encapsulated Pixel Data is closed by its delimiter.
 *
 * Hand-written because dcmjs (0.51) silently accepts a file cut off inside Pixel Data (it returns the
 * fragments it could read), and a truncated slice must be refused before it is acknowledged.
 * Pure: bytes in, a problem description (or null) out. Reads only element headers, so a ByteSource
 * over a file touches a few kB of a 70 MB instance.
 */
import { inflateRawSync } from 'node:zlib';
import { bufferSource, type ByteSource } from './byte-source.ts';

/** Explicit VRs with a 2-byte reserved field and a 4-byte length (PS3.5 7.1.2). */
export const LONG_LENGTH_VRS: ReadonlySet<string> = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const UNDEFINED_LENGTH = 0xffffffff;
const ITEM = 0xe000;
const ITEM_DELIMITATION = 0xe00d;
const SEQUENCE_DELIMITATION = 0xe0dd;
const DEFLATED_EXPLICIT_LE = '1.2.840.10008.1.2.1.99';
const IMPLICIT_LE = '1.2.840.10008.1.2';
const EXPLICIT_BE = '1.2.840.10008.1.2.2';

class StructureError extends Error {}

function tagText(group: number, element: number): string {
  return `(${group.toString(16).padStart(4, '0')},${element.toString(16).padStart(4, '0')})`.toUpperCase();
}

class DatasetWalker {
  /** Byte offset of the top-level Pixel Data element (7FE0,0010), when present. */
  pixelDataOffset: number | null = null;

  constructor(
    private readonly source: ByteSource,
    private readonly littleEndian: boolean,
  ) {}

  private view(pos: number, len: number): DataView {
    const b = this.source.read(pos, len);
    if (b.byteLength < len) throw new StructureError(`data cut off at byte ${pos}`);
    return new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  private u8(pos: number): number {
    return this.view(pos, 1).getUint8(0);
  }

  private u16(pos: number): number {
    return this.view(pos, 2).getUint16(0, this.littleEndian);
  }

  private u32(pos: number): number {
    return this.view(pos, 4).getUint32(0, this.littleEndian);
  }

  /** Walks elements from pos to end (or to an item delimiter when insideItem); returns the position after. */
  walkDataset(pos: number, end: number, explicitVr: boolean, insideItem: boolean): number {
    while (pos < end) {
      if (pos + 8 > end) throw new StructureError(`data cut off: element header at byte ${pos}`);
      const group = this.u16(pos);
      const element = this.u16(pos + 2);
      if (!insideItem && group === 0x7fe0 && element === 0x0010) this.pixelDataOffset = pos;
      if (group === 0xfffe) {
        const length = this.u32(pos + 4);
        pos += 8;
        if (element === ITEM_DELIMITATION && insideItem) return pos;
        if (element === ITEM_DELIMITATION || element === SEQUENCE_DELIMITATION) continue; // stray delimiter: harmless
        throw new StructureError(`unexpected item tag ${tagText(group, element)} outside a sequence (length ${length})`);
      }
      let vr = '';
      let length: number;
      if (explicitVr) {
        const c1 = this.u8(pos + 4);
        const c2 = this.u8(pos + 5);
        if (c1 < 0x41 || c1 > 0x5a || c2 < 0x41 || c2 > 0x5a) {
          throw new StructureError(`invalid VR bytes at ${tagText(group, element)} (byte ${pos})`);
        }
        vr = String.fromCharCode(c1, c2);
        if (LONG_LENGTH_VRS.has(vr)) {
          if (pos + 12 > end) throw new StructureError(`data cut off: element header at byte ${pos}`);
          length = this.u32(pos + 8);
          pos += 12;
        } else {
          length = this.u16(pos + 6);
          pos += 8;
        }
      } else {
        length = this.u32(pos + 4);
        pos += 8;
      }
      if (length === UNDEFINED_LENGTH) {
        // Undefined length: a sequence, or encapsulated Pixel Data (fragments are items of defined length).
        // UN with undefined length holds Implicit VR LE items (PS3.5 6.2.2).
        const itemsExplicit = explicitVr && vr !== 'UN';
        pos = this.walkItems(pos, end, itemsExplicit, group, element);
      } else {
        if (pos + length > end) {
          throw new StructureError(`data cut off in ${tagText(group, element)}: needs ${length} bytes, ${end - pos} left`);
        }
        pos += length;
      }
    }
    if (insideItem) throw new StructureError('data cut off: sequence item not closed');
    return pos;
  }

  private walkItems(pos: number, end: number, explicitVr: boolean, group: number, element: number): number {
    for (;;) {
      if (pos + 8 > end) {
        throw new StructureError(`data cut off: ${tagText(group, element)} has no sequence delimiter`);
      }
      const itemGroup = this.u16(pos);
      const itemElement = this.u16(pos + 2);
      const length = this.u32(pos + 4);
      pos += 8;
      if (itemGroup !== 0xfffe) {
        throw new StructureError(`expected an item inside ${tagText(group, element)}, found ${tagText(itemGroup, itemElement)}`);
      }
      if (itemElement === SEQUENCE_DELIMITATION) return pos;
      if (itemElement !== ITEM) {
        throw new StructureError(`unexpected ${tagText(itemGroup, itemElement)} inside ${tagText(group, element)}`);
      }
      if (length === UNDEFINED_LENGTH) {
        pos = this.walkDataset(pos, end, explicitVr, true);
      } else {
        if (pos + length > end) {
          throw new StructureError(`data cut off in ${tagText(group, element)} item: needs ${length}, ${end - pos} left`);
        }
        pos += length;
      }
    }
  }
}

export interface StructureReport {
  /** null when the data set is complete, else what is wrong (at most ~60 characters). */
  problem: string | null;
  /** Where the top-level Pixel Data element starts (header parsing can stop there); null if absent/unknown. */
  pixelDataOffset: number | null;
}

/**
 * Walks the data set starting at `datasetOffset`. A Deflated data set is inflated first (a cut-off
 * deflate stream is itself the finding); its pixelDataOffset is then unknown (null).
 */
export function checkDatasetStructure(input: Uint8Array | ByteSource, datasetOffset: number, transferSyntaxUID: string): StructureReport {
  if (transferSyntaxUID === DEFLATED_EXPLICIT_LE) {
    const all = input instanceof Uint8Array ? input : input.read(0, input.size);
    let inflated: Uint8Array;
    try {
      // PS3.5 A.5: raw deflate (RFC 1951, no zlib header) of the Explicit VR LE data set.
      inflated = inflateRawSync(all.subarray(datasetOffset));
    } catch (err) {
      return { problem: `data cut off: deflated data set (${(err as Error).message})`.slice(0, 64), pixelDataOffset: null };
    }
    const report = checkDatasetStructure(inflated, 0, '1.2.840.10008.1.2.1');
    return { problem: report.problem, pixelDataOffset: null };
  }
  const source = input instanceof Uint8Array ? bufferSource(input) : input;
  const walker = new DatasetWalker(source, transferSyntaxUID !== EXPLICIT_BE);
  try {
    walker.walkDataset(datasetOffset, source.size, transferSyntaxUID !== IMPLICIT_LE, false);
    return { problem: null, pixelDataOffset: walker.pixelDataOffset };
  } catch (err) {
    if (err instanceof StructureError) return { problem: err.message, pixelDataOffset: walker.pixelDataOffset };
    throw err;
  }
}
