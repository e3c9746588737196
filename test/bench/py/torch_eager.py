#!/usr/bin/python3
"""A shipped model in PyTorch eager on CPU (what a TorchServe deployment runs), rebuilt from its
training script's own classes (models/training, imported, not copied) with the weights read
from the shipped ONNX graph's initializers:

    torch_eager.py SPEC.json SECONDS
        SPEC: [{"model", "batches", "inputs", "reference"}, ...]; inputs: raw float32 NCHW;
        reference: onnxruntime-node's outputs on them, each output flattened, in the
        manifest's output order. Prints one JSON object {model: result}: the largest absolute
        difference between torch's and onnxruntime's outputs, and images/s at each batch size
        (torch.set_num_threads from TORCH_THREADS, default 2; under no_grad). One process for
        every model: importing torch costs seconds.

How the weights go back: torch.onnx folded each BatchNorm into the convolution before it, so a
Conv node holds the folded weight and bias. The module is run once with hooks to list its
Conv2d / ConvTranspose2d / Linear calls in order (a network run twice, as in a mirror ensemble,
is listed twice), which is the order of the graph's Conv / ConvTranspose / Gemm nodes; each
takes the node's weight, and where a BatchNorm follows it the BatchNorm becomes the folded bias
exactly (weight 1, bias B, mean 0, variance 1 - eps). Shapes are checked on the way and the
outputs are compared after: a wrong rebuild does not pass.
"""
import json
import os
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import numpy_helper

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..')
MODELS = os.path.join(ROOT, 'models')
sys.path.insert(0, os.path.join(MODELS, 'training'))


def metrics(model_id):
    with open(os.path.join(MODELS, f'{model_id}.metrics.json')) as f:
        return json.load(f)


def build(model_id):
    """The module each training script exports, with the options the shipped model was trained with."""
    if model_id == 'idc-tile-classifier':
        import train_idc
        o = metrics(model_id)['options']   # 1.2.0: two members averaged inside the graph
        members = [train_idc.IdcNet(width=o['width'], tile_norm=o['tile_norm']) for _ in range(o['members'])]
        return train_idc.Shipped(members, o['tta'])
    if model_id == 'busi-classifier':
        import train_busi
        return train_busi.BusiNet()
    if model_id == 'busi-segmenter':
        import train_busi_seg
        p = metrics(model_id)['postprocessing_chosen_on_validation']
        fallback, gate = p.get('miss_fallback') or {}, p.get('normal_gate') or {}
        rules = {'threshold': p['threshold'], 'min_area': p['min_area_fraction'],
                 'fallback_cls': fallback.get('lesion_present_at_least', 0.0), 'fallback_rel': fallback.get('relative_to_peak', 0.0),
                 'gate_cls': gate.get('lesion_present_below', 0.0)}
        return train_busi_seg.Segmenter(train_busi_seg.UNet(), train_busi_seg.SIZE, rules)
    if model_id == 'mini-mias-density':
        import train_density
        net = train_density.DensityNet()
        return train_density.MirrorEnsemble(net) if metrics(model_id).get('mirrored_ensemble') else net
    if model_id == 'mg-lesion-detector':
        import train_mg
        return train_mg.MgPairNet()   # 2.0.0 was trained with the script's defaults (early fusion, max score, aux plane)
    raise SystemExit(f'no torch rebuild for {model_id}')


def load_onnx_weights(module, onnx_path, example):
    graph = onnx.load(onnx_path).graph
    init = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    alias = {n.output[0]: n.input[0] for n in graph.node if n.op_type == 'Identity'}

    def value(name):
        while name in alias:
            name = alias[name]
        return init[name]
    nodes = [n for n in graph.node if n.op_type in ('Conv', 'ConvTranspose', 'Gemm')]
    calls = []
    kinds = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.BatchNorm2d)
    hooks = [m.register_forward_hook(lambda m, i, o: calls.append(m)) for m in module.modules() if isinstance(m, kinds)]
    with torch.no_grad():
        module(example)
    for h in hooks:
        h.remove()
    pairs = []
    for k, m in enumerate(calls):
        if not isinstance(m, nn.BatchNorm2d):
            nxt = calls[k + 1] if k + 1 < len(calls) else None
            pairs.append((m, nxt if isinstance(nxt, nn.BatchNorm2d) else None))
    if len(pairs) != len(nodes):
        raise SystemExit(f'{len(pairs)} weighted layers run in torch, {len(nodes)} in the graph: not the same network')
    done = {}
    for (m, bn), node in zip(pairs, nodes):
        w = value(node.input[1]).copy()
        b = value(node.input[2]).copy() if len(node.input) > 2 and node.input[2] else np.zeros(m.weight.shape[1 if isinstance(m, nn.ConvTranspose2d) else 0], np.float32)
        if node.op_type == 'Gemm' and not next((a.i for a in node.attribute if a.name == 'transB'), 0):
            w = w.T.copy()
        if tuple(w.shape) != tuple(m.weight.shape):
            raise SystemExit(f'{node.name}: graph weight {w.shape}, torch {tuple(m.weight.shape)}')
        if id(m) in done:   # the same layer run again (mirror, ensemble of one net): the graph must agree
            if not np.array_equal(done[id(m)], w):
                raise SystemExit(f'{node.name}: a layer run twice has two different weights in the graph')
            continue
        done[id(m)] = w
        with torch.no_grad():
            m.weight.copy_(torch.from_numpy(w))
            if bn is not None:
                bn.weight.fill_(1.0)
                bn.bias.copy_(torch.from_numpy(b))
                bn.running_mean.zero_()
                bn.running_var.fill_(1.0 - bn.eps)
                if m.bias is not None:
                    m.bias.zero_()
            else:
                m.bias.copy_(torch.from_numpy(b))
    return len(done)


def flat(out):
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return np.concatenate([o.detach().numpy().reshape(-1) for o in outs])


def run(model_id, batches, seconds, in_path, ref_path):
    onnx_path = os.path.join(MODELS, f'{model_id}.onnx')
    inp = onnx.load(onnx_path).graph.input[0].type.tensor_type.shape.dim
    chw = [d.dim_value for d in inp][1:]
    module = build(model_id).eval()
    layers = load_onnx_weights(module, onnx_path, torch.zeros(2, *chw))
    x = np.fromfile(in_path, dtype=np.float32).reshape(-1, *chw)
    ref = np.fromfile(ref_path, dtype=np.float32)
    with torch.no_grad():
        got = flat(module(torch.from_numpy(x)))
    if got.shape != ref.shape:
        raise SystemExit(f'{model_id}: torch gave {got.size} output values, onnxruntime {ref.size}')
    out = {'model': model_id, 'layers': layers, 'max_abs_diff': float(np.abs(got - ref).max()), 'threads': torch.get_num_threads(), 'images_per_s': {}}
    with torch.no_grad():
        for batch in batches:
            xb = torch.rand(batch, *chw) * 2 - 1
            module(xb)
            n, t0 = 0, time.perf_counter()
            while n < 2 * batch or time.perf_counter() - t0 < seconds:
                module(xb)
                n += batch
            out['images_per_s'][str(batch)] = n / (time.perf_counter() - t0)
    return out


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    seconds = float(sys.argv[2])
    torch.set_num_threads(int(os.environ.get('TORCH_THREADS', '2')))
    print(json.dumps({s['model']: run(s['model'], s['batches'], seconds, s['inputs'], s['reference']) for s in spec}))


if __name__ == '__main__':
    main()
