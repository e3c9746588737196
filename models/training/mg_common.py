"""Pieces of common.py that train_mg.py uses, copied so that the mammography detector's
training does not change when common.py does: seeds, paths, ROC AUC, thresholds, bootstrap
CIs, ONNX export with a check, JSON writing."""
import hashlib
import json
import os
import random
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.dirname(HERE)
REPO = os.path.dirname(MODELS)
DEFAULT_DATA = os.path.normpath(os.path.join(REPO, '..', 'shared', 'data'))


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def threads(n):
    torch.set_num_threads(n)


def log(msg):
    print(time.strftime('%H:%M:%S'), msg, flush=True)


def roc_auc(y, s):
    """Area under the ROC curve by the rank-sum (Mann-Whitney) formula, ties averaged."""
    y = np.asarray(y).astype(bool)
    s = np.asarray(s, dtype=float)
    n_pos, n_neg = y.sum(), (~y).sum()
    if n_pos == 0 or n_neg == 0:
        return float('nan')
    order = np.argsort(s, kind='mergesort')
    ranks = np.empty(len(s))
    sorted_s = s[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def bootstrap_ci(groups, metric_fn, n_boot=1000, seed=0):
    """95% CI of metric_fn over resampled groups (patients): groups is a list of per-group
    payloads; metric_fn takes a list of payloads and returns a dict of numbers."""
    rng = np.random.default_rng(seed)
    samples = {}
    for _ in range(n_boot):
        pick = rng.integers(0, len(groups), len(groups))
        try:
            m = metric_fn([groups[i] for i in pick])
        except Exception:
            continue
        for k, v in m.items():
            if isinstance(v, (int, float)) and not (isinstance(v, float) and np.isnan(v)):
                samples.setdefault(k, []).append(v)
    return {k: [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))] for k, v in samples.items() if len(v) > 10}


def threshold_for_sensitivity(y, s, target):
    """Highest threshold whose sensitivity is still >= target."""
    y = np.asarray(y).astype(bool)
    pos = np.sort(np.asarray(s)[y])[::-1]
    if len(pos) == 0:
        return 0.5
    k = int(np.ceil(target * len(pos))) - 1
    return float(pos[min(max(k, 0), len(pos) - 1)])


def threshold_for_specificity(y, s, target):
    """Lowest threshold whose specificity is still >= target."""
    y = np.asarray(y).astype(bool)
    neg = np.sort(np.asarray(s)[~y])
    if len(neg) == 0:
        return 0.5
    k = int(np.ceil(target * len(neg))) - 1
    return float(np.nextafter(neg[min(max(k, 0), len(neg) - 1)], 1.0))


def export_onnx(model, example, path, input_name, output_names):
    import onnx
    model.eval()
    axes = {input_name: {0: 'batch'}}
    for name in output_names:
        axes[name] = {0: 'batch'}
    torch.onnx.export(model, example, path, input_names=[input_name], output_names=output_names,
                      dynamic_axes=axes, opset_version=13, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(path))
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def write_json(path, obj):
    with open(path, 'w') as f:
        json.dump(obj, f, indent=2)
        f.write('\n')
