#!/usr/bin/python3
"""Train `busi-segmenter`: breast-ultrasound lesion segmentation, a small U-Net from scratch
that turns a whole grayscale ultrasound image into a per-pixel lesion probability (sigmoid in
the graph, left-right flip averaging in the graph). A lesion-present head on the bottleneck
(normal vs benign/malignant) is trained with the masks and used in the graph: where it says
"lesion" but no pixel would survive the mask threshold and minimum component area, the map is
rescaled so that its strongest region does (the miss fallback); where it says "normal" with
confidence, the map can be zeroed (the normal gate). Both are chosen on validation.

Data: BUSI images (../shared/data/ultrasound/busi; Al-Dhabyani et al. 2020, Data in Brief
28:104863) and the release's ground-truth masks (../shared/data/ultrasound/busi-masks,
aligned pixel for pixel, empty for normal images). Benign, malignant and normal images are
all trained on. The split is `busi-classifier`'s (train_busi.py: by image, near-duplicate
groups kept together, same seed), so the segmenter's test images are the classifier's.
The binarisation threshold and the post-processing (minimum component area, largest
component only) are chosen on validation; test is evaluated once, at the end. Dice and IoU
are computed per image at the images' own resolution (the probability map is resized back
before thresholding). Research use only.

    /usr/bin/python3 models/training/train_busi_seg.py [--data DIR] [--epochs N] [--threads N] [--seed N]

Training: whole images resized to 160 x 160, augmented, then a random 128 x 128 crop per image
(cheaper steps; the network is run on the whole 160 x 160 image), 60 epochs, about 72 min on
one thread here. Development options: --size N (model input), --crop N (0: no crop), --out
DIR (where the model files go; default models/), --no-test (skip the test split: for
candidate runs), --save-weights / --weights (evaluate and export saved weights), --dump DIR
(validation inputs and outputs for the onnxruntime-node check).
"""
import argparse
import json
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

import common
import train_busi

MODEL_ID = 'busi-segmenter'
VERSION = '1.1.0'
CLASSES = train_busi.CLASSES          # normal, benign, malignant (train_busi's label order)
SIZE = 160                            # model input (the data's images are 256 x 256); --size
BASE = 16                             # U-Net channels: 16-32-64-128-256
CLS_WEIGHT = 0.3                      # weight of the lesion-present head's loss
THRESHOLDS = [round(t, 2) for t in np.arange(0.30, 0.901, 0.05)]
MIN_AREAS = [0.0, 0.0005, 0.001, 0.002, 0.004, 0.007, 0.01, 0.015, 0.02]   # fraction of the image
# In-graph rules driven by the lesion-present probability c (chosen on validation, 0 = off):
FALLBACK_CLS = [0.0, 0.5, 0.7, 0.9]   # miss fallback when c >= this (0: never)
FALLBACK_REL = [0.3, 0.5, 0.7]        # ... keeping the pixels >= this fraction of the image's peak
# normal gate: map zeroed when c < this (0: never); kept <= 0.3: on validation the lowest lesion
# images' c is 0.54-0.58, so a higher gate would rest on a few hundredths
GATE_CLS = [0.0, 0.05, 0.1, 0.2, 0.3]


# ---------------------------------------------------------------------------- data

def load(data):
    """Images and masks at their own resolution, with train_busi's labels, names and split."""
    _, labels, names, hashes = train_busi.load(data)
    imgs, masks = [], []
    for name in names:
        cls, file = name.split('/', 1)
        img = Image.open(os.path.join(data, 'ultrasound', 'busi', cls, file)).convert('L')
        mask = Image.open(os.path.join(data, 'ultrasound', 'busi-masks', cls, file[:-4] + '_mask.png')).convert('L')
        if img.size != mask.size:
            raise ValueError(f'{name}: image {img.size} and mask {mask.size} differ')
        imgs.append(np.asarray(img, dtype=np.uint8))
        masks.append(np.asarray(mask) > 127)
    return imgs, masks, labels, names, hashes


def resize(a, size, resample=Image.BILINEAR):
    return np.asarray(Image.fromarray(a).resize((size, size), resample))


def to_tensor(imgs, mean, std):
    return (torch.from_numpy(np.stack(imgs)).float().unsqueeze(1) / 255.0 - mean) / std


# ---------------------------------------------------------------------------- model

def cbr(i, o):
    return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]


class UNet(nn.Module):
    """4 down / 4 up levels, two 3x3 conv + BN + ReLU per level, max-pool down, transposed
    conv up, skip connections by concatenation; one logit channel. A lesion-present head
    (global average + max pooling of the bottleneck, one linear layer) gives a second logit."""

    def __init__(self, base=BASE, levels=4):
        super().__init__()
        ch = [base * 2 ** i for i in range(levels + 1)]
        self.enc = nn.ModuleList([nn.Sequential(*cbr(1 if i == 0 else ch[i - 1], ch[i]), *cbr(ch[i], ch[i])) for i in range(levels + 1)])
        self.up = nn.ModuleList([nn.ConvTranspose2d(ch[i + 1], ch[i], 2, stride=2) for i in range(levels)])
        self.dec = nn.ModuleList([nn.Sequential(*cbr(2 * ch[i], ch[i]), *cbr(ch[i], ch[i])) for i in range(levels)])
        self.drop = nn.Dropout2d(0.2)
        self.head = nn.Conv2d(ch[0], 1, 1)
        self.cls = nn.Linear(2 * ch[-1], 1)

    def forward(self, x):
        skips = []
        for i, enc in enumerate(self.enc):
            if i:
                x = F.max_pool2d(x, 2)
            x = enc(x)
            skips.append(x)
        x = self.drop(skips.pop())
        c = self.cls(torch.cat([x.mean((2, 3)), x.amax((2, 3))], 1))
        for i in reversed(range(len(self.dec))):
            x = self.dec[i](torch.cat([self.up[i](x), skips[i]], 1))
        return self.head(x), c


def tta(net, x, rev):
    """Sigmoid map and lesion-present probability, each the mean over the image and its mirror."""
    s, c = net(x)
    s2, c2 = net(x.index_select(3, rev))
    return (torch.sigmoid(s) + torch.sigmoid(s2).index_select(3, rev)) * 0.5, (torch.sigmoid(c) + torch.sigmoid(c2)) * 0.5


def apply_rules(p, c, threshold, min_area, fallback_cls, fallback_rel, gate_cls):
    """The in-graph post-processing driven by the lesion-present probability c ([N, 1]):
    - miss fallback (fallback_cls > 0): where c >= fallback_cls and the area >= threshold is
      below min_area of the image (so nothing would survive the pipeline's minimum component
      area), the map is multiplied by threshold / (fallback_rel * peak), capped at 1, so that the
      pixels >= fallback_rel x the image's peak pass the threshold;
    - normal gate (gate_cls > 0): where c < gate_cls, the map is zeroed.
    The result is still a map in [0, 1] that the pipeline thresholds as before."""
    c = c.view(-1, 1, 1, 1)
    if fallback_cls > 0:
        peak = p.amax((2, 3), keepdim=True).clamp_min(1e-6)
        area = (p >= threshold).float().mean((2, 3), keepdim=True)
        fire = (c >= fallback_cls) & (area < max(min_area, 1e-9))
        p = torch.where(fire, (p * (threshold / fallback_rel) / peak).clamp_max(1.0), p)
    if gate_cls > 0:
        p = torch.where(c < gate_cls, torch.zeros_like(p), p)
    return p


class Segmenter(nn.Module):
    """What is exported: mean of the sigmoid over the image and its left-right mirror, then
    apply_rules with the post-processing chosen on validation."""

    def __init__(self, net, size=SIZE, rules=None):
        super().__init__()
        self.net = net
        self.rules = rules
        self.register_buffer('rev', torch.arange(size - 1, -1, -1))

    def forward(self, x):
        p, c = tta(self.net, x, self.rev)
        if self.rules:
            p = apply_rules(p, c, **self.rules)
        return p


# ---------------------------------------------------------------------------- training

def augment(x, y):
    """Same random left-right flip and affine (rotation +-15 degrees, scale +-20%, shift
    +-12%) for image and mask (intensity jitter is applied before, see intensity())."""
    n = x.shape[0]
    flip = (torch.rand(n) < 0.5).view(n, 1, 1, 1)
    x = torch.where(flip, x.flip(3), x)
    y = torch.where(flip, y.flip(3), y)
    ang = (torch.rand(n) - 0.5) * 0.52
    sc = 1 + (torch.rand(n) - 0.5) * 0.4
    tx, ty = (torch.rand(n) - 0.5) * 0.24, (torch.rand(n) - 0.5) * 0.24
    theta = torch.stack([torch.stack([sc * torch.cos(ang), -sc * torch.sin(ang), tx], 1),
                         torch.stack([sc * torch.sin(ang), sc * torch.cos(ang), ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, padding_mode='border', align_corners=False)
    y = F.grid_sample(y, grid, padding_mode='zeros', align_corners=False)
    return x, y


def random_crop(x, y, size):
    """The same random size x size window of image and mask, drawn per image (training only:
    the network is fully convolutional and is run on the whole SIZE x SIZE image)."""
    n, _, h, w = x.shape
    oy = torch.randint(0, h - size + 1, (n,)); ox = torch.randint(0, w - size + 1, (n,))
    xs = torch.stack([x[k, :, oy[k]:oy[k] + size, ox[k]:ox[k] + size] for k in range(n)])
    ys = torch.stack([y[k, :, oy[k]:oy[k] + size, ox[k]:ox[k] + size] for k in range(n)])
    return xs, ys


def intensity(u8):
    """Gamma, contrast and brightness jitter on [0, 1] pixel values (before normalisation),
    and Gaussian pixel noise on half the images."""
    n = u8.shape[0]
    g = torch.exp((torch.rand(n, 1, 1, 1) - 0.5) * 0.6)
    v = u8.clamp(0, 1) ** g
    v = v * (1 + 0.2 * torch.randn(n, 1, 1, 1)) + 0.08 * torch.randn(n, 1, 1, 1)
    noisy = (torch.rand(n, 1, 1, 1) < 0.5).float()
    return v + noisy * 0.03 * torch.randn_like(v)


def loss_fn(logits, cls_logit, y):
    """BCE over all pixels + soft Dice per image averaged over the images that hold a lesion
    (so a missed small lesion costs as much as a missed large one) + CLS_WEIGHT x BCE of the
    lesion-present head."""
    bce = F.binary_cross_entropy_with_logits(logits, y)
    p = torch.sigmoid(logits)
    inter, ps, ys = (p * y).sum((1, 2, 3)), p.sum((1, 2, 3)), y.sum((1, 2, 3))
    present = ys > 1.0
    dice = (1 - (2 * inter + 1) / (ps + ys + 1))[present].mean() if present.any() else logits.sum() * 0
    cls = F.binary_cross_entropy_with_logits(cls_logit[:, 0], present.float())
    return bce + dice + CLS_WEIGHT * cls


# ---------------------------------------------------------------------------- evaluation

def model_maps(model, imgs, mean, std, flip=True, bs=32):
    """Model-resolution probability maps [N, 1, SIZE, SIZE] and lesion-present probabilities [N, 1]."""
    model.eval()
    rev = torch.arange(SIZE - 1, -1, -1)
    ps, cs = [], []
    with torch.no_grad():
        for i in range(0, len(imgs), bs):
            x = to_tensor([resize(a, SIZE) for a in imgs[i:i + bs]], mean, std)
            if flip:
                p, c = tta(model, x, rev)
            else:
                s, c = model(x)
                p, c = torch.sigmoid(s), torch.sigmoid(c)
            ps.append(p); cs.append(c)
    return torch.cat(ps), torch.cat(cs)


def to_image_size(p, imgs):
    """Bilinear resize of each model-resolution map back to its image's own size."""
    return [F.interpolate(q[None], size=a.shape, mode='bilinear', align_corners=False)[0, 0].numpy() for a, q in zip(imgs, p)]


def predict(model, imgs, mean, std, tta=True, bs=32, rules=None):
    """Probability maps at the images' own resolution (bilinear resize of the model's map),
    after the in-graph rules if given: what the exported graph and the pipeline produce."""
    p, c = model_maps(model, imgs, mean, std, flip=tta, bs=bs)
    if rules:
        p = apply_rules(p, c, **rules)
    return to_image_size(p, imgs)


def components(mask):
    """8-connected components of a 2-D bool mask by row runs: list of (rows, starts, ends)
    per component (ends exclusive)."""
    parent = []

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i
    runs = []   # (row, start, end, id)
    prev = []
    for r in range(mask.shape[0]):
        row = np.concatenate([[0], mask[r].astype(np.int8), [0]])
        d = np.diff(row)
        starts, ends = np.nonzero(d == 1)[0], np.nonzero(d == -1)[0]
        cur = []
        j = 0
        for s, e in zip(starts, ends):
            k = len(parent)
            parent.append(k)
            while j < len(prev) and prev[j][2] < s:      # previous-row runs ending before s - 1
                j += 1
            jj = j
            while jj < len(prev) and prev[jj][1] <= e:   # overlapping or diagonal neighbours
                a, b = find(prev[jj][3]), find(k)
                if a != b:
                    parent[a] = b
                jj += 1
            cur.append((r, s, e, k))
        runs += cur
        prev = cur
    comps = {}
    for r, s, e, k in runs:
        comps.setdefault(find(k), []).append((r, s, e))
    return list(comps.values())


def component_stats(pred, truth):
    """(area, overlap with truth) of each component of pred."""
    out = []
    for comp in components(pred):
        area = sum(e - s for _, s, e in comp)
        inter = sum(int(truth[r, s:e].sum()) for r, s, e in comp)
        out.append((area, inter))
    return out


def image_scores(stats, gt_area, n_pix, min_area, largest):
    """Dice, IoU and predicted-area fraction of one image after post-processing."""
    kept = [c for c in stats if c[0] >= min_area * n_pix]
    if largest and kept:
        kept = [max(kept, key=lambda c: c[0])]
    area = sum(a for a, _ in kept)
    inter = sum(i for _, i in kept)
    if gt_area == 0:
        dice = iou = float(area == 0)
    else:
        dice = 2 * inter / (area + gt_area)
        iou = inter / (area + gt_area - inter)
    return dice, iou, area / n_pix


def per_image(probs, masks, labels, threshold, min_area, largest, cache=None):
    rows = []
    for i, (p, m) in enumerate(zip(probs, masks)):
        key = (i, threshold)
        if cache is not None and key in cache:
            stats = cache[key]
        else:
            stats = component_stats(p >= threshold, m)
            if cache is not None:
                cache[key] = stats
        d, j, frac = image_scores(stats, int(m.sum()), m.size, min_area, largest)
        rows.append((int(labels[i]), d, j, frac))
    return rows


def summarise(rows):
    lab = np.array([r[0] for r in rows])
    dice = np.array([r[1] for r in rows]); iou = np.array([r[2] for r in rows]); frac = np.array([r[3] for r in rows])
    les = lab > 0
    nan = float('nan')
    return {
        'n_images': int(len(rows)), 'n_lesion_images': int(les.sum()), 'n_normal': int((~les).sum()),
        'dice_mean': float(dice[les].mean()) if les.any() else nan,
        'iou_mean': float(iou[les].mean()) if les.any() else nan,
        'dice_median': float(np.median(dice[les])) if les.any() else nan,
        'dice_benign': float(dice[lab == 1].mean()) if (lab == 1).any() else nan,
        'dice_malignant': float(dice[lab == 2].mean()) if (lab == 2).any() else nan,
        'iou_benign': float(iou[lab == 1].mean()) if (lab == 1).any() else nan,
        'iou_malignant': float(iou[lab == 2].mean()) if (lab == 2).any() else nan,
        'lesion_images_missed': float((dice[les] == 0).mean()) if les.any() else nan,
        'normal_fp_fraction': float(frac[~les].mean()) if (~les).any() else nan,
        'normal_empty_fraction': float((frac[~les] == 0).mean()) if (~les).any() else nan,
        'dice_all_images': float(dice.mean()),
    }


def dice_at(probs, masks, labels, threshold=0.5):
    """Quick validation Dice during training: threshold only, lesion images only."""
    ds = []
    for p, m, y in zip(probs, masks, labels):
        if y > 0:
            b = p >= threshold
            ds.append(2 * (b & m).sum() / max(1, b.sum() + m.sum()))
    return float(np.mean(ds))


# ---------------------------------------------------------------------------- main

def choose_postprocessing(p, c, imgs, masks, labels):
    """Grid over threshold, minimum component area, largest component only and the in-graph
    rules (miss fallback, normal gate) on validation. p, c: model-resolution maps and
    lesion-present probabilities. Components are computed once per threshold, and for the
    fallback once per (threshold, fallback_rel) on the images where it can fire. Objective: mean Dice over all images, a normal image
    counting 1 if nothing is predicted on it and 0 otherwise; ties go to the earlier (simpler)
    choice."""
    full = to_image_size(p, imgs)
    cc = c.view(-1).numpy()
    area = {t: (p >= t).float().mean((1, 2, 3)).numpy() for t in THRESHOLDS}
    st_thr = {t: [component_stats(q >= t, m) for q, m in zip(full, masks)] for t in THRESHOLDS}
    st_fb = {}

    def fallback_stats(i, t, r):
        if (i, t, r) not in st_fb:
            q = apply_rules(p[i:i + 1], c[i:i + 1], t, 1.0, 1e-9, r, 0.0)     # fires: area < 1
            st_fb[i, t, r] = component_stats(to_image_size(q, imgs[i:i + 1])[0] >= t, masks[i])
        return st_fb[i, t, r]
    gt = [int(m.sum()) for m in masks]
    npix = [m.size for m in masks]
    fallbacks = [(0.0, None)] + [(fc, r) for fc in FALLBACK_CLS if fc > 0 for r in FALLBACK_REL]
    grid = []
    for t in THRESHOLDS:
        for a in MIN_AREAS:
            for largest in (False, True):
                for fc, r in fallbacks:
                    fire = (cc >= fc) & (area[t] < max(a, 1e-9)) if fc > 0 else np.zeros(len(cc), bool)
                    for g in GATE_CLS:
                        gated = cc < g if g > 0 else np.zeros(len(cc), bool)
                        rows = []
                        for i in range(len(imgs)):
                            stats = [] if gated[i] else (fallback_stats(i, t, r) if fire[i] else st_thr[t][i])
                            d, j, frac = image_scores(stats, gt[i], npix[i], a, largest)
                            rows.append((int(labels[i]), d, j, frac))
                        grid.append({'threshold': t, 'min_area_fraction': a, 'largest_only': largest,
                                     'fallback_cls': fc, 'fallback_rel': r if fc > 0 else 0.0, 'gate_cls': g, **summarise(rows)})
    return grid


def main():
    global SIZE
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default=common.DEFAULT_DATA)
    ap.add_argument('--epochs', type=int, default=60)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--seed', type=int, default=11)
    ap.add_argument('--size', type=int, default=SIZE, help='model input size (square)')
    ap.add_argument('--crop', type=int, default=128, help='train on random crops of this size (0: whole images)')
    ap.add_argument('--out', default=common.MODELS, help='directory for the model files (default models/)')
    ap.add_argument('--no-test', action='store_true', help='do not evaluate the test split (candidate runs)')
    ap.add_argument('--save-weights', help='also save the selected weights (a .pt file) here')
    ap.add_argument('--weights', help='skip training: load these weights (from --save-weights) and evaluate/export')
    ap.add_argument('--dump', help='write the validation inputs and outputs here (for the onnxruntime-node check)')
    args = ap.parse_args()
    SIZE = args.size
    common.seed_everything(args.seed)
    common.threads(args.threads)
    t0 = time.time()
    os.makedirs(args.out, exist_ok=True)

    imgs, masks, labels, names, hashes = load(args.data)
    groups, pairs = train_busi.duplicate_groups(hashes)
    part = train_busi.split_groups(groups, labels, args.seed)
    common.log(f'{len(imgs)} images, {pairs} near-duplicate pairs, {len(np.unique(groups))} groups; ' +
               ', '.join(f'{k}: {m.sum()} ({np.bincount(labels[m], minlength=3).tolist()})' for k, m in part.items()))
    split = {k: [names[i] for i in np.nonzero(m)[0]] for k, m in part.items()}
    same_as_classifier = None
    cls_split = os.path.join(common.MODELS, 'busi-classifier.split.json')
    if os.path.exists(cls_split):
        with open(cls_split) as f:
            ref = json.load(f)
        same_as_classifier = all(sorted(ref[k]) == sorted(split[k]) for k in split) and ref.get('seed') == args.seed
        common.log(f'split identical to busi-classifier.split.json: {same_as_classifier}')

    idx = {k: np.nonzero(m)[0] for k, m in part.items()}
    tr = idx['train']
    tx = np.stack([resize(imgs[i], SIZE) for i in tr])
    ty = np.stack([resize(masks[i].astype(np.float32), SIZE) for i in tr])   # soft edges after resize
    mean, std = float(tx.mean() / 255), float(tx.std() / 255)
    vimgs = [imgs[i] for i in idx['validation']]
    vmasks = [masks[i] for i in idx['validation']]
    vlab = labels[idx['validation']]

    model = UNet()
    n_params = sum(p.numel() for p in model.parameters())
    history, best_epoch = [], 0
    if args.weights:
        saved = torch.load(args.weights)
        if saved.get('size') != SIZE:
            raise ValueError(f'{args.weights} was trained at {saved.get("size")}, not --size {SIZE}')
        model.load_state_dict(saved['state'])
        history, best_epoch, train_minutes, epochs = saved['history'], saved['best_epoch'], saved['train_minutes'], saved['epochs']
        args.crop = saved.get('crop', 0)
        common.log(f'loaded {args.weights} (epoch {best_epoch} of {epochs})')
    else:
        epochs = args.epochs
        bs = 16
        opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
        steps = args.epochs * int(np.ceil(len(tr) / bs))
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps, pct_start=0.15)
        ema = {k: v.detach().clone() for k, v in model.state_dict().items()}
        decay = 0.99
        best = -1.0
        best_state = None
        for epoch in range(args.epochs):
            model.train()
            order = np.random.permutation(len(tr))
            total = 0.0
            for i in range(0, len(order), bs):
                b = order[i:i + bs]
                x = intensity(torch.from_numpy(tx[b]).float().unsqueeze(1) / 255.0)
                y = torch.from_numpy(ty[b]).unsqueeze(1)
                x, y = augment((x - mean) / std, y)
                if args.crop:
                    x, y = random_crop(x, y, args.crop)
                loss = loss_fn(*model(x), y)
                opt.zero_grad(); loss.backward(); opt.step(); sched.step()
                total += float(loss) * len(b)
                with torch.no_grad():
                    for k, v in model.state_dict().items():
                        if v.dtype.is_floating_point:
                            ema[k].mul_(decay).add_(v.detach(), alpha=1 - decay)
                        else:
                            ema[k].copy_(v)
            # Model selection on validation only (EMA weights, threshold 0.5, lesion images);
            # from the second half on, later epochs win ties.
            live = {k: v.clone() for k, v in model.state_dict().items()}
            model.load_state_dict(ema)
            vd = dice_at(predict(model, vimgs, mean, std, tta=False), vmasks, vlab)
            model.load_state_dict(live)
            history.append({'epoch': epoch + 1, 'loss': round(total / len(order), 5), 'validation_dice_at_0.5': round(vd, 5)})
            if vd >= best and epoch >= args.epochs // 2:
                best, best_state, best_epoch = vd, {k: v.clone() for k, v in ema.items()}, epoch + 1
            common.log(f'epoch {epoch + 1}/{args.epochs} loss {total / len(order):.4f} validation Dice@0.5 (EMA) {vd:.4f} '
                       f'({(time.time() - t0) / 60:.1f} min)')
        model.load_state_dict(best_state)
        train_minutes = (time.time() - t0) / 60
        if args.save_weights:
            torch.save({'state': best_state, 'history': history, 'best_epoch': best_epoch, 'train_minutes': train_minutes,
                        'epochs': epochs, 'size': SIZE, 'crop': args.crop}, args.save_weights)
    model.eval()

    # Post-processing on validation only (choose_postprocessing): threshold, minimum component
    # area (fraction of the image), largest component only, and the in-graph miss fallback and
    # normal gate driven by the lesion-present head.
    vp, vc = model_maps(model, vimgs, mean, std)
    grid = choose_postprocessing(vp, vc, vimgs, vmasks, vlab)
    key = lambda g: (round(g['dice_all_images'], 6), round(g['dice_mean'], 6))
    chosen = max(grid, key=key)
    thr, min_area, largest = chosen['threshold'], chosen['min_area_fraction'], chosen['largest_only']
    rules = {'threshold': thr, 'min_area': min_area, 'fallback_cls': chosen['fallback_cls'],
             'fallback_rel': chosen['fallback_rel'], 'gate_cls': chosen['gate_cls']}
    plain = next(g for g in grid if g['threshold'] == 0.5 and g['min_area_fraction'] == 0 and not g['largest_only']
                 and g['fallback_cls'] == 0 and g['gate_cls'] == 0)
    no_rules = max((g for g in grid if g['fallback_cls'] == 0 and g['gate_cls'] == 0), key=key)
    brief = lambda g: {k: g[k] for k in ('threshold', 'min_area_fraction', 'largest_only', 'fallback_cls', 'fallback_rel', 'gate_cls',
                                         'dice_mean', 'dice_all_images', 'lesion_images_missed', 'normal_fp_fraction')}
    common.log(f'validation: chosen {brief(chosen)}')
    common.log(f'validation: best without the head rules {brief(no_rules)}')
    common.log(f'validation: plain 0.5 {brief(plain)}')
    vt = (vc.view(-1).numpy(), vlab > 0)
    common.log(f'validation: lesion-present head AUC {common.roc_auc(vt[1], vt[0]):.3f}')

    results = {}
    for name in ('validation',) if args.no_test else ('validation', 'test'):
        ii = idx[name]
        probs = predict(model, [imgs[i] for i in ii], mean, std, rules=rules)     # what the exported graph gives
        rows = per_image(probs, [masks[i] for i in ii], labels[ii], thr, min_area, largest)
        metrics = summarise(rows)
        if name == 'validation' and abs(metrics['dice_all_images'] - chosen['dice_all_images']) > 1e-9:
            raise RuntimeError(f'graph rules give {metrics["dice_all_images"]}, the grid {chosen["dice_all_images"]}')
        g = groups[ii]
        payload = [[rows[k] for k in np.nonzero(g == u)[0]] for u in np.unique(g)]
        metrics['ci95'] = common.bootstrap_ci(payload, lambda gs: summarise([r for grp in gs for r in grp]))
        _, cls_p = model_maps(model, [imgs[i] for i in ii], mean, std)
        metrics['lesion_present_auc'] = common.roc_auc(labels[ii] > 0, cls_p.view(-1).numpy())
        metrics['per_image'] = {names[i]: {'dice': round(r[1], 4), 'iou': round(r[2], 4), 'predicted_area_fraction': round(r[3], 5),
                                           'lesion_present': round(float(q), 4)}
                                for i, r, q in zip(ii, rows, cls_p.view(-1))}
        results[name] = metrics
        common.log(f'{name}: Dice {metrics["dice_mean"]:.4f} {metrics["ci95"].get("dice_mean")} IoU {metrics["iou_mean"]:.4f} '
                   f'benign {metrics["dice_benign"]:.4f} malignant {metrics["dice_malignant"]:.4f} missed {metrics["lesion_images_missed"]:.4f} '
                   f'normal FP {metrics["normal_fp_fraction"]:.4f}')

    onnx_path = os.path.join(args.out, f'{MODEL_ID}.onnx')
    sha = common.export_onnx(Segmenter(model, SIZE, rules), torch.zeros(1, 1, SIZE, SIZE), onnx_path, 'input', ['lesion_probability'])
    manifest = {
        'id': MODEL_ID,
        'name': 'Sentinel breast ultrasound lesion segmenter (small U-Net, from scratch)',
        'version': VERSION,
        'task': 'ultrasound-segmentation',
        'modality': 'US',
        'file': f'{MODEL_ID}.onnx',
        'sha256': sha,
        'input': {
            'name': 'input', 'layout': 'NCHW', 'channels': 1, 'channelOrder': 'GRAY', 'height': SIZE, 'width': SIZE,
            'normalization': {'scale': 1 / 255, 'mean': [round(mean, 5)], 'std': [round(std, 5)]},
        },
        'outputs': [{'name': 'lesion_probability', 'role': 'segmentation_probability', 'classes': ['lesion'], 'activation': 'sigmoid'}],
        'thresholds': {'mask': thr},
        'postprocessing': {
            'resizeProbabilityToImage': 'bilinear',
            'minComponentAreaFraction': min_area,
            'componentConnectivity': 8,
            'largestComponentOnly': bool(largest),
        },
        'training': {
            'data': 'BUSI, Breast Ultrasound Images, and its ground-truth lesion masks (Al-Dhabyani et al. 2020, Data in Brief 28:104863): '
                    '../shared/data/ultrasound/busi, ../shared/data/ultrasound/busi-masks',
            'license': 'Research use; cite Al-Dhabyani et al. 2020 (Data in Brief 28:104863)',
            'split': f'busi-classifier\'s split: by image (BUSI has no patient ids), near-duplicates kept together, seed {args.seed}: '
                     f'{len(idx["train"])} train / {len(idx["validation"])} validation / {len(idx["test"])} test images ({MODEL_ID}.split.json)',
            'script': 'models/training/train_busi_seg.py',
        },
        'intendedUse': 'Research use only. Not a medical device. Not for diagnosis.',
    }
    common.write_json(os.path.join(args.out, f'{MODEL_ID}.json'), manifest)
    common.write_json(os.path.join(args.out, f'{MODEL_ID}.split.json'), {
        'unit': 'image (no patient ids in BUSI); near-duplicate groups kept in one split', 'seed': args.seed,
        'hash': f'dHash 8x8, Hamming distance <= {train_busi.HASH_DISTANCE}', 'near_duplicate_pairs': pairs,
        'same_as': 'busi-classifier.split.json' if same_as_classifier else None, **split})
    common.write_json(os.path.join(args.out, f'{MODEL_ID}.metrics.json'), {
        'model': MODEL_ID, 'version': manifest['version'], 'evaluated_by': 'models/training/train_busi_seg.py (PyTorch)',
        'unit': 'image; Dice and IoU per image at the image\'s own resolution (256 x 256), averaged over benign and malignant '
                'images; normal_fp_fraction = mean predicted-lesion fraction of the image on normal images; '
                'CIs by bootstrap over near-duplicate groups (1000 resamples); lesion_present = the head\'s probability',
        'input_size': SIZE, 'training_crop': args.crop or None, 'epochs': epochs, 'selected_epoch': best_epoch, 'parameters': n_params, 'threads': args.threads,
        'training_minutes': round(train_minutes, 1),
        'postprocessing_chosen_on_validation': {
            'threshold': thr, 'min_area_fraction': min_area, 'largest_only': bool(largest),
            'miss_fallback': {'lesion_present_at_least': rules['fallback_cls'], 'relative_to_peak': rules['fallback_rel']}
            if rules['fallback_cls'] > 0 else None,
            'normal_gate': {'lesion_present_below': rules['gate_cls']} if rules['gate_cls'] > 0 else None,
            'objective': 'mean Dice over all validation images (normal image: 1 if nothing predicted, else 0)',
            'without_head_rules': brief(no_rules),
            'plain_threshold_0.5': {k: plain[k] for k in ('dice_mean', 'dice_all_images', 'normal_fp_fraction')}},
        **results,
        'history': history,
    })
    if args.dump:
        # For the onnxruntime-node check: the validation inputs (normalised, model size) and
        # PyTorch's output of the exported module on them, float32, with their names.
        x = to_tensor([resize(a, SIZE) for a in vimgs], mean, std)
        with torch.no_grad():
            y = Segmenter(model, SIZE, rules).eval()(x)
        x.numpy().astype(np.float32).tofile(os.path.join(args.dump, 'validation_input.f32'))
        y.numpy().astype(np.float32).tofile(os.path.join(args.dump, 'validation_output.f32'))
        common.write_json(os.path.join(args.dump, 'validation.json'), {
            'names': [names[i] for i in idx['validation']], 'shape': list(x.shape), 'threshold': thr, 'min_area_fraction': min_area,
            'largest_only': bool(largest), 'dice_all_images': results['validation']['dice_all_images'],
            'dice_mean': results['validation']['dice_mean']})
    common.log(f'wrote {onnx_path} ({(time.time() - t0) / 60:.1f} min in all)')


if __name__ == '__main__':
    main()
