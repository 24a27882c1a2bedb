/**
 * Builders for SR content items (PS3.3 C.17.3) as dcmjs naturalized datasets. One function per
 * value type, so the template code in sr.ts reads like the template table it implements.
 */
import type { CodedConcept } from './codes.ts';
import { MEASUREMENT_NOT_ATTEMPTED } from './codes.ts';
import { codeItem, type NaturalDataset } from './part10.ts';

export type RelationshipType =
  | 'CONTAINS'
  | 'HAS PROPERTIES'
  | 'HAS OBS CONTEXT'
  | 'HAS ACQ CONTEXT'
  | 'INFERRED FROM'
  | 'SELECTED FROM'
  | 'HAS CONCEPT MOD';

export type ContentItem = NaturalDataset;

function base(relationship: RelationshipType | null, valueType: string, concept: CodedConcept): ContentItem {
  const item: ContentItem = { ValueType: valueType, ConceptNameCodeSequence: [codeItem(concept)] };
  if (relationship) item['RelationshipType'] = relationship;
  return item;
}

function withChildren(item: ContentItem, children: ContentItem[]): ContentItem {
  if (children.length > 0) item['ContentSequence'] = children;
  return item;
}

/** LT/UT limits would still allow more, but TEXT values longer than this are a bug upstream. */
const MAX_TEXT = 1024;

export function container(
  relationship: RelationshipType | null,
  concept: CodedConcept,
  children: ContentItem[],
): ContentItem {
  return withChildren({ ...base(relationship, 'CONTAINER', concept), ContinuityOfContent: 'SEPARATE' }, children);
}

export function text(
  relationship: RelationshipType,
  concept: CodedConcept,
  value: string,
  children: ContentItem[] = [],
): ContentItem {
  if (value.length === 0) throw new Error(`SR TEXT "${concept.meaning}" is empty`);
  return withChildren({ ...base(relationship, 'TEXT', concept), TextValue: value.slice(0, MAX_TEXT) }, children);
}

export function codeValue(
  relationship: RelationshipType,
  concept: CodedConcept,
  value: CodedConcept,
  children: ContentItem[] = [],
): ContentItem {
  return withChildren({ ...base(relationship, 'CODE', concept), ConceptCodeSequence: [codeItem(value)] }, children);
}

export function uidRef(relationship: RelationshipType, concept: CodedConcept, uid: string): ContentItem {
  return { ...base(relationship, 'UIDREF', concept), UID: uid };
}

/**
 * DS holds at most 16 characters: round to a sensible number of decimals and never emit
 * exponent notation or "-0".
 */
export function formatDecimalString(value: number, decimals: number): string {
  if (!Number.isFinite(value)) throw new Error(`cannot encode non-finite number ${value} as DS`);
  let s = value.toFixed(decimals);
  if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
  if (s === '-0') s = '0';
  if (s.length > 16) throw new Error(`number ${value} does not fit a DS value`);
  return s;
}

export function num(
  relationship: RelationshipType,
  concept: CodedConcept,
  value: number,
  unit: CodedConcept,
  decimals: number,
  children: ContentItem[] = [],
): ContentItem {
  return withChildren(
    {
      ...base(relationship, 'NUM', concept),
      MeasuredValueSequence: [
        { NumericValue: formatDecimalString(value, decimals), MeasurementUnitsCodeSequence: [codeItem(unit)] },
      ],
    },
    children,
  );
}

/**
 * A NUM whose value could not be produced: empty Measured Value Sequence plus a Numeric Value
 * Qualifier (PS3.3 C.18.1), so a reader sees the concept and why it has no number.
 */
export function numNotAvailable(
  relationship: RelationshipType,
  concept: CodedConcept,
  qualifier: CodedConcept = MEASUREMENT_NOT_ATTEMPTED,
  children: ContentItem[] = [],
): ContentItem {
  return withChildren(
    {
      ...base(relationship, 'NUM', concept),
      MeasuredValueSequence: [],
      NumericValueQualifierCodeSequence: [codeItem(qualifier)],
    },
    children,
  );
}

export function image(
  relationship: RelationshipType,
  concept: CodedConcept | null,
  ref: { sopClassUID: string; sopInstanceUID: string },
): ContentItem {
  const item: ContentItem = {
    RelationshipType: relationship,
    ValueType: 'IMAGE',
    ReferencedSOPSequence: [{ ReferencedSOPClassUID: ref.sopClassUID, ReferencedSOPInstanceUID: ref.sopInstanceUID }],
  };
  if (concept) item['ConceptNameCodeSequence'] = [codeItem(concept)];
  return item;
}
