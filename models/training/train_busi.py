#!/usr/bin/python3
"""Train `busi-classifier`: normal / benign / malignant breast ultrasound, whole image, from
scratch, with softmax in the graph.

Data (../shared/data/ultrasound/busi): Al-Dhabyani et al. 2020, Data in Brief 28:104863.
BUSI has no patient ids, so the split is by image; near-duplicate images (same 8x8
difference hash within a small Hamming distance) are kept together in one split so that
the same picture cannot be in train and test. Research use only.

    /usr/bin/python3 models/training/train_busi.py [--data DIR] [--epochs N] [--threads N]
"""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

import common

MODEL_ID = 'busi-classifier'
CLASSES = ['normal', 'benign', 'malignant']
SIZE = 128
HASH_DISTANCE = 4  # bits of 64: near-identical pictures (re-saves, slight crops)


def dhash(img):
    """64-bit difference hash of a grayscale image (PIL), as a bool array."""
    a = np.asarray(img.resize((9, 8), Image.BILINEAR), dtype=np.float32)
    return (a[:, 1:] > a[:, :-1]).ravel()


def load(data):
    root = os.path.join(data, 'ultrasound', 'busi')
    images, labels, names, hashes = [], [], [], []
    for k, cls in enumerate(CLASSES):
        for name in sorted(os.listdir(os.path.join(root, cls))):
            if not name.lower().endswith('.png'):
                continue
            img = Image.open(os.path.join(root, cls, name)).convert('L')
            hashes.append(dhash(img))
            images.append(np.asarray(img.resize((SIZE, SIZE), Image.BILINEAR), dtype=np.uint8))
            labels.append(k)
            names.append(f'{cls}/{name}')
    return np.stack(images), np.array(labels), names, np.stack(hashes)


def duplicate_groups(hashes):
    """Union-find over pairs whose hashes differ in at most HASH_DISTANCE bits."""
    n = len(hashes)
    parent = list(range(n))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i
    h = hashes.astype(np.int8)
    pairs = 0
    for i in range(n):
        d = np.abs(h[i + 1:] - h[i]).sum(1)
        for j in np.nonzero(d <= HASH_DISTANCE)[0] + i + 1:
            parent[find(i)] = find(int(j))
            pairs += 1
    return np.array([find(i) for i in range(n)]), pairs


def split_groups(groups, labels, seed):
    """Stratified by class of the group's first image: 70 / 15 / 15 of groups."""
    rng = np.random.default_rng(seed)
    out = {'train': [], 'validation': [], 'test': []}
    uniq = np.unique(groups)
    first_label = {g: int(labels[np.nonzero(groups == g)[0][0]]) for g in uniq}
    for k in range(len(CLASSES)):
        g = rng.permutation([u for u in uniq if first_label[u] == k])
        n_test = round(0.15 * len(g)); n_val = round(0.15 * len(g))
        out['test'] += list(g[:n_test]); out['validation'] += list(g[n_test:n_test + n_val]); out['train'] += list(g[n_test + n_val:])
    return {k: np.isin(groups, v) for k, v in out.items()}


class BusiNet(nn.Module):
    """Five conv blocks on a 128 x 128 image, global average pooling, three logits."""

    def __init__(self):
        super().__init__()
        def block(i, o):
            return nn.Sequential(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True),
                                 nn.Conv2d(o, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True),
                                 nn.MaxPool2d(2))
        self.features = nn.Sequential(block(1, 16), block(16, 32), block(32, 64), block(64, 96), block(96, 128))
        self.drop = nn.Dropout(0.4)
        self.fc = nn.Linear(128, len(CLASSES))

    def logits(self, x):
        x = torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1)
        return self.fc(self.drop(x))

    def forward(self, x):
        return torch.softmax(self.logits(x), dim=1)


def to_tensor(imgs, mean, std):
    return (torch.from_numpy(imgs).float().unsqueeze(1) / 255.0 - mean) / std


def augment(x):
    """Left-right flip, small random scale/shift/rotation, brightness and contrast, per image."""
    n = x.shape[0]
    flip = torch.rand(n) < 0.5
    x = torch.where(flip.view(n, 1, 1, 1), x.flip(3), x)
    ang = (torch.rand(n) - 0.5) * 0.35
    sc = 1 + (torch.rand(n) - 0.5) * 0.3
    tx, ty = (torch.rand(n) - 0.5) * 0.2, (torch.rand(n) - 0.5) * 0.2
    theta = torch.stack([torch.stack([sc * torch.cos(ang), -sc * torch.sin(ang), tx], 1),
                         torch.stack([sc * torch.sin(ang), sc * torch.cos(ang), ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, padding_mode='border', align_corners=False)
    return x * (1 + 0.2 * torch.randn(n, 1, 1, 1)) + 0.2 * torch.randn(n, 1, 1, 1)


def predict(model, imgs, mean, std):
    model.eval()
    with torch.no_grad():
        p = model(to_tensor(imgs, mean, std))
    return p.numpy()


def macro_metrics(y, p):
    aucs = [common.roc_auc(y == k, p[:, k]) for k in range(len(CLASSES))]
    pred = p.argmax(1)
    conf = [[int(((y == a) & (pred == b)).sum()) for b in range(len(CLASSES))] for a in range(len(CLASSES))]
    out = {'n': int(len(y)), 'macro_auc': float(np.mean(aucs)), 'accuracy': float((pred == y).mean())}
    out.update({f'auc_{c}': float(a) for c, a in zip(CLASSES, aucs)})
    out['malignant_vs_rest_auc'] = float(aucs[2])
    return out, conf


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default=common.DEFAULT_DATA)
    ap.add_argument('--epochs', type=int, default=60)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--seed', type=int, default=11)
    args = ap.parse_args()
    common.seed_everything(args.seed)
    common.threads(args.threads)

    imgs, labels, names, hashes = load(args.data)
    groups, pairs = duplicate_groups(hashes)
    part = split_groups(groups, labels, args.seed)
    common.log(f'{len(imgs)} images, {pairs} near-duplicate pairs, {len(np.unique(groups))} groups; ' +
               ', '.join(f'{k}: {m.sum()} ({np.bincount(labels[m], minlength=3).tolist()})' for k, m in part.items()))
    tx, ty = imgs[part['train']], labels[part['train']]
    mean, std = float(tx.mean() / 255), float(tx.std() / 255)
    vx, vy = imgs[part['validation']], labels[part['validation']]

    model = BusiNet()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=5e-4)
    bs = 32
    steps = args.epochs * int(np.ceil(len(tx) / bs))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    weight = torch.tensor(len(ty) / (3 * np.bincount(ty, minlength=3)), dtype=torch.float32)
    best, best_state, best_epoch = -1.0, None, 0
    for epoch in range(args.epochs):
        model.train()
        order = np.random.permutation(len(tx))
        total = 0.0
        for i in range(0, len(order), bs):
            idx = order[i:i + bs]
            x = augment(to_tensor(tx[idx], mean, std))
            loss = F.cross_entropy(model.logits(x), torch.from_numpy(ty[idx]), weight=weight, label_smoothing=0.05)
            opt.zero_grad(); loss.backward(); opt.step(); sched.step()
            total += float(loss) * len(idx)
        m, _ = macro_metrics(vy, predict(model, vx, mean, std))
        # Model selection on validation only; later epochs win ties (more trained).
        if m['macro_auc'] >= best and epoch >= args.epochs // 3:
            best, best_state, best_epoch = m['macro_auc'], {k: v.clone() for k, v in model.state_dict().items()}, epoch + 1
        if (epoch + 1) % 5 == 0:
            common.log(f'epoch {epoch + 1}/{args.epochs} loss {total / len(order):.4f} validation macro AUC {m["macro_auc"]:.4f} acc {m["accuracy"]:.3f}')
    model.load_state_dict(best_state)

    vp = predict(model, vx, mean, std)
    # Study score = malignant probability. Cut-offs on validation: high at 90% specificity for
    # malignant, intermediate at 90% sensitivity for malignant.
    y_mal = vy == 2
    high = common.threshold_for_specificity(y_mal, vp[:, 2], 0.90)
    inter = min(common.threshold_for_sensitivity(y_mal, vp[:, 2], 0.90), high)
    # A malignant finding is reported at the Youden point, but never above the `high` cut-off,
    # so that every 'high' study carries a finding.
    detection = min(common.best_threshold_youden(y_mal, vp[:, 2]), high)
    results = {}
    for name in ('validation', 'test'):
        m = part[name]
        p = predict(model, imgs[m], mean, std)
        y = labels[m]
        metrics, conf = macro_metrics(y, p)
        metrics['confusion'] = conf
        metrics['malignant_at_high'] = common.binary_metrics(y == 2, p[:, 2], high)
        g = groups[m]
        payload = [(y[g == u], p[g == u]) for u in np.unique(g)]
        metrics['ci95'] = common.bootstrap_ci(
            payload, lambda gs: macro_metrics(np.concatenate([a for a, _ in gs]), np.concatenate([b for _, b in gs]))[0])
        results[name] = metrics
        common.log(f'{name}: macro AUC {metrics["macro_auc"]:.4f} {metrics["ci95"].get("macro_auc")} accuracy {metrics["accuracy"]:.3f} confusion {conf}')

    onnx_path = os.path.join(common.MODELS, f'{MODEL_ID}.onnx')
    sha = common.export_onnx(model, torch.zeros(1, 1, SIZE, SIZE), onnx_path, 'input', ['class_probabilities'])
    manifest = {
        'id': MODEL_ID,
        'name': 'Sentinel breast ultrasound classifier (small CNN, from scratch)',
        'version': '1.0.0',
        'task': 'ultrasound-classification',
        'modality': 'US',
        'file': f'{MODEL_ID}.onnx',
        'sha256': sha,
        'input': {
            'name': 'input', 'layout': 'NCHW', 'channels': 1, 'channelOrder': 'GRAY', 'height': SIZE, 'width': SIZE,
            'normalization': {'scale': 1 / 255, 'mean': [round(mean, 5)], 'std': [round(std, 5)]},
        },
        'outputs': [{'name': 'class_probabilities', 'role': 'class_probabilities', 'classes': CLASSES, 'activation': 'softmax', 'scoreClass': 'malignant'}],
        'thresholds': {'detection': round(detection, 4), 'high': round(high, 4), 'intermediate': round(inter, 4)},
        'training': {
            'data': 'BUSI, Breast Ultrasound Images (Al-Dhabyani et al. 2020, Data in Brief 28:104863): ../shared/data/ultrasound/busi',
            'license': 'Research use; cite Al-Dhabyani et al. 2020 (Data in Brief 28:104863)',
            'split': f'by image (BUSI has no patient ids), near-duplicates kept together, seed {args.seed}: '
                     f'{int(part["train"].sum())} train / {int(part["validation"].sum())} validation / {int(part["test"].sum())} test images ({MODEL_ID}.split.json)',
            'script': 'models/training/train_busi.py',
        },
        'intendedUse': 'Research use only. Not a medical device. Not for diagnosis.',
    }
    common.write_json(os.path.join(common.MODELS, f'{MODEL_ID}.json'), manifest)
    common.write_json(os.path.join(common.MODELS, f'{MODEL_ID}.split.json'), {
        'unit': 'image (no patient ids in BUSI); near-duplicate groups kept in one split', 'seed': args.seed,
        'hash': f'dHash 8x8, Hamming distance <= {HASH_DISTANCE}', 'near_duplicate_pairs': pairs,
        **{k: [names[i] for i in np.nonzero(m)[0]] for k, m in part.items()}})
    common.write_json(os.path.join(common.MODELS, f'{MODEL_ID}.metrics.json'), {
        'model': MODEL_ID, 'version': manifest['version'], 'evaluated_by': 'models/training/train_busi.py (PyTorch)',
        'unit': 'image, CIs by bootstrap over near-duplicate groups (1000 resamples)', 'epochs': args.epochs,
        'selected_epoch': best_epoch, 'score': 'study score = malignant probability', **results})
    common.log(f'wrote {onnx_path}')


if __name__ == '__main__':
    main()
