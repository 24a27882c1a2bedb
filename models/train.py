"""Reproduces the shipped risk model: `npm run train` (= /usr/bin/python3 models/train.py).

Steps (all seeds fixed; only the TRAIN split is used for fitting and model selection; the val split's
labels are used once, at the end, to report the image-only AUC of the final CNN):
  1. clinical GBDT: repeated stratified 5x5 CV on train (OOF predictions, DeLong CI), refit on all train
  2. CNN (models/cnn.py) in stratified 3-fold CV (the CPU budget) on the 4-channel tensors from models/make-tensors.ts;
     inside each fold 20 % of the fold's training images pick the epoch (early stopping)
  3. combined GBDT, two candidates compared in the same CV:
       "features16+clinical" (the paper's design: the fold CNN's 16 features + clinical)
       "image-logit+clinical" (stacking: the CNN's out-of-fold logit + clinical)
     the better CV AUC is shipped
  4. final CNN on all train (epochs = median of the folds' best epochs), ONNX export, head JSON
  5. val split (labels only): image-only AUC with DeLong CI
  6. models/shipped/: cnn.onnx, cnn-head.json, clinical-gbdt.onnx, combined-gbdt.onnx, manifest.json,
     cv-report.json, cv-predictions.json

--smoke: tiny run (2 folds, 2 epochs, a few images, narrow net) into models/artifacts/smoke/ proving the recipe
end to end; uses synthetic tensors when models/artifacts/tensors/ does not exist (e.g. in CI).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split

sys.path.insert(0, os.path.dirname(__file__))
from cnn import INPUT_CHANNELS, INPUT_HEIGHT, INPUT_WIDTH, MaskGuidedResNet, export_onnx, head_json, reference_pattern  # noqa: E402
from common import (CATEGORICAL, CLINICAL_BASE, HEIGHT2_RANGE_M2, SEED, SHIPPED, TRAIN_MEDIAN_HEIGHT2_M2,  # noqa: E402
                    WORK, Json, clean_clinical, cv_splits, delong_auc_ci, load_train_clinical,
                    load_val_labels, oof_auc_summary, sens_spec, youden_threshold)
from tree_to_onnx import gbdt_to_onnx  # noqa: E402

MODEL_NAME = 'bonemet-lfdlrn-t11'
MODEL_VERSION = '1.0.0'

# Chosen in models/tune_clinical.py (repeated 5x3 CV on train, PMI cleaned; see MODEL_CARD.md):
# the 19 source columns (adding vfa_t11_cm2 did not help in CV: 0.753 vs 0.761), stumps (depth 1,
# an additive model: within 0.001 AUC of the best depth-2 setting and less prone to overfit 185 rows).
CLINICAL_FEATURES = list(CLINICAL_BASE)
CLINICAL_GBDT = dict(learning_rate=0.05, max_depth=1, subsample=0.6, n_estimators=100)
# Plausibility limits for numeric inputs at serving time (beyond them a value is treated as missing).
PLAUSIBLE = {
    'age': (18, 100), 'tumor_size_cm': (0.05, 30), 'bmi': (12, 60), 'cea': (0, 1000),
    'pma_t4_cm2': (3, 150), 'pmi_t4_cm2_m2': (1, 60), 'ki67': (0, 100), 'vfa_t11_cm2': (0, 800),
}
MAX_IMPUTED_CLINICAL = 3
IMAGE_THRESHOLD = 0.5


def log(msg: str) -> None:
    print(f'[train {time.strftime("%H:%M:%S")}] {msg}', flush=True)


def gbdt(seed: int = SEED) -> GradientBoostingClassifier:
    return GradientBoostingClassifier(random_state=seed, **CLINICAL_GBDT)


# ---------------------------------------------------------------- tensors

def load_tensors(ids: list[int], split: str, smoke: bool) -> np.ndarray:
    """[N,4,200,250] float16: 2x2-averaged (see pool2) and half precision to save RAM and time."""
    tdir = os.path.join(WORK, 'tensors')
    index_path = os.path.join(tdir, 'index.json')
    if not os.path.exists(index_path):
        if not smoke:
            raise SystemExit(f'{index_path} missing: run `npx tsx models/make-tensors.ts` first')
        rng = np.random.default_rng(SEED)
        log(f'no tensors at {tdir}: smoke run on synthetic tensors')
        x = rng.random((len(ids), INPUT_CHANNELS, INPUT_HEIGHT, INPUT_WIDTH), dtype=np.float32)
        x[:, 3] = np.where(x[:, 3] > 0.5, 0.5, -0.5)
        return pool2(x).astype(np.float16)
    with open(index_path) as f:
        index = json.load(f)
    entries = index['entries'] if isinstance(index, dict) and 'entries' in index else \
        index['items'] if isinstance(index, dict) and 'items' in index else index
    by_key = {(str(e['split']), int(e['id'])): e for e in entries}
    out = np.empty((len(ids), INPUT_CHANNELS, INPUT_HEIGHT // 2, INPUT_WIDTH // 2), dtype=np.float16)
    for i, pid in enumerate(ids):
        e = by_key.get((split, int(pid)))
        if e is None:
            raise SystemExit(f'tensor for {split}/{pid} missing from {index_path}')
        path = os.path.join(tdir, e.get('file') or e.get('path'))
        arr = np.fromfile(path, dtype=np.float32)
        if arr.size != INPUT_CHANNELS * INPUT_HEIGHT * INPUT_WIDTH:
            raise SystemExit(f'{path}: {arr.size} values, expected 4x400x500')
        out[i] = pool2(arr.reshape(1, INPUT_CHANNELS, INPUT_HEIGHT, INPUT_WIDTH))[0]
    return out


def pool2(x: np.ndarray) -> np.ndarray:
    """2x2 average = the network's input_pool, applied once at load (training runs forward_pooled)."""
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).mean(axis=(3, 5))


# ---------------------------------------------------------------- CNN training

def augment(x: torch.Tensor, gen: torch.Generator, max_shift: int) -> torch.Tensor:
    """Random translation (zero-padded; the fat channel padded with -0.5 = not fat) per image.
    No flips: the LBP code and the HOG glyphs are not mirror-symmetric, so a flipped tensor would not
    be the tensor of a flipped image."""
    n = x.shape[0]
    out = torch.empty_like(x)
    pad_val = torch.tensor([0.0, 0.0, 0.0, -0.5]).view(1, 4, 1, 1)
    padded = torch.nn.functional.pad(x, (max_shift,) * 4)
    padded[:, 3:4] = torch.where(
        torch.nn.functional.pad(torch.ones_like(x[:, 3:4]), (max_shift,) * 4) > 0, padded[:, 3:4], pad_val[:, 3:4])
    h, w = x.shape[2], x.shape[3]
    for i in range(n):
        dy, dx = torch.randint(0, 2 * max_shift + 1, (2,), generator=gen).tolist()
        out[i] = padded[i, :, dy:dy + h, dx:dx + w]
    return out


def predict_cnn(model: MaskGuidedResNet, X: np.ndarray, batch: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """(features16 [N,16], logit difference [N]) in eval mode."""
    model.eval()
    feats, logits = [], []
    with torch.no_grad():
        for s in range(0, len(X), batch):
            f, lg, _ = model.forward_pooled(torch.from_numpy(X[s:s + batch].astype(np.float32)))
            feats.append(f.numpy())
            logits.append((lg[:, 1] - lg[:, 0]).numpy())
    return np.concatenate(feats), np.concatenate(logits)


def recalibrate_bn(model: MaskGuidedResNet, X: np.ndarray, batch: int = 16) -> None:
    """Precise BatchNorm statistics: recompute the running mean/var as the plain average over the
    training images (no augmentation). With ~8 batches per epoch and a one-cycle learning rate the
    moving averages lag the weights, which gave some fold networks extreme eval-mode logits."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    model.train()
    with torch.no_grad():
        for s in range(0, len(X), batch):
            model.forward_pooled(torch.from_numpy(X[s:s + batch].astype(np.float32)))
    for m in bns:
        m.momentum = 0.1
    model.eval()


def train_cnn(X: np.ndarray, y: np.ndarray, cfg: dict, seed: int, epochs: int,
              X_stop: np.ndarray | None = None, y_stop: np.ndarray | None = None):
    """Adam + cosine decay, class-weighted CE. With a stopping set, returns the weights of the epoch
    with the best stopping-set AUC and that epoch; otherwise trains `epochs` epochs."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = MaskGuidedResNet(cfg['width'], tuple(cfg['blocks']), cfg['dropout'])
    opt = torch.optim.Adam(model.parameters(), lr=cfg['lr'], weight_decay=cfg['weight_decay'])
    steps_per_epoch = int(np.ceil(len(X) / cfg['batch']))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg['lr'], total_steps=epochs * steps_per_epoch,
                                                pct_start=0.2)
    pos = max(1, int(y.sum()))
    weight = torch.tensor([len(y) / (2 * (len(y) - pos)), len(y) / (2 * pos)], dtype=torch.float32)
    best = (-1.0, 0, None)
    history = []
    for ep in range(1, epochs + 1):
        model.train()
        perm = torch.randperm(len(X), generator=gen).numpy()
        total = 0.0
        for s in range(0, len(X), cfg['batch']):
            idx = perm[s:s + cfg['batch']]
            if len(idx) < 2:
                continue  # BatchNorm needs > 1 sample
            xb = augment(torch.from_numpy(X[idx].astype(np.float32)), gen, cfg['max_shift'])
            _, logits, _ = model.forward_pooled(xb)
            loss = F.cross_entropy(logits, torch.from_numpy(y[idx]).long(), weight=weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(idx)
        rec = {'epoch': ep, 'train_loss': total / len(X)}
        if X_stop is not None and y_stop is not None and len(np.unique(y_stop)) == 2:
            recalibrate_bn(model, X)
            _, lg = predict_cnn(model, X_stop)
            rec['stop_auc'] = float(roc_auc_score(y_stop, lg))
            if rec['stop_auc'] > best[0]:
                best = (rec['stop_auc'], ep, {k: v.clone() for k, v in model.state_dict().items()})
        history.append(rec)
        if cfg.get('verbose'):
            log(f'  epoch {ep}: loss {rec["train_loss"]:.3f} stop AUC {rec.get("stop_auc", float("nan")):.3f}')
    if best[2] is not None:
        model.load_state_dict(best[2])  # weights and the precise BN statistics of that epoch
        return model, best[1], history
    recalibrate_bn(model, X)
    return model, epochs, history


# ---------------------------------------------------------------- main

def summarise(name: str, y: np.ndarray, p: np.ndarray, oof_by_repeat: list[np.ndarray] | None = None) -> dict:
    auc, lo, hi = delong_auc_ci(y, p)
    t = youden_threshold(y, p)
    se, sp = sens_spec(y, p, t)
    out = {'auc': auc, 'ci95': [lo, hi], 'threshold_youden': t, 'sensitivity': se, 'specificity': sp,
           'brier': float(brier_score_loss(y, p)), 'n': int(len(y)), 'n_pos': int(y.sum())}
    if oof_by_repeat is not None:
        out['repeats'] = oof_auc_summary(y, oof_by_repeat)
    log(f'{name}: AUC {auc:.3f} [{lo:.3f}, {hi:.3f}]  sens {se:.2f} spec {sp:.2f} @ {t:.3f}  brier {out["brier"]:.3f}')
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--smoke', action='store_true')
    ap.add_argument('--out', default=None)
    ap.add_argument('--epochs', type=int, default=None)
    ap.add_argument('--folds', type=int, default=None)
    ap.add_argument('--width', type=int, default=None)
    ap.add_argument('--skip-cnn', action='store_true', help='clinical model only (no tensors needed)')
    args = ap.parse_args()
    smoke = args.smoke
    out_dir = args.out or (os.path.join(WORK, 'smoke') if smoke else SHIPPED)
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(2)
    np.random.seed(SEED)
    t_start = time.time()

    cfg = {'width': args.width or (8 if smoke else 8), 'blocks': [1, 1, 1, 1], 'dropout': 0.3, 'lr': 2e-3,
           'weight_decay': 1e-4, 'batch': 16, 'max_shift': 12,  # pooled pixels (= 24 input pixels)
          
           'epochs': args.epochs or (2 if smoke else 40), 'verbose': not smoke, 'folds': args.folds or (2 if smoke else 3)}

    df_raw = load_train_clinical()
    df, n_pmi_fixed = clean_clinical(df_raw)
    if smoke:  # a small stratified subset keeps the smoke run to ~1 min
        df = df.groupby('label', group_keys=False).apply(lambda g: g.head(12)).sort_values('id').reset_index(drop=True)
    ids = df['id'].astype(int).tolist()
    y = df['label'].to_numpy().astype(int)
    Xc = df[CLINICAL_FEATURES].to_numpy(dtype=np.float64)
    report: dict = {'model': MODEL_NAME, 'version': MODEL_VERSION, 'smoke': smoke, 'cnn_config': cfg,
                    'clinical_features': CLINICAL_FEATURES, 'clinical_gbdt': CLINICAL_GBDT,
                    'pmi_rows_recomputed': n_pmi_fixed, 'cv': {}, 'val': {}}
    preds: dict = {'train_ids': ids, 'train_labels': y.tolist()}

    # 1. clinical GBDT in repeated CV, and the untuned default for comparison
    clin_folds = 2 if smoke else 5  # GBDT fits are cheap: 5x5 repeated CV (the CNN gets cfg['folds'])
    splits = cv_splits(y, n_splits=clin_folds, n_repeats=1 if smoke else 5)
    n_rep = len(splits) // clin_folds
    oof_c = np.zeros((n_rep, len(y)))
    oof_default = np.zeros((n_rep, len(y)))
    for k, (tr, te) in enumerate(splits):
        oof_c[k // clin_folds, te] = gbdt().fit(Xc[tr], y[tr]).predict_proba(Xc[te])[:, 1]
        oof_default[k // clin_folds, te] = GradientBoostingClassifier(random_state=SEED).fit(
            Xc[tr][:, :len(CLINICAL_BASE)], y[tr]).predict_proba(Xc[te][:, :len(CLINICAL_BASE)])[:, 1]
    p_clin_oof = oof_c.mean(axis=0)
    report['cv']['clinical'] = summarise('CV clinical-only', y, p_clin_oof, list(oof_c))
    report['cv']['clinical_sklearn_default_19'] = summarise('CV clinical default GBDT (19 cols)', y,
                                                            oof_default.mean(axis=0), list(oof_default))
    preds['cv_p_clinical'] = p_clin_oof.tolist()
    clin_model = gbdt().fit(Xc, y)
    onnx.save(gbdt_to_onnx(clin_model, Xc.shape[1], 'clinical', doc='clinical GBDT'),
              os.path.join(out_dir, 'clinical-gbdt.onnx'))
    manifest = {
        'modelName': MODEL_NAME, 'modelVersion': MODEL_VERSION, 'researchUseOnly': True,
        'clinical': {
            'onnx': 'clinical-gbdt.onnx', 'features': CLINICAL_FEATURES,
            'threshold': report['cv']['clinical']['threshold_youden'],
            # from the cleaned table (PMI repaired), i.e. the values the GBDT was fitted on
            'medians': {c: float(np.median(df[c])) for c in CLINICAL_FEATURES},
            'trainRange': {c: [float(df[c].min()), float(df[c].max())] for c in CLINICAL_FEATURES},
            'categoricalCodes': {c: sorted(int(v) for v in df_raw[c].unique()) for c in CATEGORICAL},
            'plausibleRange': PLAUSIBLE,
            'maxImputed': MAX_IMPUTED_CLINICAL,
            'pmiConsistency': {'height2RangeM2': list(HEIGHT2_RANGE_M2), 'medianHeight2M2': TRAIN_MEDIAN_HEIGHT2_M2},
        },
    }
    if args.skip_cnn:
        Json(os.path.join(out_dir, 'manifest.json')).write(manifest)
        Json(os.path.join(out_dir, 'cv-report.json')).write(report)
        log(f'clinical only: done in {time.time() - t_start:.0f}s')
        return

    # 2. CNN in stratified K-fold CV (one repeat: the CPU budget), early stopping inside each fold
    X = load_tensors(ids, 'train', smoke)
    log(f'tensors: {X.shape} ({X.nbytes / 1e6:.0f} MB)')
    skf = StratifiedKFold(n_splits=cfg['folds'], shuffle=True, random_state=SEED)
    oof_logit = np.zeros(len(y))
    oof_comb_a = np.zeros(len(y))
    best_epochs = []
    for k, (tr, te) in enumerate(skf.split(np.zeros(len(y)), y)):
        fit_idx, stop_idx = train_test_split(tr, test_size=0.2, stratify=y[tr], random_state=SEED + k)
        model, best_ep, hist = train_cnn(X[fit_idx], y[fit_idx], cfg, SEED + k, cfg['epochs'], X[stop_idx], y[stop_idx])
        best_epochs.append(best_ep)
        f_te, lg_te = predict_cnn(model, X[te])
        f_tr, _ = predict_cnn(model, X[tr])
        oof_logit[te] = lg_te
        # candidate A: the fold CNN's features (in-sample on the fold's training rows, as when shipped)
        comb = gbdt().fit(np.hstack([f_tr, Xc[tr]]), y[tr])
        oof_comb_a[te] = comb.predict_proba(np.hstack([f_te, Xc[te]]))[:, 1]
        te_auc = roc_auc_score(y[te], lg_te) if len(np.unique(y[te])) == 2 else float('nan')
        log(f'fold {k}: best epoch {best_ep}, stop AUC {max(h.get("stop_auc", 0) for h in hist):.3f}, '
            f'test image AUC {te_auc:.3f} ({time.time() - t_start:.0f}s)')
        report.setdefault('cnn_folds', []).append({'best_epoch': best_ep, 'test_auc': te_auc, 'history': hist})
    p_img_oof = 1 / (1 + np.exp(-oof_logit))
    report['cv']['image'] = summarise('CV image-only (CNN)', y, p_img_oof)
    report['cv']['combined_features16'] = summarise('CV combined A features16+clinical', y, oof_comb_a)
    # candidate B: stacking the OOF image logit with clinical, CV'd on the clinical folds
    Xb = np.hstack([oof_logit[:, None], Xc])
    oof_b = np.zeros((n_rep, len(y)))
    for k, (tr, te) in enumerate(splits):
        oof_b[k // clin_folds, te] = gbdt().fit(Xb[tr], y[tr]).predict_proba(Xb[te])[:, 1]
    report['cv']['combined_imagelogit'] = summarise('CV combined B image-logit+clinical', y, oof_b.mean(axis=0), list(oof_b))
    use_b = report['cv']['combined_imagelogit']['auc'] > report['cv']['combined_features16']['auc']
    combined_kind = 'image-logit+clinical' if use_b else 'features16+clinical'
    p_comb_oof = oof_b.mean(axis=0) if use_b else oof_comb_a
    report['cv']['combined'] = report['cv']['combined_imagelogit' if use_b else 'combined_features16']
    report['combined_kind'] = combined_kind
    preds.update({'cv_p_image': p_img_oof.tolist(), 'cv_p_combined': p_comb_oof.tolist()})
    log(f'combined model shipped: {combined_kind}')

    # 4. final CNN on all train
    final_epochs = int(np.median(best_epochs)) if not smoke else cfg['epochs']
    final_epochs = max(final_epochs, 3 if not smoke else 1)
    model, _, hist = train_cnn(X, y, cfg, SEED, final_epochs)
    report['final_cnn'] = {'epochs': final_epochs, 'history': hist}
    export_onnx(model, os.path.join(out_dir, 'cnn.onnx'))
    onnx.checker.check_model(onnx.load(os.path.join(out_dir, 'cnn.onnx')))
    Json(os.path.join(out_dir, 'cnn-head.json')).write(head_json(model))
    f_all, _ = predict_cnn(model, X)
    if use_b:
        comb_model = gbdt().fit(Xb, y)
        comb_features = ['image_logit'] + CLINICAL_FEATURES
    else:
        comb_model = gbdt().fit(np.hstack([f_all, Xc]), y)
        comb_features = [f'cnn_f{i}' for i in range(16)] + CLINICAL_FEATURES
    onnx.save(gbdt_to_onnx(comb_model, len(comb_features), 'combined', doc=f'combined GBDT ({combined_kind})'),
              os.path.join(out_dir, 'combined-gbdt.onnx'))
    # Reference for the TS test: torch's outputs of the final CNN on cnn.reference_pattern().
    model.eval()
    with torch.no_grad():
        f_ref, lg_ref, act_ref = model(reference_pattern())
    Json(os.path.join(out_dir, 'cnn-reference.json')).write({
        'input': 'models/cnn.py reference_pattern()', 'features16': f_ref[0].tolist(), 'logits': lg_ref[0].tolist(),
        'activationShape': list(act_ref.shape[1:]), 'activationSum': float(act_ref.sum())})

    # 5. val split: image-only with the final CNN (val labels used here only)
    val = load_val_labels()
    if smoke:
        val = val.groupby('label', group_keys=False).apply(lambda g: g.head(4)).reset_index(drop=True)
    Xv = load_tensors(val['id'].astype(int).tolist(), 'val', smoke)
    _, lg_v = predict_cnn(model, Xv)
    yv = val['label'].to_numpy().astype(int)
    p_v = 1 / (1 + np.exp(-lg_v))
    report['val']['image'] = summarise('VAL image-only (final CNN, untouched)', yv, p_v)
    se, sp = sens_spec(yv, p_v, IMAGE_THRESHOLD)
    report['val']['image']['at_shipped_threshold'] = {'threshold': IMAGE_THRESHOLD, 'sensitivity': se, 'specificity': sp}
    se, sp = sens_spec(y, p_img_oof, IMAGE_THRESHOLD)
    report['cv']['image']['at_shipped_threshold'] = {'threshold': IMAGE_THRESHOLD, 'sensitivity': se, 'specificity': sp}
    preds.update({'val_ids': val['id'].astype(int).tolist(), 'val_labels': yv.tolist(), 'val_p_image': p_v.tolist()})

    manifest['image'] = {
        'onnx': 'cnn.onnx', 'head': 'cnn-head.json', 'input': {'name': 'channels', 'shape': [4, 400, 500]},
        # 0.5 by design: the class-weighted loss makes 0.5 the balanced operating point, and a threshold
        # picked on the CV fold networks does not transfer to the final network (different logit scale).
        'probability': 'sigmoid(logits[1] - logits[0])', 'threshold': IMAGE_THRESHOLD,
    }
    manifest['combined'] = {'onnx': 'combined-gbdt.onnx', 'kind': combined_kind, 'features': comb_features,
                            'threshold': report['cv']['combined']['threshold_youden']}
    Json(os.path.join(out_dir, 'manifest.json')).write(manifest)
    report['wall_seconds'] = time.time() - t_start
    Json(os.path.join(out_dir, 'cv-report.json')).write(report)
    Json(os.path.join(out_dir, 'cv-predictions.json')).write(preds)
    log(f'done in {report["wall_seconds"]:.0f}s -> {out_dir}')


if __name__ == '__main__':
    main()
