#!/usr/bin/python3
"""Train `mg-lesion-detector`: a small fully-convolutional network that turns a whole
mammogram (8-bit, bright = dense, 0.8 mm per pixel, 256 x 256 window) into a heatmap of
masses and calcification clusters, from scratch, on mini-MIAS, split by patient.

mini-MIAS: Suckling et al. 1994 (Mammographic Image Analysis Society). Research use only.

    /usr/bin/python3 models/training/train_mg.py [--data DIR] [--epochs N] [--threads N]
"""
import argparse
import csv
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from scipy import ndimage

import common

MODEL_ID = 'mg-lesion-detector'
SOURCE_SPACING = 0.2      # mini-MIAS: 200 micron pixels
SPACING = 0.8             # model input spacing (mm)
SIZE = 256                # input window
STRIDE = 4                # heatmap cell = 3.2 mm
CLASSES = ['mass', 'calcification']
CLASS_OF = {'CIRC': 0, 'SPIC': 0, 'MISC': 0, 'CALC': 1}
IGNORED = {'ARCH', 'ASYM'}  # neither target nor background in the loss, nor false positives in evaluation


def load(data):
    root = os.path.join(data, 'mammography', 'mini-mias')
    images = {}
    with open(os.path.join(root, 'truth.csv')) as f:
        for r in csv.DictReader(f):
            rec = images.setdefault(r['image'], {'patient': r['patient'], 'lesions': [], 'abnormal': False})
            if r['abnormality'] != 'NORM':
                rec['abnormal'] = True
            if r['x'] and r['radius']:
                rec['lesions'].append({'kind': r['abnormality'], 'x': float(r['x']), 'y': float(r['y_from_top']), 'r': float(r['radius'])})
    names = sorted(images)
    factor = int(round(SPACING / SOURCE_SPACING))
    pix = []
    for n in names:
        img = Image.open(os.path.join(root, 'images', f'{n}.png')).convert('L')
        pix.append(np.asarray(img.resize((img.width // factor, img.height // factor), Image.BOX)))
    return names, images, np.stack(pix), factor


def targets(rec, factor, flip):
    """Per-class target and ignore masks at heatmap resolution."""
    h = SIZE // STRIDE
    t = np.zeros((len(CLASSES), h, h), np.float32)
    ignore = np.zeros((h, h), np.float32)
    yy, xx = np.mgrid[0:h, 0:h]
    for les in rec['lesions']:
        scale = factor * STRIDE
        cx, cy, r = les['x'] / scale, les['y'] / scale, max(1.0, les['r'] / scale)
        if flip:
            cx = h - cx
        d2 = (xx + 0.5 - cx) ** 2 + (yy + 0.5 - cy) ** 2
        inside = d2 <= r * r
        if les['kind'] in IGNORED:
            ignore[inside] = 1
        elif les['kind'] in CLASS_OF:
            c = CLASS_OF[les['kind']]
            t[c] = np.maximum(t[c], np.exp(-d2 / (2 * (0.5 * r) ** 2)) * inside)
            t[c][int(min(h - 1, max(0, cy))), int(min(h - 1, max(0, cx)))] = 1.0
    return t, ignore


class MgNet(nn.Module):
    def __init__(self):
        super().__init__()
        def conv(i, o):
            return nn.Sequential(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True))
        def reduce(i, o):
            return nn.Sequential(nn.Conv2d(i, o, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True), conv(o, o))
        self.e1 = conv(1, 16)                                   # 256
        self.e2 = conv(16, 32)                                  # 128
        self.e3 = nn.Sequential(conv(32, 48), conv(48, 48))     # 64
        self.e4 = nn.Sequential(conv(48, 64), conv(64, 64))     # 32
        self.e5 = nn.Sequential(conv(64, 96), conv(96, 96))     # 16
        self.d4 = reduce(96 + 64, 48)
        self.d3 = reduce(48 + 48, 32)
        self.head = nn.Conv2d(32, len(CLASSES), 1)
        self.head.bias.data.fill_(-4.0)

    def logits(self, x):
        x1 = self.e1(x)
        x2 = self.e2(F.max_pool2d(x1, 2))
        x3 = self.e3(F.max_pool2d(x2, 2))      # stride 4
        x4 = self.e4(F.max_pool2d(x3, 2))      # stride 8
        x5 = self.e5(F.max_pool2d(x4, 2))      # stride 16
        d4 = self.d4(torch.cat([F.interpolate(x5, scale_factor=2.0, mode='nearest'), x4], 1))
        d3 = self.d3(torch.cat([F.interpolate(d4, scale_factor=2.0, mode='nearest'), x3], 1))
        return self.head(d3)                   # stride 4

    def forward(self, x):
        heat = torch.sigmoid(self.logits(x))
        score = torch.amax(heat, dim=(1, 2, 3)).unsqueeze(1)
        return heat, score


MEAN, STD = 0.0, 255.0  # input = pixel / 255 (normalisation expressible as scale, mean, std)


def to_input(pix):
    return torch.from_numpy(pix.astype(np.float32) / STD).unsqueeze(1)


def augment_batch(pix_batch, recs, factor):
    xs, ts, igs = [], [], []
    for pix, rec in zip(pix_batch, recs):
        flip = np.random.rand() < 0.5
        p = pix[:, ::-1] if flip else pix
        t, ig = targets(rec, factor, flip)
        g = np.random.uniform(0.7, 1.4)
        p = 255.0 * (p / 255.0) ** g * np.random.uniform(0.85, 1.15)
        shift = np.random.randint(-12, 13, size=2)
        p = np.roll(p, shift, axis=(0, 1))
        t = np.roll(t, shift // STRIDE, axis=(1, 2))
        ig = np.roll(ig, shift // STRIDE, axis=(0, 1))
        xs.append(np.clip(p, 0, 255))
        ts.append(t)
        igs.append(ig)
    return torch.from_numpy(np.stack(xs).astype(np.float32) / STD).unsqueeze(1), torch.from_numpy(np.stack(ts)), torch.from_numpy(np.stack(igs)).unsqueeze(1)


def predict(model, pix):
    model.eval()
    with torch.no_grad():
        heat, score = model(to_input(pix))
    return heat.numpy(), score.squeeze(1).numpy()


def detections(heat, threshold, factor):
    """Connected components above threshold per class → (x, y, score, class) in source pixels,
    centre at the component's maximum (as the TypeScript pipeline does)."""
    out = []
    for c in range(heat.shape[0]):
        lab, n = ndimage.label(heat[c] >= threshold)
        for k in range(1, n + 1):
            m = lab == k
            idx = np.argmax(np.where(m, heat[c], -1))
            y, x = divmod(idx, heat.shape[2])
            s = factor * STRIDE
            out.append(((x + 0.5) * s, (y + 0.5) * s, float(heat[c][y, x]), c))
    return out


def froc(heats, recs, factor, thresholds):
    """Per threshold: (false positives per image, lesion sensitivity); a detection is a hit
    when its centre falls inside a target circle; detections inside ARCH/ASYM circles are not
    counted either way."""
    n_lesions = sum(1 for r in recs for l in r['lesions'] if l['kind'] in CLASS_OF)
    curve = []
    for t in thresholds:
        hits, fps = 0, 0
        for heat, rec in zip(heats, recs):
            dets = detections(heat, t, factor)
            targets_ = [l for l in rec['lesions'] if l['kind'] in CLASS_OF]
            found = set()
            for (x, y, _s, _c) in dets:
                inside = [i for i, l in enumerate(targets_) if (x - l['x']) ** 2 + (y - l['y']) ** 2 <= l['r'] ** 2]
                if inside:
                    found.update(inside)
                elif not any((x - l['x']) ** 2 + (y - l['y']) ** 2 <= l['r'] ** 2 for l in rec['lesions'] if l['kind'] in IGNORED):
                    fps += 1
            hits += len(found)
        curve.append((fps / max(1, len(recs)), hits / max(1, n_lesions), float(t)))
    return curve


def sens_at_fp(curve, fp=1.0):
    ok = [s for f, s, _t in curve if f <= fp]
    return max(ok) if ok else 0.0


def evaluate(model, names, images, pix, factor, idx, thresholds):
    heat, score = predict(model, pix[idx])
    recs = [images[names[i]] for i in idx]
    y = np.array([r['abnormal'] for r in recs])
    curve = froc(heat, recs, factor, thresholds)
    return heat, score, y, recs, curve


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default=common.DEFAULT_DATA)
    ap.add_argument('--epochs', type=int, default=80)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--seed', type=int, default=11)
    ap.add_argument('--eval-every', type=int, default=10)
    ap.add_argument('--out', default=common.MODELS, help='where to write the model files')
    args = ap.parse_args()
    common.seed_everything(args.seed)
    common.threads(args.threads)

    names, images, pix, factor = load(args.data)
    patients = sorted({images[n]['patient'] for n in names})
    rng = np.random.default_rng(args.seed)
    perm = list(rng.permutation(patients))
    n_test, n_val = round(0.2 * len(perm)), round(0.2 * len(perm))
    split = {'test': sorted(perm[:n_test]), 'validation': sorted(perm[n_test:n_test + n_val]), 'train': sorted(perm[n_test + n_val:])}
    idx = {k: [i for i, n in enumerate(names) if images[n]['patient'] in set(v)] for k, v in split.items()}
    common.log(', '.join(f'{k}: {len(v)} images, {sum(images[names[i]]["abnormal"] for i in v)} abnormal' for k, v in idx.items()))

    model = MgNet()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    batch = 8
    steps = args.epochs * int(np.ceil(len(idx['train']) / batch))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    thresholds = np.concatenate([np.linspace(0.02, 0.3, 15), np.linspace(0.32, 0.98, 34)])
    best, best_state = -1, None
    train = np.array(idx['train'])
    for epoch in range(args.epochs):
        model.train()
        order = np.random.permutation(train)
        total = 0.0
        for i in range(0, len(order), batch):
            b = order[i:i + batch]
            x, t, ig = augment_batch(pix[b], [images[names[j]] for j in b], factor)
            logit = model.logits(x)
            w = (1 - ig) * (1 + 20 * t)          # lesions are rare: weight them up
            loss = (F.binary_cross_entropy_with_logits(logit, t, reduction='none') * w).sum() / w.sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(b)
        if (epoch + 1) % args.eval_every == 0 or epoch == args.epochs - 1:
            _h, score, y, _r, curve = evaluate(model, names, images, pix, factor, idx['validation'], thresholds)
            auc = common.roc_auc(y, score)
            s1 = sens_at_fp(curve)
            common.log(f'epoch {epoch + 1} loss {total / len(order):.4f} validation image AUC {auc:.3f} sens@1FP {s1:.3f}')
            if auc + s1 > best:
                best, best_state = auc + s1, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)

    # Operating points on validation: detection threshold = the one giving the best
    # sensitivity at <= 1 FP/image; categories from the image-score distribution.
    _h, val_score, val_y, _r, val_curve = evaluate(model, names, images, pix, factor, idx['validation'], thresholds)
    ok = [(s, -t) for f, s, t in val_curve if f <= 1.0]
    detection = -max(ok)[1] if ok else 0.5
    high = common.threshold_for_specificity(val_y, val_score, 0.9)
    intermediate = common.threshold_for_sensitivity(val_y, val_score, 0.9)
    results = {}
    for name in ('validation', 'test'):
        heat, score, y, recs, curve = evaluate(model, names, images, pix, factor, idx[name], thresholds)
        by_patient = {}
        for i, r in zip(idx[name], range(len(recs))):
            by_patient.setdefault(images[names[i]]['patient'], []).append(r)
        groups = list(by_patient.values())

        def metric(gs, heat=heat, score=score, y=y, recs=recs):
            sel = [k for g in gs for k in g]
            return {'image_auc': common.roc_auc(y[sel], score[sel]),
                    'lesion_sensitivity_at_1fp': sens_at_fp(froc(heat[sel], [recs[k] for k in sel], factor, thresholds))}
        results[name] = {
            'n_images': len(recs), 'n_abnormal': int(y.sum()),
            'n_target_lesions': sum(1 for r in recs for l in r['lesions'] if l['kind'] in CLASS_OF),
            'image_auc': common.roc_auc(y, score),
            'lesion_sensitivity_at_1fp': sens_at_fp(curve),
            'froc': [[round(f, 3), round(s, 3)] for f, s, _t in curve],
            'ci95': common.bootstrap_ci(groups, metric, n_boot=300),
        }
        common.log(f'{name}: image AUC {results[name]["image_auc"]:.3f}, sensitivity at 1 FP/image {results[name]["lesion_sensitivity_at_1fp"]:.3f}')

    onnx_path = os.path.join(args.out, f'{MODEL_ID}.onnx')
    sha = common.export_onnx(model, torch.zeros(1, 1, SIZE, SIZE), onnx_path, 'input', ['lesion_heatmap', 'image_score'])
    manifest = {
        'id': MODEL_ID,
        'name': 'Sentinel mammography lesion detector (small FCN, from scratch)',
        'version': '1.0.0',
        'task': 'mammography-lesion-detection',
        'modality': 'MG',
        'file': f'{MODEL_ID}.onnx',
        'sha256': sha,
        'input': {
            'name': 'input', 'layout': 'NCHW', 'channels': 1, 'channelOrder': 'GRAY', 'height': SIZE, 'width': SIZE,
            'pixelSpacingMm': SPACING,
            'normalization': {'scale': 1 / 255, 'mean': [MEAN], 'std': [1.0]},
        },
        'outputs': [
            {'name': 'lesion_heatmap', 'role': 'lesion_heatmap', 'classes': CLASSES, 'activation': 'sigmoid'},
            {'name': 'image_score', 'role': 'image_score', 'classes': ['abnormal'], 'activation': 'sigmoid'},
        ],
        'thresholds': {'detection': round(float(detection), 4), 'high': round(float(max(high, intermediate)), 4),
                       'intermediate': round(float(intermediate), 4)},
        'training': {
            'data': 'mini-MIAS (Suckling et al. 1994, Mammographic Image Analysis Society): ../shared/data/mammography/mini-mias',
            'license': 'mini-MIAS licence: research use, cite Suckling et al. 1994 (Excerpta Medica ICS 1069 pp375-378), no resale',
            'split': f'by patient, seed {args.seed}: {len(split["train"])} train / {len(split["validation"])} validation / {len(split["test"])} test patients ({MODEL_ID}.split.json)',
            'script': 'models/training/train_mg.py',
        },
        'intendedUse': 'Research use only. Not a medical device. Not for screening or diagnosis.',
    }
    common.write_json(os.path.join(args.out, f'{MODEL_ID}.json'), manifest)
    common.write_json(os.path.join(args.out, f'{MODEL_ID}.split.json'), {'unit': 'patient', 'seed': args.seed, **split,
                                                                             'images': {k: [names[i] for i in v] for k, v in idx.items()}})
    common.write_json(os.path.join(args.out, f'{MODEL_ID}.metrics.json'), {
        'model': MODEL_ID, 'version': manifest['version'], 'evaluated_by': 'models/training/train_mg.py (PyTorch)',
        'epochs': args.epochs, 'ignored_in_evaluation': sorted(IGNORED), **results})
    common.log(f'wrote {onnx_path}')


if __name__ == '__main__':
    main()
