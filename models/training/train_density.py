#!/usr/bin/python3
"""Train `mini-mias-density`: breast density (background tissue) per mammogram film, fatty /
fatty-glandular / dense-glandular, from scratch, on mini-MIAS, with softmax in the graph.

The whole film (1024 x 1024, 200 micron pixels) is downsampled to 256 x 256 (0.8 mm per
pixel). The split is mg-lesion-detector's split by patient (models/mg-lesion-detector.split.json),
so that both films of one woman stay together and test patients stay test patients across
Sentinel's mammography models. Model selection and the choice of the left/right mirrored
ensemble are made on validation only; test is evaluated once, at the end.

mini-MIAS: Suckling et al. 1994 (Mammographic Image Analysis Society). Research use only.

    /usr/bin/python3 models/training/train_density.py [--data DIR] [--epochs N] [--threads N] [--seed N]
"""
import argparse
import csv
import json
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

import common

MODEL_ID = 'mini-mias-density'
CLASSES = ['fatty', 'fatty-glandular', 'dense-glandular']
CODE = {'F': 0, 'G': 1, 'D': 2}
SIZE = 256
SPLIT_FROM = 'mg-lesion-detector.split.json'


def load(data):
    root = os.path.join(data, 'mammography', 'mini-mias')
    recs = {}
    with open(os.path.join(root, 'truth.csv')) as f:
        for r in csv.DictReader(f):
            recs.setdefault(r['image'], {'patient': r['patient'], 'label': CODE[r['background_tissue']]})
    names = sorted(recs)
    pix = []
    for n in names:
        img = Image.open(os.path.join(root, 'images', f'{n}.png')).convert('L')
        pix.append(np.asarray(img.resize((SIZE, SIZE), Image.BOX), dtype=np.uint8))
    return names, recs, np.stack(pix), np.array([recs[n]['label'] for n in names])


class DensityNet(nn.Module):
    """Six conv blocks on a 256 x 256 film, global average + max pooling, three logits."""

    def __init__(self):
        super().__init__()
        def block(i, o, double=True):
            layers = [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]
            if double:
                layers += [nn.Conv2d(o, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]
            return nn.Sequential(*layers, nn.MaxPool2d(2))
        self.features = nn.Sequential(block(1, 16, False), block(16, 24, False), block(24, 32), block(32, 64),
                                      block(64, 96), block(96, 128))
        self.drop = nn.Dropout(0.4)
        self.fc = nn.Linear(256, len(CLASSES))

    def logits(self, x):
        f = self.features(x)
        f = torch.cat([torch.flatten(F.adaptive_avg_pool2d(f, 1), 1), torch.flatten(F.adaptive_max_pool2d(f, 1), 1)], 1)
        return self.fc(self.drop(f))

    def forward(self, x):
        return torch.softmax(self.logits(x), dim=1)


class MirrorEnsemble(nn.Module):
    """Mean of the softmax on the film and on its left/right mirror image, in the graph."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return 0.5 * (self.net(x) + self.net(torch.flip(x, [3])))


def to_tensor(imgs, mean, std):
    return (torch.from_numpy(imgs).float().unsqueeze(1) / 255.0 - mean) / std


def augment(x):
    """Left-right flip, rotation +-10 degrees, scale +-10%, shift +-6%, brightness and
    contrast, per image (x already normalised)."""
    n = x.shape[0]
    flip = torch.rand(n) < 0.5
    x = torch.where(flip.view(n, 1, 1, 1), x.flip(3), x)
    ang = (torch.rand(n) - 0.5) * 0.35
    sc = 1 + (torch.rand(n) - 0.5) * 0.2
    tx, ty = (torch.rand(n) - 0.5) * 0.12, (torch.rand(n) - 0.5) * 0.12
    theta = torch.stack([torch.stack([sc * torch.cos(ang), -sc * torch.sin(ang), tx], 1),
                         torch.stack([sc * torch.sin(ang), sc * torch.cos(ang), ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, padding_mode='border', align_corners=False)
    return x * (1 + 0.15 * torch.randn(n, 1, 1, 1)) + 0.15 * torch.randn(n, 1, 1, 1)


def predict(model, imgs, mean, std):
    model.eval()
    with torch.no_grad():
        return model(to_tensor(imgs, mean, std)).numpy()


def kappa(y, pred, k=len(CLASSES), weights=None):
    """Cohen's kappa (unweighted, or 'quadratic')."""
    conf = np.zeros((k, k))
    for a, b in zip(y, pred):
        conf[a, b] += 1
    n = conf.sum()
    if n == 0:
        return float('nan')
    i, j = np.mgrid[0:k, 0:k]
    w = ((i - j) ** 2 / (k - 1) ** 2) if weights == 'quadratic' else (i != j).astype(float)
    expected = np.outer(conf.sum(1), conf.sum(0)) / n
    denom = (w * expected).sum()
    return float(1 - (w * conf).sum() / denom) if denom > 0 else float('nan')


def metrics(y, p):
    pred = p.argmax(1)
    conf = [[int(((y == a) & (pred == b)).sum()) for b in range(len(CLASSES))] for a in range(len(CLASSES))]
    out = {'n': int(len(y)), 'accuracy': float((pred == y).mean()), 'kappa': kappa(y, pred),
           'kappa_quadratic': kappa(y, pred, weights='quadratic'),
           'macro_auc': float(np.nanmean([common.roc_auc(y == c, p[:, c]) for c in range(len(CLASSES))]))}
    return out, conf


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default=common.DEFAULT_DATA)
    ap.add_argument('--epochs', type=int, default=60)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--seed', type=int, default=11)
    ap.add_argument('--out', default=common.MODELS, help='where to write the model files')
    args = ap.parse_args()
    common.seed_everything(args.seed)
    common.threads(args.threads)

    names, recs, pix, labels = load(args.data)
    with open(os.path.join(common.MODELS, SPLIT_FROM)) as f:
        base = json.load(f)
    split = {k: base[k] for k in ('train', 'validation', 'test')}
    part = {k: np.array([recs[n]['patient'] in set(v) for n in names]) for k, v in split.items()}
    assert not (part['train'] & part['validation']).any() and not (part['train'] & part['test']).any()
    assert not (part['validation'] & part['test']).any() and all(m.any() for m in part.values())
    common.log(', '.join(f'{k}: {m.sum()} films ({np.bincount(labels[m], minlength=3).tolist()})' for k, m in part.items()))
    tx, ty = pix[part['train']], labels[part['train']]
    vx, vy = pix[part['validation']], labels[part['validation']]
    mean, std = float(tx.mean() / 255), float(tx.std() / 255)

    model = DensityNet()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=5e-4)
    bs = 16
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
        m, _ = metrics(vy, predict(MirrorEnsemble(model), vx, mean, std))
        # Selection on validation only (kappa + accuracy of the mirrored ensemble, macro AUC
        # breaks ties), in the last two thirds; later epochs win ties.
        score = m['kappa'] + m['accuracy'] + 0.01 * m['macro_auc']
        if score >= best and epoch >= args.epochs // 3:
            best, best_state, best_epoch = score, {k: v.clone() for k, v in model.state_dict().items()}, epoch + 1
        common.log(f'epoch {epoch + 1}/{args.epochs} loss {total / len(order):.4f} validation (mirrored) acc {m["accuracy"]:.3f} '
                   f'kappa {m["kappa"]:.3f} macro AUC {m["macro_auc"]:.3f}')
    model.load_state_dict(best_state)

    # Single film or mirrored ensemble: whichever is better on validation (ties: ensemble).
    single, _ = metrics(vy, predict(model, vx, mean, std))
    mirrored, _ = metrics(vy, predict(MirrorEnsemble(model), vx, mean, std))
    use_mirror = mirrored['kappa'] + mirrored['accuracy'] >= single['kappa'] + single['accuracy']
    final = MirrorEnsemble(model) if use_mirror else model
    final.eval()
    common.log(f'selected epoch {best_epoch}; validation single acc {single["accuracy"]:.3f} kappa {single["kappa"]:.3f}, '
               f'mirrored acc {mirrored["accuracy"]:.3f} kappa {mirrored["kappa"]:.3f}: using {"mirrored" if use_mirror else "single"}')

    results = {}
    for name in ('validation', 'test'):
        m = part[name]
        p = predict(final, pix[m], mean, std)
        y = labels[m]
        met, conf = metrics(y, p)
        met['confusion'] = conf
        pats = np.array([recs[n]['patient'] for n, k in zip(names, m) if k])
        payload = [(y[pats == u], p[pats == u]) for u in np.unique(pats)]
        met['n_patients'] = len(payload)
        met['ci95'] = common.bootstrap_ci(
            payload, lambda gs: metrics(np.concatenate([a for a, _ in gs]), np.concatenate([b for _, b in gs]))[0])
        results[name] = met
        common.log(f'{name}: accuracy {met["accuracy"]:.3f} {met["ci95"].get("accuracy")} kappa {met["kappa"]:.3f} '
                   f'{met["ci95"].get("kappa")} confusion {conf}')

    # How Sentinel's reports code each class: the nearest BI-RADS (5th edition) breast
    # composition of DICOM CID 6000, an approximation the model card states (mini-MIAS's dense
    # class spans BI-RADS c and d and is coded c).
    CLASS_CODES = {
        'fatty': {'CodeValue': '129716005', 'CodingSchemeDesignator': 'SCT', 'CodeMeaning': 'Almost entirely fatty'},
        'fatty-glandular': {'CodeValue': '129717001', 'CodingSchemeDesignator': 'SCT', 'CodeMeaning': 'Scattered fibroglandular densities'},
        'dense-glandular': {'CodeValue': '129718006', 'CodingSchemeDesignator': 'SCT', 'CodeMeaning': 'Heterogeneously dense'},
    }
    onnx_path = os.path.join(args.out, f'{MODEL_ID}.onnx')
    sha = common.export_onnx(final, torch.zeros(1, 1, SIZE, SIZE), onnx_path, 'input', ['class_probabilities'])
    manifest = {
        'id': MODEL_ID,
        'name': 'Sentinel mammography breast density classifier (small CNN, from scratch)',
        'version': '1.0.0',
        'task': 'mammography-density',
        'modality': 'MG',
        'file': f'{MODEL_ID}.onnx',
        'sha256': sha,
        'input': {
            'name': 'input', 'layout': 'NCHW', 'channels': 1, 'channelOrder': 'GRAY', 'height': SIZE, 'width': SIZE,
            'normalization': {'scale': 1 / 255, 'mean': [round(mean, 5)], 'std': [round(std, 5)]},
        },
        'outputs': [{'name': 'class_probabilities', 'role': 'class_probabilities', 'classes': CLASSES, 'activation': 'softmax',
                     'classCodes': CLASS_CODES}],
        'thresholds': {},
        'training': {
            'data': 'mini-MIAS (Suckling et al. 1994, Mammographic Image Analysis Society): ../shared/data/mammography/mini-mias, background_tissue F/G/D',
            'license': 'mini-MIAS licence: research use, cite Suckling et al. 1994 (Excerpta Medica ICS 1069 pp375-378), no resale',
            'split': f'by patient, mg-lesion-detector\'s split (seed {base["seed"]}): {len(split["train"])} train / {len(split["validation"])} validation / '
                     f'{len(split["test"])} test patients, {int(part["train"].sum())} / {int(part["validation"].sum())} / {int(part["test"].sum())} films ({MODEL_ID}.split.json)',
            'script': 'models/training/train_density.py',
        },
        'intendedUse': 'Research use only. Not a medical device. Not for diagnosis.',
    }
    # The manifest's normalization must reproduce to_tensor(): (v/255 - mean) / std.
    common.write_json(os.path.join(args.out, f'{MODEL_ID}.json'), manifest)
    common.write_json(os.path.join(args.out, f'{MODEL_ID}.split.json'), {
        'unit': 'patient', 'seed': base['seed'], 'from': f'models/{SPLIT_FROM}', **split,
        'images': {k: [n for n, s in zip(names, m) if s] for k, m in part.items()}})
    common.write_json(os.path.join(args.out, f'{MODEL_ID}.metrics.json'), {
        'model': MODEL_ID, 'version': manifest['version'], 'evaluated_by': 'models/training/train_density.py (PyTorch)',
        'unit': 'film; CIs by bootstrap over patients (1000 resamples)', 'epochs': args.epochs, 'selected_epoch': best_epoch,
        'prediction': 'argmax of class_probabilities' + (' (mean of the film and its left/right mirror, in the graph)' if use_mirror else ''),
        'validation_single_film': single, 'validation_mirrored': mirrored, 'mirrored_ensemble': bool(use_mirror),
        'kappa': 'Cohen\'s kappa, unweighted (kappa_quadratic: quadratic weights)', **results})
    common.log(f'wrote {onnx_path}')


if __name__ == '__main__':
    main()
