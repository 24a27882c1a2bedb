"""sklearn GradientBoostingClassifier (binary) -> ONNX ai.onnx.ml TreeEnsembleClassifier.

Hand-written because skl2onnx is not installable here (no PyPI); onnx.helper is all it needs.

sklearn's binary GBDT computes
    raw(x) = init_raw  +  learning_rate * sum_i tree_i(x)        (init_raw = log-odds of the class prior)
    p(x)   = sigmoid(raw(x))
which maps onto TreeEnsembleClassifier with one score column (class id 0 for every leaf weight),
base_values=[init_raw], leaf weights pre-multiplied by learning_rate and post_transform=LOGISTIC.
onnxruntime then emits probabilities [sigmoid(-raw), sigmoid(raw)] for labels [0, 1] -- but only
when at least one weight is negative (all-positive weights switch ORT to a "[1-v, v] without
logistic" path), so the converter refuses that case instead of producing a silently wrong model.
sklearn compares float32(x) <= threshold(float64); each threshold is stored as the largest float32
not above it, which gives the same decision for every float32 x (test/model-trees.test.ts checks
agreement, including rows sitting exactly on thresholds).

CLI:  /usr/bin/python3 models/tree_to_onnx.py --fixture <dir>
      writes <dir>/trees.onnx, <dir>/fixture.json {inputs, sklearn_probabilities, feature_names}
      for test/model-trees.test.ts (sklearn and onnxruntime-node must agree to 1e-6).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.tree._tree import TREE_LEAF

ML_DOMAIN = 'ai.onnx.ml'


def _float32_at_or_below(t: float) -> float:
    """Largest float32 <= t. sklearn tests float32(x) <= t (t a float64 midpoint); for any float32 x
    that is equivalent to x <= this value, so storing it keeps ONNX's float32 comparison exact."""
    f = np.float32(t)
    if float(f) > t:
        f = np.nextafter(f, np.float32(-np.inf))
    return float(f)


def gbdt_to_onnx(model: GradientBoostingClassifier, n_features: int, input_name: str = 'clinical',
                 doc: str = '') -> onnx.ModelProto:
    if getattr(model, 'n_classes_', None) != 2:
        raise ValueError('only binary GradientBoostingClassifier is supported')
    if model.init_ is not None and model.init_ != 'zero' and type(model.init_).__name__ != 'DummyClassifier':
        raise ValueError('only the default (prior) init estimator is supported')
    lr = float(model.learning_rate)
    init_raw = float(model._raw_predict_init(np.zeros((1, n_features), dtype=np.float32))[0, 0])

    a = {k: [] for k in ['nodes_treeids', 'nodes_nodeids', 'nodes_featureids', 'nodes_values', 'nodes_modes',
                         'nodes_truenodeids', 'nodes_falsenodeids', 'nodes_missing_value_tracks_true',
                         'class_treeids', 'class_nodeids', 'class_ids', 'class_weights']}
    for tree_id, est in enumerate(model.estimators_[:, 0]):
        t = est.tree_
        for node in range(t.node_count):
            left, right = int(t.children_left[node]), int(t.children_right[node])
            a['nodes_treeids'].append(tree_id)
            a['nodes_nodeids'].append(node)
            a['nodes_missing_value_tracks_true'].append(0)
            if left == TREE_LEAF:
                a['nodes_featureids'].append(0)
                a['nodes_values'].append(0.0)
                a['nodes_modes'].append('LEAF')
                a['nodes_truenodeids'].append(0)
                a['nodes_falsenodeids'].append(0)
                a['class_treeids'].append(tree_id)
                a['class_nodeids'].append(node)
                a['class_ids'].append(0)
                a['class_weights'].append(lr * float(t.value[node][0][0]))
            else:
                a['nodes_featureids'].append(int(t.feature[node]))
                a['nodes_values'].append(_float32_at_or_below(float(t.threshold[node])))
                a['nodes_modes'].append('BRANCH_LEQ')  # sklearn: x <= threshold goes left
                a['nodes_truenodeids'].append(left)
                a['nodes_falsenodeids'].append(right)
    if not any(w < 0 for w in a['class_weights']):
        raise ValueError('all leaf weights are positive: onnxruntime would skip the logistic transform')

    node = helper.make_node(
        'TreeEnsembleClassifier', [input_name], ['label', 'probabilities'], domain=ML_DOMAIN,
        classlabels_int64s=[0, 1], base_values=[init_raw], post_transform='LOGISTIC', **a)
    graph = helper.make_graph(
        [node], 'gbdt',
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [None, n_features])],
        [helper.make_tensor_value_info('label', TensorProto.INT64, [None]),
         helper.make_tensor_value_info('probabilities', TensorProto.FLOAT, [None, 2])])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13), helper.make_opsetid(ML_DOMAIN, 1)],
                          producer_name='bonemet/models/tree_to_onnx.py', doc_string=doc)
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def write_fixture(out_dir: str) -> None:
    """Fit small GBDTs on the real clinical table and write inputs + sklearn probabilities."""
    sys.path.insert(0, os.path.dirname(__file__))
    from common import CLINICAL_BASE, SEED, load_train_clinical

    df = load_train_clinical()
    feats = CLINICAL_BASE + ['vfa_t11_cm2']
    X = df[feats].to_numpy(dtype=np.float64)
    y = df['label'].to_numpy()
    rng = np.random.default_rng(SEED)
    # Real rows, jittered rows, and rows sitting exactly on split thresholds (the <= edge case).
    jitter = X + rng.normal(0, 1, X.shape) * X.std(axis=0) * 0.3
    os.makedirs(out_dir, exist_ok=True)
    cases = []
    for name, params in [('depth3-lr0.1-sub1', dict(max_depth=3, learning_rate=0.1, n_estimators=100)),
                         ('depth2-lr0.05-sub0.6', dict(max_depth=2, learning_rate=0.05, n_estimators=300,
                                                       subsample=0.6))]:
        m = GradientBoostingClassifier(random_state=SEED, **params).fit(X, y)
        thr_rows = []
        for est in m.estimators_[:5, 0]:
            t = est.tree_
            for nd in range(t.node_count):
                if t.children_left[nd] != TREE_LEAF:
                    r = X[nd % len(X)].copy()
                    r[t.feature[nd]] = np.float32(t.threshold[nd])
                    thr_rows.append(r)
        inputs = np.vstack([X, jitter, np.array(thr_rows)]).astype(np.float32)
        probs = m.predict_proba(inputs)[:, 1]
        onnx.save(gbdt_to_onnx(m, len(feats)), os.path.join(out_dir, f'{name}.onnx'))
        cases.append({'name': name, 'onnx': f'{name}.onnx', 'inputs': inputs.tolist(),
                      'sklearn_probabilities': probs.tolist()})
    with open(os.path.join(out_dir, 'fixture.json'), 'w') as f:
        json.dump({'feature_names': feats, 'cases': cases}, f)


if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--fixture', required=True, help='directory to write the sklearn/ONNX agreement fixture into')
    write_fixture(ap.parse_args().fixture)
