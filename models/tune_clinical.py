"""Hyper-parameter and feature-set search for the clinical GBDT, in repeated stratified CV on TRAIN only.

Run: /usr/bin/python3 models/tune_clinical.py   (about 3-5 min on 1 core)
Writes models/artifacts/clinical-tuning.json; the chosen setting is copied by hand into train.py's
CLINICAL_GBDT (so `npm run train` does not re-run the search, and the choice is visible in review).
Note: the best CV AUC of a search is optimistic (selection on the same folds); the model card
reports it next to the untuned default's AUC and the val split cannot help here (no val clinical data).
"""
from __future__ import annotations

import itertools
import os
import sys
import time

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.metrics import roc_auc_score

sys.path.insert(0, os.path.dirname(__file__))
from common import CLINICAL_BASE, SEED, WORK, Json, clean_clinical, cv_splits, load_train_clinical  # noqa: E402

# PMI/T4 is cleaned first (common.clean_clinical: 62 all-negative rows have PMI == PMA, an artefact).
# With the raw PMI the best CV AUC was 0.849 (base19+vfa); without the artefact it is far lower.
NO_PMI = [c for c in CLINICAL_BASE if c != 'pmi_t4_cm2_m2']
FEATURE_SETS = {
    'base19': CLINICAL_BASE,
    'base19+vfa': CLINICAL_BASE + ['vfa_t11_cm2'],
    'base18-pmi': NO_PMI,
    'base18-pmi+vfa': NO_PMI + ['vfa_t11_cm2'],
}
STAGES = [50, 100, 150, 200, 300, 400, 600]


def main() -> None:
    df, n_fixed = clean_clinical(load_train_clinical())
    print(f'PMI/T4 inconsistent with PMA/T4 in {n_fixed} rows: recomputed from PMA')
    y = df['label'].to_numpy()
    splits = cv_splits(y, n_splits=5, n_repeats=int(os.environ.get('REPEATS', '3')))
    results = []
    t0 = time.time()
    grid = list(itertools.product(FEATURE_SETS, [0.02, 0.05], [1, 2, 3], [0.6, 1.0]))
    for fs, lr, depth, sub in grid:
        X = df[FEATURE_SETS[fs]].to_numpy(dtype=float)
        # oof[stage][repeat] -> predictions
        n_rep = len(splits) // 5
        oof = {s: np.zeros((n_rep, len(y))) for s in STAGES}
        for k, (tr, te) in enumerate(splits):
            m = GradientBoostingClassifier(learning_rate=lr, max_depth=depth, subsample=sub,
                                           n_estimators=max(STAGES), random_state=SEED)
            m.fit(X[tr], y[tr])
            for i, p in enumerate(m.staged_predict_proba(X[te])):
                if i + 1 in oof:
                    oof[i + 1][k // 5, te] = p[:, 1]
        for s in STAGES:
            aucs = [roc_auc_score(y, oof[s][r]) for r in range(n_rep)]
            results.append({'features': fs, 'learning_rate': lr, 'max_depth': depth, 'subsample': sub,
                            'n_estimators': s, 'auc': float(np.mean(aucs)), 'auc_sd': float(np.std(aucs))})
        best = max((r for r in results if r['features'] == fs and r['learning_rate'] == lr
                    and r['max_depth'] == depth and r['subsample'] == sub), key=lambda r: r['auc'])
        print(f'{fs:16s} lr={lr:<5} depth={depth} sub={sub:<4} best n={best["n_estimators"]:<4} '
              f'AUC={best["auc"]:.4f}  ({time.time() - t0:.0f}s)', flush=True)
    results.sort(key=lambda r: -r['auc'])
    print('top 10:')
    for r in results[:10]:
        print(r)
    Json(os.path.join(WORK, 'clinical-tuning.json')).write({'top': results[:30], 'all': results})


if __name__ == '__main__':
    main()
