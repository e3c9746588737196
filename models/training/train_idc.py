#!/usr/bin/python3
"""Train `idc-tile-classifier`: invasive ductal carcinoma vs not, on 50 x 50 RGB tiles at
about 4 micron per pixel, from scratch, split by slide.

Data (../shared/data/pathology): idc-slides (slide mosaics + patches.csv) and idc-patches
(SLIDE/LABEL/*.png). Janowczyk & Madabhushi 2016; Cruz-Roa et al. 2014. Research use only.

    /usr/bin/python3 models/training/train_idc.py [--data DIR] [--epochs N] [--threads N] [--seed N]
        [--aug basic|stain] [--width W] [--tta none|flip] [--members K] [--label-smoothing E]
        [--out DIR] [--save-members DIR] [--reuse DIR]

1.2.0 as shipped (two members, seeds 7 and 8, stain augmentation, no TTA), from the
repository root; about 57 min on one thread here (each member took 28.5 min, 1701 s and
1709 s measured, run side by side; 14 epochs of 100-180 s depending on the machine's load):

    nice -n 10 /usr/bin/python3 models/training/train_idc.py --epochs 14 --threads 1 --seed 7 --aug stain --members 2

(The shipped files were assembled from the two members trained side by side with the same
options, `--only-member 0` and `--only-member 1` with `--save-members DIR`, then
`--members 2 --reuse DIR`; member k only depends on the options and its seed seed + k.)

Options: --aug stain = per-tile dihedral turns + HED stain jitter + brightness/contrast/
saturation jitter (idc_aug.py; `basic` is 1.1.0's per-batch flips and gain/offset jitter);
--width scales the channel counts (1.0 = 16-32-64-128); --tta flip averages, inside the ONNX
graph, the tile's probability with that of its left-right mirror (the batch is doubled with a
Gather of reversed column indices, opset 13 safe); --members K trains K networks (member k
with seed + k, same split) and averages their probabilities inside the one graph. Each
member keeps the epoch with the best validation AUC; the threshold is the validation Youden
point; test is evaluated once. --save-members / --reuse keep member weights (member{k}.pt,
with the options that made them) so an ensemble can be assembled from members trained
separately with the same options: the result is the same as training them in one run.
"""
import argparse
import csv
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

import common
import idc_aug

MODEL_ID = 'idc-tile-classifier'
VERSION = '1.2.0'
TILE = 50
BACKGROUND = 242


def load_patches(data):
    """All labelled tiles as uint8 [N,50,50,3], labels and slide ids."""
    tiles, labels, slides = [], [], []
    root = os.path.join(data, 'pathology', 'idc-slides')
    by_slide = {}
    with open(os.path.join(root, 'patches.csv')) as f:
        for r in csv.DictReader(f):
            by_slide.setdefault(r['slide'], []).append((int(r['x']), int(r['y']), int(r['label'])))
    for slide, rows in sorted(by_slide.items()):
        img = np.asarray(Image.open(os.path.join(root, f'{slide}.jpg')).convert('RGB'))
        padded = np.pad(img, ((0, TILE), (0, TILE), (0, 0)), constant_values=BACKGROUND)
        for x, y, label in rows:
            tiles.append(padded[y:y + TILE, x:x + TILE])
            labels.append(label)
            slides.append(slide)
    root = os.path.join(data, 'pathology', 'idc-patches')
    for slide in sorted(os.listdir(root)):
        for label in ('0', '1'):
            d = os.path.join(root, slide, label)
            if not os.path.isdir(d):
                continue
            for name in sorted(os.listdir(d)):
                img = np.asarray(Image.open(os.path.join(d, name)).convert('RGB'))
                tile = np.full((TILE, TILE, 3), BACKGROUND, np.uint8)
                tile[:img.shape[0], :img.shape[1]] = img[:TILE, :TILE]
                tiles.append(tile)
                labels.append(int(label))
                slides.append(slide)
    return np.stack(tiles), np.array(labels, np.int64), np.array(slides)


def split_slides(slides, seed):
    """Whole slides to train / validation / test; the large mosaics and the small patch sets
    are split separately so that each part gets some of both."""
    rng = np.random.default_rng(seed)
    counts = {s: int((slides == s).sum()) for s in np.unique(slides)}
    big = sorted(s for s, n in counts.items() if n > 300)
    small = sorted(s for s, n in counts.items() if n <= 300)
    out = {'train': [], 'validation': [], 'test': []}
    for group in (big, small):
        g = list(rng.permutation(group))
        n_test = max(1, round(0.2 * len(g)))
        n_val = max(1, round(0.15 * len(g)))
        out['test'] += g[:n_test]
        out['validation'] += g[n_test:n_test + n_val]
        out['train'] += g[n_test + n_val:]
    return {k: sorted(map(str, v)) for k, v in out.items()}


class IdcNet(nn.Module):
    """Four conv blocks (16-32-64-128 channels times `width`), global pooling, one logit."""

    def __init__(self, width=1.0, tile_norm=False):
        super().__init__()
        self.tile_norm = tile_norm
        c = [max(8, int(round(k * width))) for k in (16, 32, 64, 128)]
        def block(i, o):
            return nn.Sequential(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True),
                                 nn.Conv2d(o, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True))
        self.b1, self.b2, self.b3, self.b4 = block(3, c[0]), block(c[0], c[1]), block(c[1], c[2]), block(c[2], c[3])
        self.drop = nn.Dropout(0.3)
        self.fc = nn.Linear(c[3], 1)

    def logits(self, x):
        if self.tile_norm:
            # Per-tile stain normalisation (Reinhard-like, in the normalised RGB space): each
            # channel of each tile to zero mean and unit spread, the floor keeping flat tiles flat.
            m = x.mean(dim=(2, 3), keepdim=True)
            v = ((x - m) * (x - m)).mean(dim=(2, 3), keepdim=True)
            x = (x - m) / torch.sqrt(v + 0.01)
        x = F.max_pool2d(self.b1(x), 2)   # 25
        x = F.max_pool2d(self.b2(x), 2)   # 12
        x = F.max_pool2d(self.b3(x), 2)   # 6
        x = self.b4(x)
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(self.drop(x))

    def forward(self, x):
        return torch.sigmoid(self.logits(x))


class Shipped(nn.Module):
    """What goes into the ONNX graph: the mean probability over members and, with tta, over
    the tile and its left-right mirror. Output [N,1] sigmoid probability."""

    def __init__(self, members, tta):
        super().__init__()
        self.members = nn.ModuleList(members)
        self.tta = tta
        self.register_buffer('rev', torch.arange(TILE - 1, -1, -1, dtype=torch.long), persistent=False)

    def forward(self, x):
        n = x.shape[0]
        if self.tta == 'flip':
            x = torch.cat([x, torch.index_select(x, 3, self.rev)], 0)
        p = None
        for m in self.members:
            q = torch.sigmoid(m.logits(x))
            p = q if p is None else p + q
        p = p / len(self.members)
        if self.tta == 'flip':
            p = (p[:n] + p[n:]) / 2
        return p


def to_tensor(tiles, mean, std):
    x = torch.from_numpy(tiles).permute(0, 3, 1, 2).float() / 255.0
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


def augment_basic(x):
    """1.1.0: per-batch flips and 90-degree turns, per-tile channel gain/offset (normalised space)."""
    if torch.rand(1) < 0.5:
        x = x.flip(3)
    if torch.rand(1) < 0.5:
        x = x.flip(2)
    x = torch.rot90(x, int(torch.randint(0, 4, (1,))), (2, 3))
    n = x.shape[0]
    scale = 1 + 0.1 * torch.randn(n, 3, 1, 1)
    shift = 0.1 * torch.randn(n, 3, 1, 1)
    return x * scale + shift


def training_batch(tiles, mean, std, aug):
    if aug == 'basic':
        return augment_basic(to_tensor(tiles, mean, std))
    x = idc_aug.stain_augment(torch.from_numpy(tiles).permute(0, 3, 1, 2).float() / 255.0)
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


def predict(model, tiles, mean, std, batch=512):
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(tiles), batch):
            out.append(model(to_tensor(tiles[i:i + batch], mean, std)).squeeze(1).numpy())
    return np.concatenate(out) if out else np.zeros(0)


def slide_metrics(groups, threshold):
    y = np.concatenate([g[0] for g in groups])
    s = np.concatenate([g[1] for g in groups])
    return common.binary_metrics(y, s, threshold)


def member_options(args):
    return {'epochs': args.epochs, 'seed': args.seed, 'aug': args.aug, 'width': args.width,
            'tile_norm': args.tile_norm, 'label_smoothing': args.label_smoothing, 'lr': args.lr, 'threads': args.threads}


def train_member(k, args, train_x, train_y, val_x, val_y, mean, std):
    """Member k: seeds seed + k; keeps the epoch with the best validation AUC of the member
    alone (no TTA, so members do not depend on --tta or --members)."""
    common.seed_everything(args.seed + k)
    model = IdcNet(args.width, args.tile_norm)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    steps = args.epochs * int(np.ceil(len(train_x) / 128))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.5 * args.lr, total_steps=steps)
    pos_weight = torch.tensor([(train_y == 0).sum() / max(1, (train_y == 1).sum())], dtype=torch.float32)
    eps = args.label_smoothing
    best_auc, best_state, best_epoch, history = -1, None, 0, []
    for epoch in range(args.epochs):
        t0 = time.time()
        model.train()
        order = np.random.permutation(len(train_x))
        total = 0.0
        for i in range(0, len(order), 128):
            idx = order[i:i + 128]
            x = training_batch(train_x[idx], mean, std, args.aug)
            y = torch.from_numpy(train_y[idx]).float().unsqueeze(1)
            if eps > 0:
                y = y * (1 - eps) + 0.5 * eps
            loss = F.binary_cross_entropy_with_logits(model.logits(x), y, pos_weight=pos_weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(idx)
        val_auc = common.roc_auc(val_y, predict(model, val_x, mean, std))
        history.append(round(val_auc, 4))
        common.log(f'member {k} epoch {epoch + 1}/{args.epochs} loss {total / len(order):.4f} validation AUC {val_auc:.4f} ({time.time() - t0:.0f} s)')
        if val_auc > best_auc:
            best_auc, best_epoch, best_state = val_auc, epoch + 1, {kk: v.clone() for kk, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    model.eval()
    return model, {'member': k, 'seed': args.seed + k, 'best_epoch': best_epoch, 'best_validation_auc': best_auc,
                   'validation_auc_by_epoch': history}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default=common.DEFAULT_DATA)
    ap.add_argument('--epochs', type=int, default=14)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--seed', type=int, default=7)
    ap.add_argument('--aug', choices=['basic', 'stain'], default='stain')
    ap.add_argument('--width', type=float, default=1.0)
    ap.add_argument('--tta', choices=['none', 'flip'], default='none')
    ap.add_argument('--members', type=int, default=1)
    ap.add_argument('--only-member', type=int, default=None, help='train (and export) just member k')
    ap.add_argument('--tile-norm', action='store_true', help='per-tile channel standardisation inside the graph')
    ap.add_argument('--label-smoothing', type=float, default=0.0)
    ap.add_argument('--lr', type=float, default=2e-3)
    ap.add_argument('--out', default=common.MODELS, help='folder for the ONNX, manifest, split, metrics')
    ap.add_argument('--save-members', default=None)
    ap.add_argument('--reuse', default=None)
    ap.add_argument('--show-test', action='store_true', help='also log the test figures (always written to metrics)')
    args = ap.parse_args()
    t_start = time.time()
    common.seed_everything(args.seed)
    common.threads(args.threads)

    tiles, labels, slides = load_patches(args.data)
    split = split_slides(slides, args.seed)
    part = {k: np.isin(slides, v) for k, v in split.items()}
    common.log(f'{len(tiles)} tiles from {len(np.unique(slides))} slides; ' +
               ', '.join(f'{k}: {m.sum()} tiles / {len(split[k])} slides ({labels[m].mean():.2f} IDC)' for k, m in part.items()))
    train_x, train_y = tiles[part['train']], labels[part['train']]
    mean = (train_x.reshape(-1, 3).mean(0) / 255).round(4).tolist()
    std = (train_x.reshape(-1, 3).std(0) / 255).round(4).tolist()
    val_x, val_y = tiles[part['validation']], labels[part['validation']]

    members, reports = [], []
    wanted = [args.only_member] if args.only_member is not None else list(range(args.members))
    opts = member_options(args)
    for k in wanted:
        cached = args.reuse and os.path.join(args.reuse, f'member{k}.pt')
        if cached and os.path.exists(cached):
            saved = torch.load(cached)
            saved['options'].setdefault('tile_norm', False)
            if saved['options'] != opts:
                raise SystemExit(f'{cached} was trained with {saved["options"]}, not {opts}')
            model = IdcNet(args.width, args.tile_norm)
            model.load_state_dict(saved['state'])
            model.eval()
            report = saved['report']
            common.log(f'member {k}: reused {cached} (best epoch {report["best_epoch"]}, validation AUC {report["best_validation_auc"]:.4f})')
        else:
            model, report = train_member(k, args, train_x, train_y, val_x, val_y, mean, std)
            if args.save_members:
                os.makedirs(args.save_members, exist_ok=True)
                torch.save({'options': opts, 'state': model.state_dict(), 'report': report},
                           os.path.join(args.save_members, f'member{k}.pt'))
        members.append(model)
        reports.append(report)
    shipped = Shipped(members, args.tta).eval()

    # Threshold on validation (Youden), reported once on test.
    val_s = predict(shipped, val_x, mean, std)
    threshold = common.best_threshold_youden(val_y, val_s)
    results = {}
    for name in ('validation', 'test'):
        m = part[name]
        s = predict(shipped, tiles[m], mean, std)
        groups = [(labels[m][slides[m] == sl], s[slides[m] == sl]) for sl in split[name]]
        metrics = common.binary_metrics(labels[m], s, threshold)
        metrics['ci95'] = common.bootstrap_ci(groups, lambda g: slide_metrics(g, threshold))
        metrics['slides'] = len(split[name])
        results[name] = metrics
        if name == 'validation' or args.show_test:
            common.log(f'{name}: ' + ', '.join(f'{k} {v:.4f}' for k, v in metrics.items() if isinstance(v, float)))

    os.makedirs(args.out, exist_ok=True)
    onnx_path = os.path.join(args.out, f'{MODEL_ID}.onnx')
    sha = common.export_onnx(shipped, torch.zeros(1, 3, TILE, TILE), onnx_path, 'input', ['idc_probability'])
    # Study (slide) categories: high at the validation point of 95% specificity, intermediate at Youden.
    high = common.threshold_for_specificity(val_y, val_s, 0.95)
    n_members = len(members)
    what = (f'{"ensemble of " + str(n_members) + " small CNNs" if n_members > 1 else "small CNN"}'
            f'{", width x" + str(args.width) if args.width != 1.0 else ""}'
            f'{", stain augmentation" if args.aug == "stain" else ""}'
            f'{", per-tile stain normalisation" if args.tile_norm else ""}'
            f'{", flip TTA in graph" if args.tta == "flip" else ""}, from scratch')
    manifest = {
        'id': MODEL_ID,
        'name': f'Sentinel IDC tile classifier ({what})',
        'version': VERSION,
        'task': 'wsi-tile-classification',
        'modality': 'SM',
        'file': f'{MODEL_ID}.onnx',
        'sha256': sha,
        'input': {
            'name': 'input', 'layout': 'NCHW', 'channels': 3, 'channelOrder': 'RGB', 'height': TILE, 'width': TILE,
            'pixelSpacingMm': 0.004,
            'normalization': {'scale': 1 / 255, 'mean': mean, 'std': std},
        },
        'outputs': [{'name': 'idc_probability', 'role': 'tile_probability', 'classes': ['idc'], 'activation': 'sigmoid',
                     'findingCode': {'CodeValue': '82711006', 'CodingSchemeDesignator': 'SCT', 'CodeMeaning': 'Infiltrating duct carcinoma'}}],
        'thresholds': {'detection': round(threshold, 4), 'high': round(max(high, threshold), 4), 'intermediate': round(threshold, 4),
                       'backgroundValue': BACKGROUND},
        # Map smoothing for the slide SEG / regions, as 1.1.0 chose it on the validation slides
        # through the whole-slide path (sentinel eval idc-slides --split validation).
        'postprocessing': {'mapSmoothingSigmaCells': 1.5},
        'training': {
            'data': 'IDC (Janowczyk & Madabhushi 2016; Cruz-Roa et al. 2014): ../shared/data/pathology/idc-slides and idc-patches',
            'license': 'Research use; cite Janowczyk & Madabhushi 2016 (J Pathol Inform 7:29) and Cruz-Roa et al. 2014 (SPIE 9041)',
            'split': f'by slide, seed {args.seed}: {len(split["train"])} train / {len(split["validation"])} validation / {len(split["test"])} test slides ({MODEL_ID}.split.json)',
            'script': 'models/training/train_idc.py',
        },
        'intendedUse': 'Research use only. Not a medical device. Not for diagnosis.',
    }
    common.write_json(os.path.join(args.out, f'{MODEL_ID}.json'), manifest)
    common.write_json(os.path.join(args.out, f'{MODEL_ID}.split.json'), {'unit': 'slide', 'seed': args.seed, **split})
    common.write_json(os.path.join(args.out, f'{MODEL_ID}.metrics.json'), {
        'model': MODEL_ID, 'version': manifest['version'], 'evaluated_by': 'models/training/train_idc.py (PyTorch)',
        'unit': 'tile (50 x 50 px), CIs by bootstrap over slides', 'epochs': args.epochs,
        'best_validation_auc': max(r['best_validation_auc'] for r in reports),
        'options': {k: v for k, v in vars(args).items() if k not in ('data', 'out', 'save_members', 'reuse', 'show_test')},
        'members': reports, **results})
    common.log(f'wrote {onnx_path} ({time.time() - t_start:.0f} s in all)')


if __name__ == '__main__':
    main()
