#!/usr/bin/python3
"""FLOPs of one input (batch 1) of an ONNX graph, counted from the graph with onnx shape inference.

    flops.py MODEL.onnx [MODEL.onnx ...]     prints one JSON object: {path: {flops_per_image, by_op, ignored}}

Counted, as 2 x multiply-adds: Conv, ConvTranspose, Gemm, MatMul. Everything else is ignored
and listed by op type with its node count (bias adds, BatchNorm, activations, pooling, Resize,
Softmax, Concat, reductions, elementwise arithmetic): at most a few per cent of these CNNs.
"""
import json
import sys

import numpy as np
import onnx

COUNTED = ('Conv', 'ConvTranspose', 'Gemm', 'MatMul')


def attr(node, name, default):
    return next((onnx.helper.get_attribute_value(a) for a in node.attribute if a.name == name), default)


def shapes(model):
    """Every value's shape at batch 1: the graph's symbolic dimensions (the batch) set to 1 first."""
    for v in model.graph.input:
        for d in v.type.tensor_type.shape.dim:
            if d.dim_value <= 0:
                d.Clear()
                d.dim_value = 1
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    out = {}
    for v in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        dims = v.type.tensor_type.shape.dim
        if all(d.dim_value > 0 for d in dims):
            out[v.name] = [d.dim_value for d in dims]
    for i in inferred.graph.initializer:
        out[i.name] = list(i.dims)
    return out


def node_flops(n, s):
    def shape(name):
        if name not in s:
            raise SystemExit(f'{n.op_type} node {n.name}: no inferred shape for {name}')
        return s[name]
    if n.op_type == 'Conv':
        # Each output element: Cin/group x kh x kw multiply-adds (weight [Cout, Cin/group, kh, kw]).
        w = shape(n.input[1])
        return 2 * int(np.prod(shape(n.output[0]))) * int(np.prod(w[1:]))
    if n.op_type == 'ConvTranspose':
        # Each input element spreads over Cout/group x kh x kw outputs (weight [Cin, Cout/group, kh, kw]).
        w = shape(n.input[1])
        return 2 * int(np.prod(shape(n.input[0]))) * int(np.prod(w[1:]))
    if n.op_type == 'Gemm':
        a, b = shape(n.input[0]), shape(n.input[1])
        m, k = (a[1], a[0]) if attr(n, 'transA', 0) else (a[0], a[1])
        cols = b[0] if attr(n, 'transB', 0) else b[1]
        return 2 * m * k * cols
    if n.op_type == 'MatMul':
        a, b = shape(n.input[0]), shape(n.input[1])
        if len(a) == 1:
            a = [1] + a
        if len(b) == 1:
            b = b + [1]
        batch = int(np.prod(np.broadcast_shapes(tuple(a[:-2]), tuple(b[:-2])))) if len(a) > 2 or len(b) > 2 else 1
        return 2 * batch * a[-2] * a[-1] * b[-1]
    return 0


def count(path):
    model = onnx.load(path)
    s = shapes(model)
    by_op, ignored, total = {}, {}, 0
    for n in model.graph.node:
        if n.op_type in COUNTED:
            f = node_flops(n, s)
            by_op[n.op_type] = by_op.get(n.op_type, 0) + f
            total += f
        else:
            ignored[n.op_type] = ignored.get(n.op_type, 0) + 1
    return {'flops_per_image': total, 'by_op': by_op, 'ignored': ignored}


if __name__ == '__main__':
    print(json.dumps({p: count(p) for p in sys.argv[1:]}))
