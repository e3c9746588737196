#!/usr/bin/python3
"""The Python side of the inference benchmark (run by inference.ts with Debian's python3):

    inference.py flops MODEL.onnx            FLOPs of one image, counted from the graph
    inference.py matmul                      the machine's fp32 matrix-multiply rate (numpy, OpenBLAS, 2 threads)
    inference.py make-matmul OUT.onnx N      an N x N x N MatMul graph, for onnxruntime's rate
    inference.py torch MODEL.onnx BATCHES IN.f32 OUT.f32
                                             the tile classifier in PyTorch eager (what TorchServe runs),
                                             checked first on IN (raw float32, N x 3 x 50 x 50)
                                             against onnxruntime's output OUT (N float32)

Each prints one JSON object. FLOPs: Conv, ConvTranspose, Gemm and MatMul as 2 x multiply-adds
(bias adds, activations, pooling and normalisation are left out: a few per cent at most here).
The torch network is the training script's own (models/training/train_idc.py, imported, not
copied), its weights read from the shipped ONNX graph: torch.onnx folded each BatchNorm into
its convolution, so the convolution takes the folded weight and the BatchNorm becomes the
folded bias exactly (weight 1, mean 0, variance 1 - eps). Its output is checked against
onnxruntime-node's on the same tiles (given by inference.ts) before it is timed.
"""
import json
import os
import sys
import time

import numpy as np


def shapes(model):
    import onnx
    inferred = onnx.shape_inference.infer_shapes(model)
    out = {}
    for v in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        out[v.name] = [d.dim_value if d.dim_value > 0 else 1 for d in v.type.tensor_type.shape.dim]
    for i in inferred.graph.initializer:
        out[i.name] = list(i.dims)
    return out


def flops(path):
    import onnx
    model = onnx.load(path)
    # Batch 1: every dynamic dimension as 1 (the input's height and width are fixed in these models).
    s = shapes(model)
    by_op = {}
    total = 0
    for n in model.graph.node:
        f = 0
        if n.op_type == 'Conv':
            # Each output element: Cin/group x kh x kw multiply-adds (the weight is [Cout, Cin/group, kh, kw]).
            w = s[n.input[1]]
            f = 2 * int(np.prod(s[n.output[0]])) * w[1] * int(np.prod(w[2:]))
        elif n.op_type == 'ConvTranspose':
            # Each input element spreads over Cout/group x kh x kw (the weight is [Cin, Cout/group, kh, kw]).
            w = s[n.input[1]]
            f = 2 * int(np.prod(s[n.input[0]])) * w[1] * int(np.prod(w[2:]))
        elif n.op_type == 'Gemm':
            a, b = s[n.input[0]], s[n.input[1]]
            trans_a = next((x.i for x in n.attribute if x.name == 'transA'), 0)
            trans_b = next((x.i for x in n.attribute if x.name == 'transB'), 0)
            m, k = (a[1], a[0]) if trans_a else (a[0], a[1])
            nn_ = b[0] if trans_b else b[1]
            f = 2 * m * k * nn_
        elif n.op_type == 'MatMul':
            a, b = s[n.input[0]], s[n.input[1]]
            batch = int(np.prod(a[:-2])) if len(a) > 2 else 1
            f = 2 * batch * a[-2] * a[-1] * b[-1]
        if f:
            by_op[n.op_type] = by_op.get(n.op_type, 0) + f
            total += f
    return {'flops_per_image': total, 'by_op': by_op}


def matmul():
    out = {}
    for n in (512, 1024, 2048):
        a = np.random.rand(n, n).astype(np.float32)
        b = np.random.rand(n, n).astype(np.float32)
        a @ b
        reps = max(3, int(2e10 / (2 * n ** 3)))
        t = time.perf_counter()
        for _ in range(reps):
            a @ b
        out[str(n)] = 2 * n ** 3 * reps / (time.perf_counter() - t) / 1e9
    import numpy.__config__  # noqa: F401 (which BLAS is the one measured)
    return {'numpy_gflops': out, 'best_gflops': max(out.values()), 'threads': os.environ.get('OPENBLAS_NUM_THREADS', '')}


def make_matmul(path, n):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    b = numpy_helper.from_array(np.random.rand(n, n).astype(np.float32), 'B')
    graph = helper.make_graph([helper.make_node('MatMul', ['A', 'B'], ['C'])], 'matmul',
                              [helper.make_tensor_value_info('A', TensorProto.FLOAT, [n, n])],
                              [helper.make_tensor_value_info('C', TensorProto.FLOAT, [n, n])], [b])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)]), path)
    return {'path': path, 'n': n}


def torch_eager(path, batches, in_path, out_path):
    import onnx
    import torch
    from onnx import numpy_helper
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'models', 'training'))
    import train_idc  # the training script's own network definitions
    torch.set_num_threads(int(os.environ.get('TORCH_THREADS', '2')))
    model = onnx.load(path)
    init = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    convs = [(init[n.input[1]], init[n.input[2]]) for n in model.graph.node if n.op_type == 'Conv']
    gemms = [(init[n.input[1]], init[n.input[2]]) for n in model.graph.node if n.op_type == 'Gemm']
    members = [train_idc.IdcNet() for _ in gemms]
    shipped = train_idc.Shipped(members, 'none').eval()
    k = 0
    for m, (fw, fb) in zip(members, gemms):
        for block in (m.b1, m.b2, m.b3, m.b4):
            for conv, bn in ((block[0], block[1]), (block[3], block[4])):
                w, b = convs[k]
                k += 1
                conv.weight.data = torch.from_numpy(w.copy())
                bn.weight.data.fill_(1.0)
                bn.bias.data = torch.from_numpy(b.copy())
                bn.running_mean.zero_()
                bn.running_var.fill_(1.0 - bn.eps)
        m.fc.weight.data = torch.from_numpy(fw.copy())
        m.fc.bias.data = torch.from_numpy(fb.copy())
    if k != len(convs):
        raise SystemExit(f'{k} of {len(convs)} convolutions mapped: not the training script\'s network')
    x = np.fromfile(in_path, dtype=np.float32).reshape(-1, 3, 50, 50)
    ref = np.fromfile(out_path, dtype=np.float32).reshape(-1, 1)
    with torch.no_grad():
        got = shipped(torch.from_numpy(x)).numpy()
    diff = float(np.abs(got - ref).max())
    out = {'max_abs_diff_vs_onnx': diff, 'threads': torch.get_num_threads(), 'images_per_s': {}}
    for batch in batches:
        xb = torch.rand(batch, 3, 50, 50)
        with torch.no_grad():
            shipped(xb)
            reps = max(3, int(4096 / batch))
            t = time.perf_counter()
            for _ in range(reps):
                shipped(xb)
            out['images_per_s'][str(batch)] = batch * reps / (time.perf_counter() - t)
    out['best_images_per_s'] = max(out['images_per_s'].values())
    return out


def main():
    cmd = sys.argv[1]
    if cmd == 'flops':
        r = flops(sys.argv[2])
    elif cmd == 'matmul':
        r = matmul()
    elif cmd == 'make-matmul':
        r = make_matmul(sys.argv[2], int(sys.argv[3]))
    elif cmd == 'torch':
        r = torch_eager(sys.argv[2], [int(b) for b in sys.argv[3].split(',')], sys.argv[4], sys.argv[5])
    else:
        raise SystemExit(f'unknown command {cmd}')
    print(json.dumps(r))


if __name__ == '__main__':
    main()
