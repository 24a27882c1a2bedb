/**
 * One call for everything a finished job sends out: the TID 1500 SR, the ORU^R01, and, when their
 * inputs exist, the Grad-CAM heatmap Secondary Capture and the tissue SEG. Objects that cannot be
 * made are left out with a note saying why (notes carry no patient data).
 */
import { buildHeatmapSecondaryCapture, rgbFromPng } from './heatmap-sc.ts';
import { buildOruR01, type OruMessageHeader } from './oru.ts';
import { buildMeasurementReportSr } from './sr.ts';
import { buildTissueSegmentation } from './tissue-seg.ts';
import type { DicomObject, ReportInput } from './types.ts';

export { buildHeatmapSecondaryCapture, rgbFromPng } from './heatmap-sc.ts';
export { buildOruR01, type OruMessageHeader } from './oru.ts';
export { buildMeasurementReportSr } from './sr.ts';
export { buildTissueSegmentation } from './tissue-seg.ts';
export { imageGeometryFromDicom, sourceContextFromDicom } from './source-context.ts';
export { ReportInputError } from './validate.ts';

export interface ReportBundleRequest {
  input: ReportInput;
  oruHeader: OruMessageHeader;
  /** UIDs for the heatmap SC; it is built when the risk result carries a heatmap PNG. */
  heatmapUids?: { seriesInstanceUID: string; sopInstanceUID: string };
  /**
   * For the tissue SEG: the measured T11 source instance (Part 10 bytes, an ArrayBuffer holding
   * exactly the file) and UIDs. Built when the analysis is assessable and kept its masks.
   */
  segmentation?: { t11ImageP10: ArrayBuffer; seriesInstanceUID: string; sopInstanceUID: string };
}

export interface ReportBundle {
  sr: DicomObject;
  oru: string;
  heatmap: DicomObject | null;
  segmentation: DicomObject | null;
  /** Why an optional object was not built. */
  notes: string[];
}

export function buildReportBundle(req: ReportBundleRequest): ReportBundle {
  const { input } = req;
  const notes: string[] = [];
  const sr = buildMeasurementReportSr(input);
  const oru = buildOruR01(input, req.oruHeader);
  const slice = input.analysis.measuredSlice;

  let heatmap: DicomObject | null = null;
  const png = input.risk?.heatmapPng ?? null;
  if (!req.heatmapUids) notes.push('heatmap SC not requested');
  else if (!png) notes.push('heatmap SC not built: the risk result has no heatmap');
  else if (!slice) notes.push('heatmap SC not built: no measured T11 slice to reference');
  else {
    heatmap = buildHeatmapSecondaryCapture(
      input,
      rgbFromPng(png),
      { sopClassUID: input.source.sopClassUID, sopInstanceUID: slice.sopInstanceUID },
      req.heatmapUids,
    );
  }

  let segmentation: DicomObject | null = null;
  const masks = input.analysis.masks;
  if (!req.segmentation) notes.push('tissue SEG not requested');
  else if (!input.analysis.assessable || !masks) notes.push('tissue SEG not built: no tissue masks (not assessable)');
  else {
    const { t11ImageP10, ...uids } = req.segmentation;
    segmentation = buildTissueSegmentation(input, masks, t11ImageP10, uids);
  }
  return { sr, oru, heatmap, segmentation, notes };
}
