#!/usr/bin/python3
"""The machine's fp32 matrix-multiply rate, and the graph for onnxruntime's:

    matmul.py numpy SECONDS N [N ...]     numpy sgemm (Debian's OpenBLAS; threads from OPENBLAS_NUM_THREADS)
    matmul.py graph OUT.onnx N            an N x N by N x N MatMul graph (B an initializer)

Each prints one JSON object; the rate counts 2 x N^3 FLOPs per product.
"""
import json
import os
import sys
import time

import numpy as np


def numpy_rate(seconds, sizes):
    out = {}
    for n in sizes:
        rng = np.random.default_rng(n)
        a = rng.random((n, n), dtype=np.float32)
        b = rng.random((n, n), dtype=np.float32)
        c = np.empty((n, n), dtype=np.float32)
        np.matmul(a, b, out=c)
        reps, t0 = 0, time.perf_counter()
        while reps < 3 or time.perf_counter() - t0 < seconds:
            np.matmul(a, b, out=c)
            reps += 1
        out[str(n)] = 2 * n ** 3 * reps / (time.perf_counter() - t0) / 1e9
    return {'gflops_by_size': out, 'best_gflops': max(out.values()), 'threads': os.environ.get('OPENBLAS_NUM_THREADS', '')}


def graph(path, n):
    from onnx import TensorProto, helper, numpy_helper, save
    b = numpy_helper.from_array(np.random.default_rng(0).random((n, n), dtype=np.float32), 'B')
    g = helper.make_graph([helper.make_node('MatMul', ['A', 'B'], ['C'])], 'matmul',
                          [helper.make_tensor_value_info('A', TensorProto.FLOAT, [n, n])],
                          [helper.make_tensor_value_info('C', TensorProto.FLOAT, [n, n])], [b])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)]), path)
    return {'path': path, 'n': n}


if __name__ == '__main__':
    if sys.argv[1] == 'numpy':
        r = numpy_rate(float(sys.argv[2]), [int(n) for n in sys.argv[3:]])
    elif sys.argv[1] == 'graph':
        r = graph(sys.argv[2], int(sys.argv[3]))
    else:
        raise SystemExit(f'unknown command {sys.argv[1]}')
    print(json.dumps(r))
