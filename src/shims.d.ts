// dcmjs and the cornerstone codecs ship no type declarations (no @types package exists).
declare module 'dcmjs';
declare module '@cornerstonejs/dicom-codec';
declare module 'xhr2';
