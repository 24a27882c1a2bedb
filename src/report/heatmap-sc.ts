/**
 * Secondary Capture Image (1.2.840.10008.5.1.4.1.1.7) carrying the Grad-CAM overlay rendered on
 * the T11 slice as an RGB key image, so a PACS viewer shows it next to the study. Pure: RGB bytes
 * in, Part 10 bytes out. "RESEARCH USE ONLY" is burned into the pixels, so BurnedInAnnotation is YES
 * (the label carries no patient data).
 */
import { PNG } from 'pngjs';
import { burnInLabel } from './burn-in-label.ts';
import { PURPOSE_SOURCE_IMAGE, RESEARCH_USE_STATEMENT } from './codes.ts';
import { codeItem, writePart10, EXPLICIT_VR_LITTLE_ENDIAN, type NaturalDataset } from './part10.ts';
import { patientAndStudyModules } from './modules.ts';
import type { DicomObject, ReportInput } from './types.ts';
import { isValidUid } from './uids.ts';
import { ReportInputError } from './validate.ts';

export const SECONDARY_CAPTURE_SOP_CLASS = '1.2.840.10008.5.1.4.1.1.7';
export const HEATMAP_SERIES_NUMBER = 9102;
export const HEATMAP_SERIES_DESCRIPTION = 'bonemet Grad-CAM heatmap (research use)';
/** Drawn into the top-left corner of every heatmap image (hence BurnedInAnnotation YES). */
export const BURNED_IN_LABEL = 'RESEARCH USE ONLY';

export interface RgbImage {
  rows: number;
  columns: number;
  /** rows*columns*3 bytes, row-major, R G B interleaved. */
  rgb: Uint8Array;
}

export interface ImageReference {
  sopClassUID: string;
  sopInstanceUID: string;
}

/**
 * Decode the model's heatmap overlay PNG (RiskResult.heatmapPng) into the RGB pixels a Secondary
 * Capture carries. Transparent pixels are composited over black, as a viewer would show them.
 */
export function rgbFromPng(png: Uint8Array): RgbImage {
  let decoded: { width: number; height: number; data: Buffer };
  try {
    decoded = PNG.sync.read(Buffer.from(png.buffer, png.byteOffset, png.byteLength));
  } catch (err) {
    throw new ReportInputError(`heatmap PNG is not readable: ${(err as Error).message}`);
  }
  const { width, height, data } = decoded;
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < width * height; i++, j += 4) {
    const alpha = data[j + 3]! / 255;
    rgb[i * 3] = Math.round(data[j]! * alpha);
    rgb[i * 3 + 1] = Math.round(data[j + 1]! * alpha);
    rgb[i * 3 + 2] = Math.round(data[j + 2]! * alpha);
  }
  return { rows: height, columns: width, rgb };
}

function validate(image: RgbImage, referencedT11: ImageReference, uids: { seriesInstanceUID: string; sopInstanceUID: string }, input: ReportInput): void {
  const { rows, columns, rgb } = image;
  if (!Number.isInteger(rows) || !Number.isInteger(columns) || rows < 1 || columns < 1 || rows > 65535 || columns > 65535) {
    throw new ReportInputError(`heatmap image size ${rows}x${columns} is not a valid DICOM Rows/Columns`);
  }
  if (rgb.length !== rows * columns * 3) {
    throw new ReportInputError(`heatmap rgb has ${rgb.length} bytes, expected rows*columns*3 = ${rows * columns * 3}`);
  }
  for (const [field, uid] of [
    ['referencedT11.sopClassUID', referencedT11.sopClassUID],
    ['referencedT11.sopInstanceUID', referencedT11.sopInstanceUID],
    ['uids.seriesInstanceUID', uids.seriesInstanceUID],
    ['uids.sopInstanceUID', uids.sopInstanceUID],
    ['source.studyInstanceUID', input.source.studyInstanceUID],
  ] as const) {
    if (!isValidUid(uid)) throw new ReportInputError(`${field} is not a valid DICOM UID`);
  }
}

export function buildHeatmapSecondaryCapture(
  input: ReportInput,
  image: RgbImage,
  referencedT11: ImageReference,
  uids: { seriesInstanceUID: string; sopInstanceUID: string },
): DicomObject {
  validate(image, referencedT11, uids, input);
  const labelled = burnInLabel(image.rgb, image.rows, image.columns, BURNED_IN_LABEL);
  // OB values must have even length; an odd rows*columns*3 gets one pad byte.
  const pixels = new Uint8Array(labelled.length + (labelled.length % 2));
  pixels.set(labelled);
  const model = input.risk ? `${input.risk.modelName} ${input.risk.modelVersion}` : 'risk model';

  const dataset: NaturalDataset = {
    ...patientAndStudyModules(input),
    // General Series: "OT" because this is a rendered picture, not CT data.
    Modality: 'OT',
    SeriesInstanceUID: uids.seriesInstanceUID,
    SeriesNumber: HEATMAP_SERIES_NUMBER,
    // Type 2C (paired body part): a trunk slice has no laterality, so present and empty.
    Laterality: '',
    SeriesDescription: HEATMAP_SERIES_DESCRIPTION,
    SeriesDate: input.contentDate,
    SeriesTime: input.contentTime,
    // General Equipment + SC Equipment
    Manufacturer: input.software.manufacturer,
    ManufacturerModelName: input.software.modelName,
    SoftwareVersions: input.software.version,
    DeviceSerialNumber: input.software.deviceSerialNumber,
    InstitutionName: input.institutionName,
    ConversionType: 'WSD',
    SecondaryCaptureDeviceManufacturer: input.software.manufacturer,
    SecondaryCaptureDeviceManufacturerModelName: input.software.modelName,
    SecondaryCaptureDeviceSoftwareVersions: input.software.version,
    DateOfSecondaryCapture: input.contentDate,
    TimeOfSecondaryCapture: input.contentTime,
    // General Image
    InstanceNumber: 1,
    // Type 2: left empty because the rendered crop's orientation is the model's, not verified here.
    PatientOrientation: '',
    ContentDate: input.contentDate,
    ContentTime: input.contentTime,
    ImageType: ['DERIVED', 'SECONDARY'],
    BurnedInAnnotation: 'YES',
    LossyImageCompression: '00',
    DerivationDescription: `Grad-CAM heatmap of ${model} overlaid on the T11 CT slice. ${RESEARCH_USE_STATEMENT}`.slice(0, 1024),
    ImageComments: `Grad-CAM heatmap (${model}). ${RESEARCH_USE_STATEMENT}`,
    SourceImageSequence: [
      {
        ReferencedSOPClassUID: referencedT11.sopClassUID,
        ReferencedSOPInstanceUID: referencedT11.sopInstanceUID,
        PurposeOfReferenceCodeSequence: [codeItem(PURPOSE_SOURCE_IMAGE)],
      },
    ],
    ReferencedImageSequence: [
      { ReferencedSOPClassUID: referencedT11.sopClassUID, ReferencedSOPInstanceUID: referencedT11.sopInstanceUID },
    ],
    // Image Pixel
    SamplesPerPixel: 3,
    PhotometricInterpretation: 'RGB',
    PlanarConfiguration: 0,
    Rows: image.rows,
    Columns: image.columns,
    BitsAllocated: 8,
    BitsStored: 8,
    HighBit: 7,
    PixelRepresentation: 0,
    PixelData: [pixels.buffer],
    _vrMap: { PixelData: 'OB' },
    // SOP Common
    SOPClassUID: SECONDARY_CAPTURE_SOP_CLASS,
    SOPInstanceUID: uids.sopInstanceUID,
    InstanceCreationDate: input.contentDate,
    InstanceCreationTime: input.contentTime,
  };
  return {
    sopClassUID: SECONDARY_CAPTURE_SOP_CLASS,
    sopInstanceUID: uids.sopInstanceUID,
    seriesInstanceUID: uids.seriesInstanceUID,
    studyInstanceUID: input.source.studyInstanceUID,
    transferSyntaxUID: EXPLICIT_VR_LITTLE_ENDIAN,
    bytes: writePart10(dataset, input.software.version),
  };
}
