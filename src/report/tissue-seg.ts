/**
 * DICOM Segmentation (binary, 1.2.840.10008.5.1.4.1.1.66.4) of the three measured tissues on the
 * T11 slice, so a viewer can overlay exactly what was counted. One frame per segment, all on the
 * referenced CT image's pixel grid. Pure: masks and the T11 header bytes in, Part 10 bytes out.
 */
import type { TissueMasks } from '../analysis/types.ts';
import * as C from './codes.ts';
import type { CodedConcept } from './codes.ts';
import { patientAndStudyModules, privateCodingSchemeIdentification } from './modules.ts';
import { codeItem, EXPLICIT_VR_LITTLE_ENDIAN, writePart10, type NaturalDataset } from './part10.ts';
import { formatDecimalString } from './sr-content.ts';
import { imageGeometryFromDicom, type SourceImageGeometry } from './source-context.ts';
import type { DicomObject, ReportInput } from './types.ts';
import { derivedUid, isValidUid } from './uids.ts';
import { ReportInputError } from './validate.ts';

export const SEGMENTATION_SOP_CLASS = '1.2.840.10008.5.1.4.1.1.66.4';
export const SEG_SERIES_NUMBER = 9103;
export const SEG_SERIES_DESCRIPTION = 'bonemet T11 tissue segmentation (research use)';

/** Tags used as dimension pointers (AT values are written as the 32-bit tag number). */
const TAG_REFERENCED_SEGMENT_NUMBER = 0x0062000b;
const TAG_SEGMENT_IDENTIFICATION_SEQUENCE = 0x0062000a;
const TAG_IMAGE_POSITION_PATIENT = 0x00200032;
const TAG_PLANE_POSITION_SEQUENCE = 0x00209113;

interface SegmentSpec {
  label: string;
  category: CodedConcept;
  type: CodedConcept;
  mask: (m: TissueMasks) => Uint8Array;
  /** CIELab (DICOM scaled 0..65535), so viewers colour the tissues the same way everywhere. */
  cieLab: [number, number, number];
}

const SEGMENTS: readonly SegmentSpec[] = [
  { label: 'Subcutaneous adipose tissue', category: C.CATEGORY_TISSUE, type: C.SUBCUTANEOUS_ADIPOSE_TISSUE, mask: (m) => m.subcutaneousFat, cieLab: [58000, 33000, 52000] },
  { label: 'Visceral adipose tissue', category: C.CATEGORY_TISSUE, type: C.VISCERAL_ADIPOSE_TISSUE, mask: (m) => m.visceralFat, cieLab: [50000, 41000, 56000] },
  { label: 'Erector spinae muscle', category: C.CATEGORY_ANATOMICAL_STRUCTURE, type: C.ERECTOR_SPINAE_MUSCLE, mask: (m) => m.erectorSpinae, cieLab: [35000, 50000, 40000] },
];

/** Pack 0/1 frames into one bit stream: pixel i of the whole multi-frame at bit i, LSB first. */
export function packBinaryFrames(frames: Uint8Array[]): Uint8Array {
  const total = frames.reduce((n, f) => n + f.length, 0);
  const byteLength = Math.ceil(total / 8);
  const packed = new Uint8Array(byteLength + (byteLength % 2)); // OB values have even length
  let bit = 0;
  for (const frame of frames) {
    for (let i = 0; i < frame.length; i++, bit++) {
      if (frame[i]) packed[bit >> 3]! |= 1 << (bit & 7);
    }
  }
  return packed;
}

function ds(value: number, decimals = 6): string {
  return formatDecimalString(value, decimals);
}

function validateMasks(masks: TissueMasks, geometry: SourceImageGeometry): void {
  if (masks.rows !== geometry.rows || masks.columns !== geometry.columns) {
    throw new ReportInputError(
      `tissue masks are ${masks.rows}x${masks.columns} but the referenced image is ${geometry.rows}x${geometry.columns}`,
    );
  }
  for (const s of SEGMENTS) {
    if (s.mask(masks).length !== masks.rows * masks.columns) {
      throw new ReportInputError(`mask "${s.label}" has ${s.mask(masks).length} values, expected rows*columns`);
    }
  }
}

/**
 * @param t11ImageP10 the source CT instance the masks were computed on (header is enough;
 *   pass an ArrayBuffer holding exactly the file)
 */
export function buildTissueSegmentation(
  input: ReportInput,
  masks: TissueMasks,
  t11ImageP10: ArrayBuffer,
  uids: { seriesInstanceUID: string; sopInstanceUID: string },
): DicomObject {
  if (!isValidUid(uids.seriesInstanceUID)) throw new ReportInputError('uids.seriesInstanceUID is not a valid DICOM UID');
  if (!isValidUid(uids.sopInstanceUID)) throw new ReportInputError('uids.sopInstanceUID is not a valid DICOM UID');
  const g = imageGeometryFromDicom(t11ImageP10);
  if (g.seriesInstanceUID !== input.source.seriesInstanceUID) {
    throw new ReportInputError('the referenced T11 image is not from the analysed source series');
  }
  const measured = input.analysis.measuredSlice;
  if (measured && measured.sopInstanceUID !== g.sopInstanceUID) {
    throw new ReportInputError('the referenced image is not the measured T11 slice');
  }
  validateMasks(masks, g);
  const sw = input.software;
  const alg = input.analysis.algorithm;
  const sourceImage = { ReferencedSOPClassUID: g.sopClassUID, ReferencedSOPInstanceUID: g.sopInstanceUID };
  const dimensionOrganizationUID = derivedUid(uids.sopInstanceUID, 'dimension-organization');

  const dataset: NaturalDataset = {
    ...patientAndStudyModules(input),
    // General/Segmentation Series
    Modality: 'SEG',
    SeriesInstanceUID: uids.seriesInstanceUID,
    SeriesNumber: SEG_SERIES_NUMBER,
    SeriesDescription: SEG_SERIES_DESCRIPTION,
    SeriesDate: input.contentDate,
    SeriesTime: input.contentTime,
    // Frame of Reference: the CT's, so the segmentation lands on the CT in any viewer
    FrameOfReferenceUID: g.frameOfReferenceUID,
    PositionReferenceIndicator: '',
    // General + Enhanced General Equipment (all Type 1 for SEG)
    Manufacturer: sw.manufacturer || 'bonemet project',
    ManufacturerModelName: sw.modelName || 'bonemet',
    DeviceSerialNumber: sw.deviceSerialNumber || 'unspecified',
    SoftwareVersions: sw.version || 'unspecified',
    InstitutionName: input.institutionName,
    // General Image / Segmentation Image
    InstanceNumber: 1,
    ContentDate: input.contentDate,
    ContentTime: input.contentTime,
    ImageType: ['DERIVED', 'PRIMARY'],
    ContentLabel: 'T11_TISSUE',
    ContentDescription: `T11 tissue masks (${alg.name} ${alg.version}). ${C.RESEARCH_USE_STATEMENT}`.slice(0, 64),
    ContentCreatorName: '',
    SegmentationType: 'BINARY',
    LossyImageCompression: '00',
    SegmentSequence: SEGMENTS.map((s, i) => ({
      SegmentNumber: i + 1,
      SegmentLabel: s.label,
      SegmentedPropertyCategoryCodeSequence: [codeItem(s.category)],
      SegmentedPropertyTypeCodeSequence: [codeItem(s.type)],
      AnatomicRegionSequence: [codeItem(C.T11_VERTEBRA)],
      SegmentAlgorithmType: 'AUTOMATIC',
      SegmentAlgorithmName: `${alg.name} ${alg.version}`.trim() || 'bonemet',
      RecommendedDisplayCIELabValue: s.cieLab,
    })),
    // Image Pixel (1-bit)
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: g.rows,
    Columns: g.columns,
    BitsAllocated: 1,
    BitsStored: 1,
    HighBit: 0,
    PixelRepresentation: 0,
    NumberOfFrames: SEGMENTS.length,
    PixelData: [packBinaryFrames(SEGMENTS.map((s) => s.mask(masks))).buffer],
    _vrMap: { PixelData: 'OB' },
    // Multi-frame Dimension
    DimensionOrganizationSequence: [{ DimensionOrganizationUID: dimensionOrganizationUID }],
    DimensionOrganizationType: '3D',
    DimensionIndexSequence: [
      {
        DimensionOrganizationUID: dimensionOrganizationUID,
        DimensionIndexPointer: TAG_REFERENCED_SEGMENT_NUMBER,
        FunctionalGroupPointer: TAG_SEGMENT_IDENTIFICATION_SEQUENCE,
        DimensionDescriptionLabel: 'ReferencedSegmentNumber',
      },
      {
        DimensionOrganizationUID: dimensionOrganizationUID,
        DimensionIndexPointer: TAG_IMAGE_POSITION_PATIENT,
        FunctionalGroupPointer: TAG_PLANE_POSITION_SEQUENCE,
        DimensionDescriptionLabel: 'ImagePositionPatient',
      },
    ],
    // Multi-frame Functional Groups: geometry and source shared, segment number per frame
    SharedFunctionalGroupsSequence: [
      {
        PixelMeasuresSequence: [
          {
            PixelSpacing: g.pixelSpacing.map((v) => ds(v)),
            ...(g.sliceThicknessMm !== null ? { SliceThickness: ds(g.sliceThicknessMm) } : {}),
          },
        ],
        PlaneOrientationSequence: [{ ImageOrientationPatient: g.imageOrientationPatient.map((v) => ds(v)) }],
        PlanePositionSequence: [{ ImagePositionPatient: g.imagePositionPatient.map((v) => ds(v)) }],
        DerivationImageSequence: [
          {
            SourceImageSequence: [{ ...sourceImage, PurposeOfReferenceCodeSequence: [codeItem(C.PURPOSE_SOURCE_IMAGE)] }],
            DerivationCodeSequence: [codeItem(C.DERIVATION_SEGMENTATION)],
          },
        ],
      },
    ],
    PerFrameFunctionalGroupsSequence: SEGMENTS.map((_, i) => ({
      FrameContentSequence: [{ DimensionIndexValues: [i + 1, 1] }],
      SegmentIdentificationSequence: [{ ReferencedSegmentNumber: i + 1 }],
    })),
    // Common Instance Reference
    ReferencedSeriesSequence: [
      { SeriesInstanceUID: g.seriesInstanceUID, ReferencedInstanceSequence: [sourceImage] },
    ],
    // SOP Common
    SOPClassUID: SEGMENTATION_SOP_CLASS,
    SOPInstanceUID: uids.sopInstanceUID,
    CodingSchemeIdentificationSequence: privateCodingSchemeIdentification(),
    InstanceCreationDate: input.contentDate,
    InstanceCreationTime: input.contentTime,
  };
  return {
    sopClassUID: SEGMENTATION_SOP_CLASS,
    sopInstanceUID: uids.sopInstanceUID,
    seriesInstanceUID: uids.seriesInstanceUID,
    studyInstanceUID: input.source.studyInstanceUID,
    transferSyntaxUID: EXPLICIT_VR_LITTLE_ENDIAN,
    bytes: writePart10(dataset, input.software.version),
  };
}
