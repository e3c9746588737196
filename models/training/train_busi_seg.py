#!/usr/bin/python3
"""Train `busi-segmenter`: breast-ultrasound lesion segmentation, a small U-Net from scratch
that turns a whole grayscale ultrasound image into a per-pixel lesion probability (sigmoid in
the graph, left-right flip averaging in the graph).

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
CLASSES = train_busi.CLASSES          # normal, benign, malignant (train_busi's label order)
SIZE = 160                            # model input (the data's images are 256 x 256)
BASE = 16                             # U-Net channels: 16-32-64-128-256
THRESHOLDS = [round(t, 2) for t in np.arange(0.30, 0.751, 0.05)]
MIN_AREAS = [0.0, 0.0005, 0.001, 0.002, 0.004, 0.007, 0.01, 0.015, 0.02]   # fraction of the image


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
    conv up, skip connections by concatenation; one logit channel."""

    def __init__(self, base=BASE, levels=4):
        super().__init__()
        ch = [base * 2 ** i for i in range(levels + 1)]
        self.enc = nn.ModuleList([nn.Sequential(*cbr(1 if i == 0 else ch[i - 1], ch[i]), *cbr(ch[i], ch[i])) for i in range(levels + 1)])
        self.up = nn.ModuleList([nn.ConvTranspose2d(ch[i + 1], ch[i], 2, stride=2) for i in range(levels)])
        self.dec = nn.ModuleList([nn.Sequential(*cbr(2 * ch[i], ch[i]), *cbr(ch[i], ch[i])) for i in range(levels)])
        self.drop = nn.Dropout2d(0.2)
        self.head = nn.Conv2d(ch[0], 1, 1)

    def forward(self, x):
        skips = []
        for i, enc in enumerate(self.enc):
            if i:
                x = F.max_pool2d(x, 2)
            x = enc(x)
            skips.append(x)
        x = self.drop(skips.pop())
        for i in reversed(range(len(self.dec))):
            x = self.dec[i](torch.cat([self.up[i](x), skips[i]], 1))
        return self.head(x)


class Segmenter(nn.Module):
    """What is exported: mean of the sigmoid over the image and its left-right mirror."""

    def __init__(self, net, size=SIZE):
        super().__init__()
        self.net = net
        self.register_buffer('rev', torch.arange(size - 1, -1, -1))

    def forward(self, x):
        p = torch.sigmoid(self.net(x))
        q = torch.sigmoid(self.net(x.index_select(3, self.rev))).index_select(3, self.rev)
        return (p + q) * 0.5


# ---------------------------------------------------------------------------- training

def augment(x, y):
    """Same random left-right flip and affine (rotation +-12 degrees, scale +-15%, shift
    +-10%) for image and mask (intensity jitter is applied before, see intensity())."""
    n = x.shape[0]
    flip = (torch.rand(n) < 0.5).view(n, 1, 1, 1)
    x = torch.where(flip, x.flip(3), x)
    y = torch.where(flip, y.flip(3), y)
    ang = (torch.rand(n) - 0.5) * 0.42
    sc = 1 + (torch.rand(n) - 0.5) * 0.3
    tx, ty = (torch.rand(n) - 0.5) * 0.2, (torch.rand(n) - 0.5) * 0.2
    theta = torch.stack([torch.stack([sc * torch.cos(ang), -sc * torch.sin(ang), tx], 1),
                         torch.stack([sc * torch.sin(ang), sc * torch.cos(ang), ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, padding_mode='border', align_corners=False)
    y = F.grid_sample(y, grid, padding_mode='zeros', align_corners=False)
    return x, y


def intensity(u8):
    """Gamma, contrast and brightness jitter on [0, 1] pixel values (before normalisation)."""
    n = u8.shape[0]
    g = torch.exp((torch.rand(n, 1, 1, 1) - 0.5) * 0.6)
    v = u8.clamp(0, 1) ** g
    return v * (1 + 0.2 * torch.randn(n, 1, 1, 1)) + 0.08 * torch.randn(n, 1, 1, 1)


def loss_fn(logits, y):
    """BCE + soft Dice over the batch (normal images have empty masks, so Dice is pooled)."""
    bce = F.binary_cross_entropy_with_logits(logits, y)
    p = torch.sigmoid(logits)
    dice = 1 - (2 * (p * y).sum() + 1) / (p.sum() + y.sum() + 1)
    return bce + dice


# ---------------------------------------------------------------------------- evaluation

def predict(model, imgs, mean, std, tta=True, bs=32):
    """Probability maps at the images' own resolution (bilinear resize of the model's map)."""
    model.eval()
    seg = Segmenter(model) if tta else None
    out = []
    with torch.no_grad():
        for i in range(0, len(imgs), bs):
            chunk = imgs[i:i + bs]
            x = to_tensor([resize(a, SIZE) for a in chunk], mean, std)
            p = seg(x) if tta else torch.sigmoid(model(x))
            for a, q in zip(chunk, p):
                out.append(F.interpolate(q[None], size=a.shape, mode='bilinear', align_corners=False)[0, 0].numpy())
    return out


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

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default=common.DEFAULT_DATA)
    ap.add_argument('--epochs', type=int, default=100)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--seed', type=int, default=11)
    ap.add_argument('--save-weights', help='also save the selected weights (a .pt file) here')
    ap.add_argument('--weights', help='skip training: load these weights (from --save-weights) and evaluate/export')
    args = ap.parse_args()
    common.seed_everything(args.seed)
    common.threads(args.threads)
    t0 = time.time()

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
        model.load_state_dict(torch.load(args.weights))
        common.log(f'loaded {args.weights}')
    else:
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
                loss = loss_fn(model(x), y)
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
        if args.save_weights:
            torch.save(best_state, args.save_weights)
    train_minutes = (time.time() - t0) / 60
    model.eval()

    # Post-processing on validation only: threshold, minimum component area (fraction of the
    # image), largest component only or not. Objective: mean Dice over all validation images,
    # a normal image counting 1 if nothing is predicted on it and 0 otherwise; ties go to the
    # earlier (simpler) choice.
    vprob = predict(model, vimgs, mean, std)
    cache = {}
    grid = []
    for t in THRESHOLDS:
        for a in MIN_AREAS:
            for largest in (False, True):
                s = summarise(per_image(vprob, vmasks, vlab, t, a, largest, cache))
                grid.append({'threshold': t, 'min_area_fraction': a, 'largest_only': largest, **s})
    chosen = max(grid, key=lambda g: (round(g['dice_all_images'], 6), round(g['dice_mean'], 6)))
    thr, min_area, largest = chosen['threshold'], chosen['min_area_fraction'], chosen['largest_only']
    plain = next(g for g in grid if g['threshold'] == 0.5 and g['min_area_fraction'] == 0 and not g['largest_only'])
    common.log(f'validation: threshold {thr}, min area {min_area}, largest only {largest}: Dice (lesion images) '
               f'{chosen["dice_mean"]:.4f}, all images {chosen["dice_all_images"]:.4f}, normal FP {chosen["normal_fp_fraction"]:.4f} '
               f'(plain 0.5: {plain["dice_mean"]:.4f} / {plain["dice_all_images"]:.4f} / {plain["normal_fp_fraction"]:.4f})')

    results = {}
    for name in ('validation', 'test'):
        ii = idx[name]
        probs = vprob if name == 'validation' else predict(model, [imgs[i] for i in ii], mean, std)
        rows = per_image(probs, [masks[i] for i in ii], labels[ii], thr, min_area, largest)
        metrics = summarise(rows)
        g = groups[ii]
        payload = [[rows[k] for k in np.nonzero(g == u)[0]] for u in np.unique(g)]
        metrics['ci95'] = common.bootstrap_ci(payload, lambda gs: summarise([r for grp in gs for r in grp]))
        metrics['per_image'] = {names[i]: {'dice': round(r[1], 4), 'iou': round(r[2], 4), 'predicted_area_fraction': round(r[3], 5)}
                                for i, r in zip(ii, rows)}
        results[name] = metrics
        common.log(f'{name}: Dice {metrics["dice_mean"]:.4f} {metrics["ci95"].get("dice_mean")} IoU {metrics["iou_mean"]:.4f} '
                   f'benign {metrics["dice_benign"]:.4f} malignant {metrics["dice_malignant"]:.4f} normal FP {metrics["normal_fp_fraction"]:.4f}')

    onnx_path = os.path.join(common.MODELS, f'{MODEL_ID}.onnx')
    sha = common.export_onnx(Segmenter(model), torch.zeros(1, 1, SIZE, SIZE), onnx_path, 'input', ['lesion_probability'])
    manifest = {
        'id': MODEL_ID,
        'name': 'Sentinel breast ultrasound lesion segmenter (small U-Net, from scratch)',
        'version': '1.0.0',
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
    common.write_json(os.path.join(common.MODELS, f'{MODEL_ID}.json'), manifest)
    common.write_json(os.path.join(common.MODELS, f'{MODEL_ID}.split.json'), {
        'unit': 'image (no patient ids in BUSI); near-duplicate groups kept in one split', 'seed': args.seed,
        'hash': f'dHash 8x8, Hamming distance <= {train_busi.HASH_DISTANCE}', 'near_duplicate_pairs': pairs,
        'same_as': 'busi-classifier.split.json' if same_as_classifier else None, **split})
    common.write_json(os.path.join(common.MODELS, f'{MODEL_ID}.metrics.json'), {
        'model': MODEL_ID, 'version': manifest['version'], 'evaluated_by': 'models/training/train_busi_seg.py (PyTorch)',
        'unit': 'image; Dice and IoU per image at the image\'s own resolution (256 x 256), averaged over benign and malignant '
                'images; normal_fp_fraction = mean predicted-lesion fraction of the image on normal images; '
                'CIs by bootstrap over near-duplicate groups (1000 resamples)',
        'epochs': args.epochs, 'selected_epoch': best_epoch, 'parameters': n_params, 'threads': args.threads,
        'training_minutes': round(train_minutes, 1),
        'postprocessing_chosen_on_validation': {'threshold': thr, 'min_area_fraction': min_area, 'largest_only': bool(largest),
                                                'objective': 'mean Dice over all validation images (normal image: 1 if nothing predicted, else 0)',
                                                'plain_threshold_0.5': {k: plain[k] for k in ('dice_mean', 'dice_all_images', 'normal_fp_fraction')}},
        **results,
        'history': history,
    })
    common.log(f'wrote {onnx_path} ({(time.time() - t0) / 60:.1f} min in all)')


if __name__ == '__main__':
    main()
