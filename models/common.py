"""Shared pieces of the training recipe: data paths, the clinical feature list, CV splits, AUC CIs.

Everything here is deterministic (fixed seeds) so `npm run train` reproduces the shipped model.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import RepeatedStratifiedKFold

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
# Shared data is read in place (never copied into the project).
DATA = os.environ.get('BONEMET_COHORT_DIR', os.path.join(REPO, '..', 'shared', 'data', 'lf-dlrn-bc'))
WORK = os.path.join(REPO, 'models', 'artifacts')
SHIPPED = os.path.join(REPO, 'models', 'shipped')
SEED = 20231123

# The 19 clinicopathological columns the source authors used, in the CSV's order.
CLINICAL_BASE = [
    'age', 'tumor_size_cm', 'bmi', 'cea', 'pma_t4_cm2', 'pmi_t4_cm2_m2', 'menopause', 'n_stage', 'lvi',
    'multifocal', 'er', 'pr', 'her2', 'ki67', 'molecular_subtype', 'endocrine_therapy', 'radiotherapy',
    'chemotherapy', 'histologic_type',
]
# Categorical / binary columns: any value outside the training set's codes is rejected at serving time.
CATEGORICAL = ['menopause', 'n_stage', 'lvi', 'multifocal', 'er', 'pr', 'her2', 'molecular_subtype',
               'endocrine_therapy', 'radiotherapy', 'chemotherapy', 'histologic_type']


def load_train_clinical() -> pd.DataFrame:
    df = pd.read_csv(os.path.join(DATA, 'clinical', 'train.csv'))
    df = df.sort_values('id').reset_index(drop=True)
    return df


# Plausible height range for the PMI = PMA / height^2 consistency check (1.40 .. 1.90 m).
HEIGHT2_RANGE_M2 = (1.40 ** 2, 1.90 ** 2)


def clean_clinical(df: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Data-quality rule shared with src/model/clinical.ts: PMI/T4 must equal PMA/T4 / height^2 for a
    plausible height. In 62 train rows (all label 0, ids 149..232) PMI equals PMA, i.e. the height
    normalisation was skipped in the source; a model would learn "PMI == PMA means no metastasis",
    an artefact that cannot exist in live use. Such PMI values are replaced by PMA / median(height^2)
    of the consistent rows (the same rule the serving code applies, with a warning).
    Returns the cleaned frame and the number of rows changed."""
    df = df.copy()
    ratio = df['pma_t4_cm2'] / df['pmi_t4_cm2_m2']
    bad = ~ratio.between(*HEIGHT2_RANGE_M2)
    df.loc[bad, 'pmi_t4_cm2_m2'] = df.loc[bad, 'pma_t4_cm2'] / TRAIN_MEDIAN_HEIGHT2_M2
    return df, int(bad.sum())


# Median PMA/PMI over the 123 consistent train rows (= median height^2 in m^2); fixed so that
# serving and training use the same number.
TRAIN_MEDIAN_HEIGHT2_M2 = 2.5598802395209583


def load_val_labels() -> pd.DataFrame:
    return pd.read_csv(os.path.join(DATA, 'clinical', 'val_labels.csv')).sort_values('id').reset_index(drop=True)


def cv_splits(y: np.ndarray, n_splits: int = 5, n_repeats: int = 5, seed: int = SEED):
    """Repeated stratified K-fold on the train split only (model selection never sees val)."""
    rskf = RepeatedStratifiedKFold(n_splits=n_splits, n_repeats=n_repeats, random_state=seed)
    return list(rskf.split(np.zeros(len(y)), y))


# ---- DeLong AUC variance (Sun & Xu 2014 fast algorithm) ----------------------------------------

def _midrank(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind='mergesort')
    xs = x[order]
    n = len(x)
    ranks = np.zeros(n)
    i = 0
    while i < n:
        j = i
        while j < n and xs[j] == xs[i]:
            j += 1
        ranks[i:j] = 0.5 * (i + j - 1) + 1
        i = j
    out = np.empty(n)
    out[order] = ranks
    return out


def delong_auc_ci(y: np.ndarray, p: np.ndarray, alpha: float = 0.95) -> tuple[float, float, float]:
    """AUC with a DeLong 95 % CI (logit-free, clipped to [0, 1])."""
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=float)
    pos, neg = p[y == 1], p[y == 0]
    m, n = len(pos), len(neg)
    tx, ty, tz = _midrank(pos), _midrank(neg), _midrank(np.concatenate([pos, neg]))
    auc = (tz[:m].sum() - m * (m + 1) / 2) / (m * n)
    v01 = (tz[:m] - tx) / n
    v10 = 1.0 - (tz[m:] - ty) / m
    var = np.var(v01, ddof=1) / m + np.var(v10, ddof=1) / n
    z = stats.norm.ppf(1 - (1 - alpha) / 2)
    se = float(np.sqrt(max(var, 0.0)))
    return float(auc), float(max(0.0, auc - z * se)), float(min(1.0, auc + z * se))


def oof_auc_summary(y: np.ndarray, oof_by_repeat: list[np.ndarray]) -> dict:
    """CV summary: mean AUC over repeats of pooled out-of-fold predictions, DeLong CI of the
    repeat-averaged OOF prediction (each patient predicted only by models that never saw it)."""
    aucs = [roc_auc_score(y, o) for o in oof_by_repeat]
    mean_oof = np.mean(np.stack(oof_by_repeat), axis=0)
    auc, lo, hi = delong_auc_ci(y, mean_oof)
    return {'auc_mean_over_repeats': float(np.mean(aucs)), 'auc_sd_over_repeats': float(np.std(aucs)),
            'auc_pooled': auc, 'ci95': [lo, hi]}


def youden_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """Threshold maximising sensitivity + specificity ("a balanced trade-off"), on OOF predictions."""
    best_t, best_j = 0.5, -1.0
    for t in np.unique(p):
        pred = p >= t
        sens = (pred & (y == 1)).sum() / max(1, (y == 1).sum())
        spec = (~pred & (y == 0)).sum() / max(1, (y == 0).sum())
        if sens + spec - 1 > best_j:
            best_j, best_t = sens + spec - 1, float(t)
    return best_t


def sens_spec(y: np.ndarray, p: np.ndarray, t: float) -> tuple[float, float]:
    pred = p >= t
    return (float((pred & (y == 1)).sum() / max(1, (y == 1).sum())),
            float((~pred & (y == 0)).sum() / max(1, (y == 0).sum())))


@dataclass
class Json:
    path: str

    def write(self, obj) -> None:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        with open(self.path, 'w') as f:
            json.dump(obj, f, indent=2, sort_keys=False)
            f.write('\n')
