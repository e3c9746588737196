#!/usr/bin/python3
"""Build Sentinel's deterministic TEST model (not a trained model): a bright-blob detector
written directly as an ONNX graph, with its manifest, into the folder given.

heatmap = sigmoid(gain * (avgpool4x4(x) - level)), image_score = max(heatmap).
Used by the tests so that the pipeline, writers and delivery are exercised end to end with
known behaviour: a round region brighter than `level` is a finding, anything else is not.

With `--pair`, the same detector as a two-film model (manifest input.views "pair") that
looks at the SECOND channel only, the other breast's mirrored film: a test can tell from the
findings' positions that the partner arrives mirrored, in the right window.
"""
import hashlib
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out_dir = sys.argv[1]
PAIR = '--pair' in sys.argv[2:]
MODEL_ID = 'sentinel-test-pair' if PAIR else 'sentinel-test-blob'
os.makedirs(out_dir, exist_ok=True)
SIZE, STRIDE, LEVEL, GAIN = 128, 4, 0.85, 40.0

first = [helper.make_node('Slice', ['input', 'one', 'two', 'one'], ['partner'])] if PAIR else []
nodes = first + [
    helper.make_node('AveragePool', ['partner' if PAIR else 'input'], ['pooled'], kernel_shape=[STRIDE, STRIDE], strides=[STRIDE, STRIDE]),
    helper.make_node('Sub', ['pooled', 'level'], ['centred']),
    helper.make_node('Mul', ['centred', 'gain'], ['logit']),
    helper.make_node('Sigmoid', ['logit'], ['lesion_heatmap']),
    helper.make_node('ReduceMax', ['lesion_heatmap'], ['image_score'], axes=[2, 3], keepdims=0),
]
graph = helper.make_graph(
    nodes, 'sentinel_test_blob_detector',
    [helper.make_tensor_value_info('input', TensorProto.FLOAT, ['batch', 2 if PAIR else 1, SIZE, SIZE])],
    [helper.make_tensor_value_info('lesion_heatmap', TensorProto.FLOAT, ['batch', 1, SIZE // STRIDE, SIZE // STRIDE]),
     helper.make_tensor_value_info('image_score', TensorProto.FLOAT, ['batch', 1])],
    [numpy_helper.from_array(np.array(LEVEL, np.float32), 'level'), numpy_helper.from_array(np.array(GAIN, np.float32), 'gain')]
    + ([numpy_helper.from_array(np.array([1], np.int64), 'one'), numpy_helper.from_array(np.array([2], np.int64), 'two')] if PAIR else []),
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)], producer_name='sentinel-tests')
model.ir_version = 7
onnx.checker.check_model(model)
path = os.path.join(out_dir, f'{MODEL_ID}.onnx')
onnx.save(model, path)
sha = hashlib.sha256(open(path, 'rb').read()).hexdigest()
manifest = {
    'id': MODEL_ID,
    'name': 'Sentinel test blob detector' + (', other breast only' if PAIR else '') + ' (not a trained model)',
    'version': '0.0.1',
    'task': 'mammography-lesion-detection',
    'modality': 'MG',
    'file': f'{MODEL_ID}.onnx',
    'sha256': sha,
    'input': {'name': 'input', 'layout': 'NCHW', 'channels': 2 if PAIR else 1, 'channelOrder': 'GRAY', 'height': SIZE, 'width': SIZE,
              **({'views': 'pair'} if PAIR else {}),
              'pixelSpacingMm': 0.5, 'normalization': {'scale': 1 / 255, 'mean': [0.0], 'std': [1.0]}},
    'outputs': [{'name': 'lesion_heatmap', 'role': 'lesion_heatmap', 'classes': ['mass'], 'activation': 'sigmoid'},
                {'name': 'image_score', 'role': 'image_score', 'classes': ['abnormal'], 'activation': 'sigmoid'}],
    'thresholds': {'detection': 0.5, 'high': 0.9, 'intermediate': 0.5},
    # A made-up exam score scale (tenths), not measured: the tests know the answer, 1 + the
    # number of tenths a score exceeds.
    'calibration': {'examScore': {'split': 'none (test scale)', 'unit': 'image', 'n': 10,
                                  'deciles': [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]}},
    'intendedUse': 'Tests and demos of the plumbing only. Detects bright blobs; says nothing about cancer.',
}
with open(os.path.join(out_dir, f'{MODEL_ID}.json'), 'w') as f:
    json.dump(manifest, f, indent=2)
print(os.path.join(out_dir, f'{MODEL_ID}.json'))
