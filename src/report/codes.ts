/**
 * Coded concepts used in the derived DICOM objects and the ORU message (highdicom style:
 * every code is a typed constant here, never an inline string in the builders).
 *
 * Sources: DICOM PS3.16 (DCM codes, TID 1500/1501/4019 rows), SNOMED CT anatomy codes as used in
 * DICOM CID 7603 (vertebrae) and public segmentation code maps. Where no standard concept fits
 * (the height-normalised indices SFI/VFI/ESMI, visceral fat inside the trunk wall, our risk model)
 * the private scheme 99BONEMET is used; DICOM reserves "99" prefixed designators for private schemes.
 */

export interface CodedConcept {
  value: string;
  scheme: string;
  meaning: string;
}

const code = (value: string, scheme: string, meaning: string): CodedConcept =>
  Object.freeze({ value, scheme, meaning });

/** Private coding scheme for concepts with no standard code (documented in README/model card). */
export const PRIVATE_SCHEME = '99BONEMET';

// ---- TID 1500 document structure (DCM) ----
export const IMAGING_MEASUREMENT_REPORT = code('126000', 'DCM', 'Imaging Measurement Report');
export const LANGUAGE_OF_CONTENT = code('121049', 'DCM', 'Language of Content Item and Descendants');
export const COUNTRY_OF_LANGUAGE = code('121046', 'DCM', 'Country of Language');
export const LANGUAGE_ENGLISH = code('en', 'RFC5646', 'English');
export const COUNTRY_US = code('US', 'ISO3166_1', 'United States');
export const PROCEDURE_REPORTED = code('121058', 'DCM', 'Procedure reported');
/** LOINC "CT unspecified body region": the source may be a chest or a chest-abdomen CT. */
export const CT_UNSPECIFIED_BODY_REGION = code('25045-6', 'LN', 'CT unspecified body region');
export const IMAGE_LIBRARY = code('111028', 'DCM', 'Image Library');
export const IMAGE_LIBRARY_GROUP = code('126200', 'DCM', 'Image Library Group');
export const IMAGING_MEASUREMENTS = code('126010', 'DCM', 'Imaging Measurements');
export const MEASUREMENT_GROUP = code('125007', 'DCM', 'Measurement Group');
export const TRACKING_IDENTIFIER = code('112039', 'DCM', 'Tracking Identifier');
export const TRACKING_UNIQUE_IDENTIFIER = code('112040', 'DCM', 'Tracking Unique Identifier');
export const FINDING = code('121071', 'DCM', 'Finding');
export const FINDING_SITE = code('363698007', 'SCT', 'Finding Site');
/** TID 1500 row 10 uses the UMLS concept for the qualitative-evaluation container. */
export const QUALITATIVE_EVALUATIONS = code('C0034375', 'UMLS', 'Qualitative Evaluations');
export const SOURCE_OF_MEASUREMENT = code('121112', 'DCM', 'Source of Measurement');

// ---- Observer context (TID 1002/1004: device observer) ----
export const OBSERVER_TYPE = code('121005', 'DCM', 'Observer Type');
export const OBSERVER_TYPE_DEVICE = code('121007', 'DCM', 'Device');
export const DEVICE_OBSERVER_UID = code('121012', 'DCM', 'Device Observer UID');
export const DEVICE_OBSERVER_NAME = code('121013', 'DCM', 'Device Observer Name');
export const DEVICE_OBSERVER_MANUFACTURER = code('121014', 'DCM', 'Device Observer Manufacturer');
export const DEVICE_OBSERVER_MODEL_NAME = code('121015', 'DCM', 'Device Observer Model Name');
export const DEVICE_OBSERVER_SERIAL_NUMBER = code('121016', 'DCM', 'Device Observer Serial Number');

// ---- Algorithm identification (TID 4019) ----
export const ALGORITHM_NAME = code('111001', 'DCM', 'Algorithm Name');
export const ALGORITHM_VERSION = code('111003', 'DCM', 'Algorithm Version');
export const ALGORITHM_PARAMETERS = code('111002', 'DCM', 'Algorithm Parameters');

// ---- Anatomy and findings (SCT) ----
/**
 * T11 vertebra, SCT 12989004 (DICOM CID 7603). Note: SCT 23215003, suggested in the brief, is the
 * T12 vertebra in CID 7603; the code was checked against the DICOM-terminology FHIR value set.
 */
export const T11_VERTEBRA = code('12989004', 'SCT', 'T11 vertebra');
export const SUBCUTANEOUS_ADIPOSE_TISSUE = code('727176007', 'SCT', 'Entire subcutaneous fatty tissue');
/**
 * Private: SCT has "Entire adipose tissue of abdomen" (725274000), but that includes subcutaneous
 * fat, and at T11 the compartment inside the wall is both thoracic and abdominal.
 */
export const VISCERAL_ADIPOSE_TISSUE = code('VAT', PRIVATE_SCHEME, 'Visceral adipose tissue (inside the trunk wall)');
export const ERECTOR_SPINAE_MUSCLE = code('44947003', 'SCT', 'Erector spinae muscle');

// ---- Measurement concepts ----
export const AREA = code('42798000', 'SCT', 'Area');
/** Private: no standard concept for "area / height^2" body-composition indices. */
export const SUBCUTANEOUS_FAT_INDEX = code('SFI', PRIVATE_SCHEME, 'Subcutaneous fat index (area/height squared)');
export const VISCERAL_FAT_INDEX = code('VFI', PRIVATE_SCHEME, 'Visceral fat index (area/height squared)');
export const ERECTOR_SPINAE_MUSCLE_INDEX = code('ESMI', PRIVATE_SCHEME, 'Erector spinae muscle index (area/height squared)');

// ---- Qualitative evaluations / level finding ----
export const LEVEL_CONFIDENCE = code('LEVELCONF', PRIVATE_SCHEME, 'T11 level-finder confidence');
export const LEVEL_SOURCE = code('LEVELSRC', PRIVATE_SCHEME, 'T11 level source');
export const LEVEL_PARTIAL = code('LEVELPART', PRIVATE_SCHEME, 'T11 vertebral body cut by the field of view');
export const ASSESSABLE = code('ASSESSABLE', PRIVATE_SCHEME, 'T11 body composition assessable');
export const NOT_ASSESSABLE_REASON = code('NOTASSESSWHY', PRIVATE_SCHEME, 'Reason not assessable');
export const MEASURED_SLICE_Z = code('SLICEZ', PRIVATE_SCHEME, 'Measured slice position (z)');
export const COMMENT = code('121106', 'DCM', 'Comment');
export const HEIGHT_SOURCE = code('HEIGHTSRC', PRIVATE_SCHEME, 'Source of body height');
export const BODY_HEIGHT = code('8302-2', 'LN', 'Body height');

export const YES = code('373066001', 'SCT', 'Yes');
export const NO = code('373067005', 'SCT', 'No');

// ---- Numeric value qualifiers (CID 42) ----
export const MEASUREMENT_NOT_ATTEMPTED = code('114007', 'DCM', 'Measurement not attempted');

// ---- Risk model (research) ----
export const METASTASIS_RISK_PROBABILITY = code('RISKP', PRIVATE_SCHEME, 'Predicted probability of metastasis (research model)');
export const RISK_THRESHOLD = code('RISKTHR', PRIVATE_SCHEME, 'Risk model decision threshold');
export const RISK_HIGH = code('RISKHIGH', PRIVATE_SCHEME, 'Probability at or above threshold');
export const RISK_INPUTS_USED = code('RISKINPUTS', PRIVATE_SCHEME, 'Risk model inputs used');
export const PUBLISHED_EVIDENCE = code('PUBEVID', PRIVATE_SCHEME, 'Published evidence (Miao et al. 2023), not this model');
export const SFI_CUTOFF_CATEGORY = code('SFICAT', PRIVATE_SCHEME, 'SFI category vs published cut-off');
export const SFI_CUTOFF = code('SFICUT', PRIVATE_SCHEME, 'Published SFI cut-off');
export const RELATIVE_HAZARD = code('RELHAZ', PRIVATE_SCHEME, 'Relative hazard from published Cox model');
export const RESEARCH_USE_ONLY = code('RUO', PRIVATE_SCHEME, 'Research use only');
/** The wording used wherever RESEARCH_USE_ONLY is reported (SR, ORU, heatmap image comments). */
export const RESEARCH_USE_STATEMENT =
  'Research use only. Not a medical device; not for diagnosis or treatment decisions.';
export const CORRECTION_NOTE = code('CORRECTION', PRIVATE_SCHEME, 'Correction of an earlier report');

// ---- Segmentation (CID 7150 categories, CID 7203 derivation) ----
export const CATEGORY_TISSUE = code('85756007', 'SCT', 'Tissue');
export const CATEGORY_ANATOMICAL_STRUCTURE = code('123037004', 'SCT', 'Anatomical Structure');
export const DERIVATION_SEGMENTATION = code('113076', 'DCM', 'Segmentation');

// ---- UCUM units ----
export const UNIT_CM2 = code('cm2', 'UCUM', 'square centimeter');
export const UNIT_CM2_PER_M2 = code('cm2/m2', 'UCUM', 'square centimeter per square meter');
export const UNIT_ONE = code('1', 'UCUM', 'no units');
export const UNIT_MM = code('mm', 'UCUM', 'millimeter');
export const UNIT_M = code('m', 'UCUM', 'meter');

// ---- DICOM derivation / secondary capture ----
export const PURPOSE_SOURCE_IMAGE = code('121322', 'DCM', 'Source image for image processing operation');
