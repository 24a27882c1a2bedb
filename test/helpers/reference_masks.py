"""Samples a NIfTI label map onto DICOM slice grids (nearest voxel through both affines).

Usage: /usr/bin/python3 reference_masks.py NIFTI LABELS OUT_RAW DICOM_FILE...
  LABELS: comma-separated label ids that make the mask (e.g. 86,87), or 'nonzero'.
Writes one uint8 0/1 mask per DICOM file (rows*columns, row-major, file order) to OUT_RAW and prints
{"rows":..,"columns":..,"slices":..} on stdout. Used by the tests only (nibabel/pydicom are Debian's).
"""
import json
import sys

import nibabel as nib
import numpy as np
import pydicom

nifti_path, labels_arg, out_path, *dicom_files = sys.argv[1:]
img = nib.load(nifti_path)
data = np.asanyarray(img.dataobj)
inv = np.linalg.inv(img.affine)
if labels_arg == 'nonzero':
    sel = data != 0
else:
    sel = np.isin(data, [int(x) for x in labels_arg.split(',')])

chunks = []
rows = cols = None
for f in dicom_files:
    ds = pydicom.dcmread(f, stop_before_pixels=True)
    rows, cols = int(ds.Rows), int(ds.Columns)
    ipp = np.array([float(v) for v in ds.ImagePositionPatient])
    iop = [float(v) for v in ds.ImageOrientationPatient]
    row_dir, col_dir = np.array(iop[:3]), np.array(iop[3:])
    dr, dc = [float(v) for v in ds.PixelSpacing]
    r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing='ij')
    lps = ipp[None, None, :] + r[..., None] * dr * col_dir + c[..., None] * dc * row_dir
    ras = lps * np.array([-1.0, -1.0, 1.0])
    ijk = np.rint(np.einsum('ab,hwb->hwa', inv[:3, :3], ras) + inv[:3, 3]).astype(int)
    ok = np.all((ijk >= 0) & (ijk < np.array(sel.shape)), axis=-1)
    m = np.zeros((rows, cols), dtype=np.uint8)
    ii, jj, kk = ijk[..., 0][ok], ijk[..., 1][ok], ijk[..., 2][ok]
    m[ok] = sel[ii, jj, kk]
    chunks.append(m.tobytes())
with open(out_path, 'wb') as fh:
    for ch in chunks:
        fh.write(ch)
print(json.dumps({'rows': rows, 'columns': cols, 'slices': len(chunks)}))
