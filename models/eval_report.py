"""Evaluation report of the shipped model (called by `npm run eval:cohort`, models/eval-cohort.ts).

Inputs: models/shipped/cv-predictions.json (out-of-fold CV predictions on train, written by train.py),
        models/shipped/manifest.json (thresholds), and a val prediction CSV made by the TypeScript
        serving path (bonemet cohort-predict) with val labels from the shared cohort.
Prints AUC (DeLong 95 % CI), sensitivity and specificity at the shipped thresholds; writes ROC and
calibration plots (PNG) next to the model and a JSON summary.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.calibration import calibration_curve  # noqa: E402
from sklearn.metrics import brier_score_loss, roc_curve  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from common import SHIPPED, delong_auc_ci, load_val_labels, sens_spec  # noqa: E402


def line(name: str, y, p, t) -> dict:
    y, p = np.asarray(y), np.asarray(p, dtype=float)
    auc, lo, hi = delong_auc_ci(y, p)
    se, sp = sens_spec(y, p, t)
    print(f'  {name:38s} n={len(y):3d} ({int(y.sum()):2d}+)  AUC {auc:.3f} [{lo:.3f}, {hi:.3f}]  '
          f'sens {se:.2f} spec {sp:.2f} @ {t:.3f}  Brier {brier_score_loss(y, p):.3f}')
    return {'n': int(len(y)), 'n_pos': int(y.sum()), 'auc': auc, 'ci95': [lo, hi], 'threshold': t,
            'sensitivity': se, 'specificity': sp, 'brier': float(brier_score_loss(y, p))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('--model-dir', default=SHIPPED)
    ap.add_argument('--val-csv', required=True, help='cohort-predict output for the val split')
    ap.add_argument('--plots', default=None, help='folder for PNGs (default: the model dir)')
    args = ap.parse_args()
    plots = args.plots or args.model_dir
    manifest = json.load(open(os.path.join(args.model_dir, 'manifest.json')))
    cvp = json.load(open(os.path.join(args.model_dir, 'cv-predictions.json')))
    thr = {'image': manifest['image']['threshold'], 'clinical': manifest['clinical']['threshold'],
           'combined': manifest['combined']['threshold']}
    y_cv = np.array(cvp['train_labels'])
    summary: dict = {'cv': {}, 'val': {}}
    print('Cross-validation on train (out-of-fold; thresholds chosen on these same predictions):')
    curves = {}
    for key, name in [('image', 'image-only (CNN)'), ('clinical', 'clinical-only (GBDT)'), ('combined', 'combined (GBDT)')]:
        p = np.array(cvp[f'cv_p_{key}'])
        summary['cv'][key] = line(f'CV {name}', y_cv, p, thr[key])
        curves[f'CV {key}'] = (y_cv, p)

    labels = load_val_labels()
    pred = pd.read_csv(args.val_csv, dtype={'id': str})
    labels['id'] = labels['id'].astype(str)
    val = labels.merge(pred, on='id', how='left')
    missing = int(val['p_image'].isna().sum())
    print('Val split (60 patients, labels only: never used for fitting or selection; image-only):')
    if missing:
        print(f'  {missing} val images have no image probability (see the CSV warnings)')
    v = val.dropna(subset=['p_image'])
    summary['val']['image'] = line('VAL image-only (TS serving path)', v['label'], v['p_image'], thr['image'])
    curves['VAL image'] = (v['label'].to_numpy(), v['p_image'].to_numpy())
    if 'val_p_image' in cvp:
        py = pd.DataFrame({'id': [str(i) for i in cvp['val_ids']], 'p_py': cvp['val_p_image']})
        both = v.merge(py, on='id')
        diff = float(np.max(np.abs(both['p_image'] - both['p_py']))) if len(both) else float('nan')
        print(f'  TS serving vs python training p_image on val: max |diff| = {diff:.2e} over {len(both)} images')
        summary['val']['ts_vs_python_max_abs_diff'] = diff

    os.makedirs(plots, exist_ok=True)
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, (y, p) in curves.items():
        fpr, tpr, _ = roc_curve(y, p)
        auc, lo, hi = delong_auc_ci(y, p)
        ax.plot(fpr, tpr, label=f'{name}: {auc:.2f} [{lo:.2f}, {hi:.2f}]')
    ax.plot([0, 1], [0, 1], 'k:', lw=0.8)
    ax.set_xlabel('1 - specificity')
    ax.set_ylabel('sensitivity')
    ax.set_title('ROC (research use only)')
    ax.legend(fontsize=7, loc='lower right')
    fig.tight_layout()
    fig.savefig(os.path.join(plots, 'roc.png'), dpi=110)
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, (y, p) in curves.items():
        frac, mean_p = calibration_curve(y, p, n_bins=5, strategy='quantile')
        ax.plot(mean_p, frac, 'o-', label=name)
    ax.plot([0, 1], [0, 1], 'k:', lw=0.8)
    ax.set_xlabel('mean predicted probability (quintiles)')
    ax.set_ylabel('observed fraction with metastasis')
    ax.set_title('Calibration (research use only)')
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(plots, 'calibration.png'), dpi=110)
    with open(os.path.join(plots, 'eval-summary.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    print(f'plots: {os.path.join(plots, "roc.png")}, {os.path.join(plots, "calibration.png")}')


if __name__ == '__main__':
    main()
