#!/usr/bin/python3
"""Train `mg-lesion-detector` 2.0.0: a small fully-convolutional network that sees BOTH
breasts. Input: a mammogram window (8-bit, bright = dense, 0.8 mm per pixel, 256 x 256) in
channel 0 and the same window of the woman's other breast, same view, mirrored left-right, in
channel 1 (channel 1 = channel 0 when there is no other-breast film). Outputs a heatmap of
masses and calcification clusters of the channel-0 film and its image score. From scratch,
on mini-MIAS, split by patient (the split of 1.0.0, seed 11).

mini-MIAS: Suckling et al. 1994 (Mammographic Image Analysis Society). Research use only.

    /usr/bin/python3 models/training/train_mg.py [--data DIR] [--epochs N] [--threads N] [--seed N]

reproduces the shipped model (defaults: 80 epochs, 1 thread, seed 11): 19 min wall time here
(shared 2-core machine, another training beside it for most of the run), the same weights and
ONNX sha256 as the shipped file.
Data preparation matches the service's pair contract: every film is resampled 0.2 -> 0.8 mm
with PIL's BOX filter; the partner film is resampled the same way, then mirrored with
np.fliplr. A fraction of the training samples (--fallback, 15%) get channel 1 = channel 0
(not mirrored), the service's input when the other breast is missing.

The other options (--fuse, --head, --score, --partner-jitter, --save-state, --from-state,
--skip-test, --out) are the knobs of the candidates compared on validation in the model
card; their defaults are the shipped model.
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
VERSION = '2.0.0'
SOURCE_SPACING = 0.2      # mini-MIAS: 200 micron pixels
SPACING = 0.8             # model input spacing (mm)
SIZE = 256                # input window
STRIDE = 4                # heatmap cell = 3.2 mm
CLASSES = ['mass', 'calcification']
CLASS_OF = {'CIRC': 0, 'SPIC': 0, 'MISC': 0, 'CALC': 1}
IGNORED = {'ARCH', 'ASYM'}  # neither target nor background in the loss, nor false positives in evaluation


def load(data):
    """Films resampled to 0.8 mm (PIL BOX) and, per film, the index of the other breast's film."""
    root = os.path.join(data, 'mammography', 'mini-mias')
    images = {}
    with open(os.path.join(root, 'truth.csv')) as f:
        for r in csv.DictReader(f):
            rec = images.setdefault(r['image'], {'patient': r['patient'], 'laterality': r['laterality'], 'lesions': [], 'abnormal': False})
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
    partner = []
    for i, n in enumerate(names):
        p = [j for j, m in enumerate(names) if j != i and images[m]['patient'] == images[n]['patient']
             and images[m]['laterality'] != images[n]['laterality']]
        partner.append(p[0] if p else -1)
    return names, images, np.stack(pix), np.array(partner), factor


def pair_of(pix, partner, i, fallback=False):
    """The model input of film i: [film, mirrored other-breast film], or [film, film]."""
    p0 = pix[i]
    if fallback or partner[i] < 0:
        return np.stack([p0, p0])
    p1 = pix[partner[i]]
    if p1.shape != p0.shape:   # the service resamples the partner to the film's grid; all mini-MIAS films are 256 x 256
        p1 = np.asarray(Image.fromarray(p1).resize((p0.shape[1], p0.shape[0]), Image.BILINEAR))
    return np.stack([p0, np.fliplr(p1)])


def targets(rec, factor, flip):
    """Per-class target and ignore masks at heatmap resolution; a third target plane holds the
    ARCH/ASYM circles (used only with --aux-asym)."""
    h = SIZE // STRIDE
    t = np.zeros((len(CLASSES) + 1, h, h), np.float32)
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
            t[2] = np.maximum(t[2], np.exp(-d2 / (2 * (0.5 * r) ** 2)) * inside)
        elif les['kind'] in CLASS_OF:
            c = CLASS_OF[les['kind']]
            t[c] = np.maximum(t[c], np.exp(-d2 / (2 * (0.5 * r) ** 2)) * inside)
            t[c][int(min(h - 1, max(0, cy))), int(min(h - 1, max(0, cx)))] = 1.0
    return t, ignore


class MgPairNet(nn.Module):
    """1.0.0's U-Net-like FCN with a two-channel input. fuse='early': the first convolution
    sees [film, partner]; fuse='diff': it sees [film, partner, film - partner] (computed in
    the graph). head='global' adds an image-level logit from pooled stride-16 features
    (trained on the abnormal label, ARCH/ASYM included); score says what `image_score` is:
    'max' (heatmap maximum, as 1.0.0), 'global' (sigmoid of the image logit) or 'mix'
    (their mean)."""

    def __init__(self, fuse='early', head='none', score='max', aux=True):
        super().__init__()
        self.fuse, self.score_kind = fuse, score
        def conv(i, o):
            return nn.Sequential(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True))
        def reduce(i, o):
            return nn.Sequential(nn.Conv2d(i, o, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True), conv(o, o))
        self.e1 = conv(3 if fuse == 'diff' else 2, 16)          # 256
        self.e2 = conv(16, 32)                                  # 128
        self.e3 = nn.Sequential(conv(32, 48), conv(48, 48))     # 64
        self.e4 = nn.Sequential(conv(48, 64), conv(64, 64))     # 32
        self.e5 = nn.Sequential(conv(64, 96), conv(96, 96))     # 16
        self.d4 = reduce(96 + 64, 48)
        self.d3 = reduce(48 + 48, 32)
        self.head = nn.Conv2d(32, len(CLASSES) + (1 if aux else 0), 1)   # aux: an ARCH/ASYM plane, in the image score only
        self.head.bias.data.fill_(-4.0)
        self.image_head = nn.Sequential(nn.Dropout(0.3), nn.Linear(2 * 96, 1)) if head == 'global' else None
        self.recon = None      # pretext head (--pretrain-epochs), dropped before export

    def decoder(self, x):
        if self.fuse == 'diff':
            x = torch.cat([x, x[:, 0:1] - x[:, 1:2]], 1)
        x1 = self.e1(x)
        x2 = self.e2(F.max_pool2d(x1, 2))
        x3 = self.e3(F.max_pool2d(x2, 2))      # stride 4
        x4 = self.e4(F.max_pool2d(x3, 2))      # stride 8
        x5 = self.e5(F.max_pool2d(x4, 2))      # stride 16
        d4 = self.d4(torch.cat([F.interpolate(x5, scale_factor=2.0, mode='nearest'), x4], 1))
        d3 = self.d3(torch.cat([F.interpolate(d4, scale_factor=2.0, mode='nearest'), x3], 1))
        return d3, x5

    def features(self, x):
        d3, x5 = self.decoder(x)
        logit = self.head(d3)                  # stride 4
        g = None
        if self.image_head is not None:
            pooled = torch.cat([torch.mean(x5, dim=(2, 3)), torch.amax(x5, dim=(2, 3))], 1)
            g = self.image_head(pooled)
        return logit, g

    def scores(self, heat, g):
        hm = torch.amax(heat, dim=(1, 2, 3)).unsqueeze(1)
        if g is None or self.score_kind == 'max':
            return hm
        if self.score_kind == 'global':
            return torch.sigmoid(g)
        return 0.5 * (hm + torch.sigmoid(g))

    def forward(self, x):
        logit, g = self.features(x)
        heat = torch.sigmoid(logit)
        return heat[:, :len(CLASSES)], self.scores(heat, g)


MEAN, STD = 0.0, 255.0  # input = pixel / 255 (normalisation expressible as scale, mean, std)


def to_input(pairs):
    return torch.from_numpy(pairs.astype(np.float32) / STD)


def augment_batch(pix, partner, b, recs, factor, fallback, jitter):
    xs, ts, igs = [], [], []
    for i, rec in zip(b, recs):
        fb = np.random.rand() < fallback
        pair = pair_of(pix, partner, i, fallback=fb).astype(np.float64)
        flip = np.random.rand() < 0.5
        if flip:               # both channels: the mirrored partner still faces the film's way
            pair = pair[:, :, ::-1]
        t, ig = targets(rec, factor, flip)
        g = np.random.uniform(0.7, 1.4)
        gain = np.random.uniform(0.85, 1.15)
        shift = np.random.randint(-12, 13, size=2)
        p0 = np.roll(255.0 * (pair[0] / 255.0) ** g * gain, shift, axis=(0, 1))
        if fb:
            p1 = p0
        else:                  # the other film: its own small exposure change and misalignment
            g1 = g * np.random.uniform(0.9, 1.1)
            gain1 = gain * np.random.uniform(0.95, 1.05)
            s1 = shift + np.random.randint(-jitter, jitter + 1, size=2)
            p1 = np.roll(255.0 * (pair[1] / 255.0) ** g1 * gain1, s1, axis=(0, 1))
        t = np.roll(t, shift // STRIDE, axis=(1, 2))
        ig = np.roll(ig, shift // STRIDE, axis=(0, 1))
        xs.append(np.clip(np.stack([p0, p1]), 0, 255))
        ts.append(t)
        igs.append(ig)
    return torch.from_numpy(np.stack(xs).astype(np.float32) / STD), torch.from_numpy(np.stack(ts)), torch.from_numpy(np.stack(igs)).unsqueeze(1)


def pretrain(model, pix, partner, train, epochs, fallback, jitter):
    """Pretext task on the training films, no labels: inpainting with the other breast in
    view. Random 16 x 16 blocks (about 40% of the film) of channel 0 are blanked; a 1 x 1
    head on the stride-4 decoder features predicts the film's 4 x 4 mean at every blanked
    cell (MSE), from the rest of the film and the mirrored partner. Tissue the partner does
    not explain is what the detector has to notice."""
    model.recon = nn.Conv2d(32, 1, 1)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    batch = 8
    steps = epochs * int(np.ceil(len(train) / batch))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    h = SIZE // STRIDE
    dummy = {'lesions': []}
    for epoch in range(epochs):
        model.train()
        order = np.random.permutation(train)
        total = 0.0
        for i in range(0, len(order), batch):
            b = order[i:i + batch]
            x, _t, _ig = augment_batch(pix, partner, b, [dummy] * len(b), 1, fallback, jitter)
            target = F.avg_pool2d(x[:, 0:1], STRIDE)                           # [B,1,64,64]
            blocks = torch.from_numpy((np.random.rand(len(b), 1, SIZE // 16, SIZE // 16) < 0.4).astype(np.float32))
            cells = F.interpolate(blocks, scale_factor=4.0, mode='nearest')   # [B,1,64,64]
            mask = F.interpolate(blocks, scale_factor=16.0, mode='nearest')   # [B,1,256,256]
            fb = (x[:, 0] == x[:, 1]).flatten(1).all(1).view(-1, 1, 1, 1).float()
            x0 = x[:, 0:1] * (1 - mask)
            x1 = fb * x0 + (1 - fb) * x[:, 1:2]      # fallback samples: channel 1 = the blanked film too
            d3, _x5 = model.decoder(torch.cat([x0, x1], 1))
            pred = model.recon(d3)
            loss = (((pred - target) ** 2) * cells).sum() / cells.sum().clamp(min=1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(b)
        if (epoch + 1) % 5 == 0 or epoch == 0:
            common.log(f'pretext epoch {epoch + 1} inpainting MSE {total / len(order):.5f}')
    model.recon = None


def predict(model, pairs):
    """Heatmaps, the model's image_score, and the two score parts (heatmap max, global)."""
    model.eval()
    with torch.no_grad():
        logit, g = model.features(to_input(pairs))
        heat = torch.sigmoid(logit)
        score = model.scores(heat, g)
    hm = torch.amax(heat, dim=(1, 2, 3)).numpy()
    gs = torch.sigmoid(g).squeeze(1).numpy() if g is not None else hm
    return heat[:, :len(CLASSES)].numpy(), score.squeeze(1).numpy(), {'max': hm, 'global': gs, 'mix': 0.5 * (hm + gs)}


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


def evaluate(model, names, images, pix, partner, factor, idx, thresholds, fallback=False):
    pairs = np.stack([pair_of(pix, partner, i, fallback=fallback) for i in idx])
    heat, score, parts = predict(model, pairs)
    recs = [images[names[i]] for i in idx]
    y = np.array([r['abnormal'] for r in recs])
    curve = froc(heat, recs, factor, thresholds)
    return heat, score, y, recs, curve, parts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default=common.DEFAULT_DATA)
    ap.add_argument('--epochs', type=int, default=80)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--seed', type=int, default=11)
    ap.add_argument('--eval-every', type=int, default=10)
    ap.add_argument('--fuse', choices=['early', 'diff'], default='early')
    ap.add_argument('--head', choices=['none', 'global'], default='none')
    ap.add_argument('--score', choices=['max', 'global', 'mix'], default='max')
    ap.add_argument('--image-loss', type=float, default=0.3, help='weight of the image-level loss (head global)')
    ap.add_argument('--fallback', type=float, default=0.15, help='share of training samples with channel 1 = channel 0')
    ap.add_argument('--partner-jitter', type=int, default=8, help='extra random shift of the partner film (pixels)')
    ap.add_argument('--aux-asym', action=argparse.BooleanOptionalAction, default=True,
                    help='a third, hidden heatmap plane for ARCH/ASYM circles, counted in the image score (not an output)')
    ap.add_argument('--pretrain-epochs', type=int, default=0, help='epochs of the inpainting pretext task before training')
    ap.add_argument('--out', default=common.MODELS, help='where to write the model files')
    ap.add_argument('--save-state', help='also save the chosen weights here (torch.save)')
    ap.add_argument('--from-state', help='skip training: load these weights (saved by --save-state with the same options)')
    ap.add_argument('--skip-test', action='store_true', help='candidates: validation only, no test figures, no export')
    args = ap.parse_args()
    common.seed_everything(args.seed)
    common.threads(args.threads)

    names, images, pix, partner, factor = load(args.data)
    patients = sorted({images[n]['patient'] for n in names})
    rng = np.random.default_rng(args.seed)
    perm = list(rng.permutation(patients))
    n_test, n_val = round(0.2 * len(perm)), round(0.2 * len(perm))
    split = {'test': sorted(perm[:n_test]), 'validation': sorted(perm[n_test:n_test + n_val]), 'train': sorted(perm[n_test + n_val:])}
    idx = {k: [i for i, n in enumerate(names) if images[n]['patient'] in set(v)] for k, v in split.items()}
    common.log(', '.join(f'{k}: {len(v)} images, {sum(images[names[i]]["abnormal"] for i in v)} abnormal' for k, v in idx.items()))
    common.log(f'options: {vars(args)}')

    model = MgPairNet(fuse=args.fuse, head=args.head, score=args.score, aux=args.aux_asym)
    thresholds = np.concatenate([np.linspace(0.02, 0.3, 15), np.linspace(0.32, 0.98, 34)])
    if args.from_state:
        model.load_state_dict(torch.load(args.from_state))
        common.log(f'loaded {args.from_state}')
    else:
        if args.pretrain_epochs:
            pretrain(model, pix, partner, np.array(idx['train']), args.pretrain_epochs, args.fallback, args.partner_jitter)
        opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
        batch = 8
        steps = args.epochs * int(np.ceil(len(idx['train']) / batch))
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
        best, best_state = -1, None
        train = np.array(idx['train'])
        for epoch in range(args.epochs):
            model.train()
            order = np.random.permutation(train)
            total = 0.0
            for i in range(0, len(order), batch):
                b = order[i:i + batch]
                recs = [images[names[j]] for j in b]
                x, t, ig = augment_batch(pix, partner, b, recs, factor, args.fallback, args.partner_jitter)
                logit, g = model.features(x)
                n_cls = len(CLASSES)
                w = (1 - ig) * (1 + 20 * t[:, :n_cls])          # lesions are rare: weight them up
                loss = (F.binary_cross_entropy_with_logits(logit[:, :n_cls], t[:, :n_cls], reduction='none') * w).sum() / w.sum()
                if args.aux_asym:
                    wa = 1 + 20 * t[:, n_cls:]
                    loss = loss + (F.binary_cross_entropy_with_logits(logit[:, n_cls:], t[:, n_cls:], reduction='none') * wa).sum() / wa.sum()
                if g is not None:
                    yb = torch.tensor([[float(r['abnormal'])] for r in recs])
                    loss = loss + args.image_loss * F.binary_cross_entropy_with_logits(g, yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                total += float(loss) * len(b)
            if epoch == 0:
                common.log(f'epoch 1 done (loss {total / len(order):.4f})')
            if (epoch + 1) % args.eval_every == 0 or epoch == args.epochs - 1:
                _h, score, y, _r, curve, parts = evaluate(model, names, images, pix, partner, factor, idx['validation'], thresholds)
                auc = common.roc_auc(y, score)
                s1 = sens_at_fp(curve)
                fb = evaluate(model, names, images, pix, partner, factor, idx['validation'], thresholds, fallback=True)
                common.log(f'epoch {epoch + 1} loss {total / len(order):.4f} validation image AUC {auc:.3f} sens@1FP {s1:.3f} '
                           f'(AUC by score: max {common.roc_auc(y, parts["max"]):.3f} global {common.roc_auc(y, parts["global"]):.3f} '
                           f'mix {common.roc_auc(y, parts["mix"]):.3f}; without partner: AUC {common.roc_auc(fb[2], fb[1]):.3f} sens@1FP {sens_at_fp(fb[4]):.3f})')
                if auc + s1 > best:
                    best, best_state = auc + s1, {k: v.clone() for k, v in model.state_dict().items()}
        model.load_state_dict(best_state)
        if args.save_state:
            torch.save(best_state, args.save_state)

    # Operating points on validation: detection threshold = the one giving the best
    # sensitivity at <= 1 FP/image; categories from the image-score distribution.
    _h, val_score, val_y, _r, val_curve, _p = evaluate(model, names, images, pix, partner, factor, idx['validation'], thresholds)
    fb = evaluate(model, names, images, pix, partner, factor, idx['validation'], thresholds, fallback=True)
    common.log(f'chosen: validation image AUC {common.roc_auc(val_y, val_score):.4f} sens@1FP {sens_at_fp(val_curve):.4f}; '
               f'without partner (channel 1 = channel 0): AUC {common.roc_auc(fb[2], fb[1]):.4f} sens@1FP {sens_at_fp(fb[4]):.4f}')
    if args.skip_test:
        return
    ok = [(s, -t) for f, s, t in val_curve if f <= 1.0]
    detection = -max(ok)[1] if ok else 0.5
    high = common.threshold_for_specificity(val_y, val_score, 0.9)
    intermediate = common.threshold_for_sensitivity(val_y, val_score, 0.9)
    results = {}
    for name in ('validation', 'test'):
        heat, score, y, recs, curve, _p = evaluate(model, names, images, pix, partner, factor, idx[name], thresholds)
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
        common.log(f'{name}: image AUC {results[name]["image_auc"]:.4f} {results[name]["ci95"].get("image_auc")}, '
                   f'sensitivity at 1 FP/image {results[name]["lesion_sensitivity_at_1fp"]:.4f} {results[name]["ci95"].get("lesion_sensitivity_at_1fp")}')
    tfb = evaluate(model, names, images, pix, partner, factor, idx['test'], thresholds, fallback=True)
    common.log(f'test without partner (channel 1 = channel 0): AUC {common.roc_auc(tfb[2], tfb[1]):.4f} sens@1FP {sens_at_fp(tfb[4]):.4f}')

    onnx_path = os.path.join(args.out, f'{MODEL_ID}.onnx')
    sha = common.export_onnx(model, torch.zeros(1, 2, SIZE, SIZE), onnx_path, 'input', ['lesion_heatmap', 'image_score'])
    manifest = {
        'id': MODEL_ID,
        'name': 'Sentinel mammography lesion detector, both breasts (small FCN, from scratch)',
        'version': VERSION,
        'task': 'mammography-lesion-detection',
        'modality': 'MG',
        'file': f'{MODEL_ID}.onnx',
        'sha256': sha,
        'input': {
            'name': 'input', 'layout': 'NCHW', 'views': 'pair', 'channels': 2, 'channelOrder': 'GRAY', 'height': SIZE, 'width': SIZE,
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
