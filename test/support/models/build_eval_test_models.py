#!/usr/bin/python3
"""Build two deterministic TEST models (not trained models) for the evaluation tests, written
directly as ONNX graphs with their manifests, into the folder given:

- test-idc-brightness (wsi-tile-classification): tile probability = mean of the tile's
  R, G, B values / 255. A uniform tile of value v scores v / 255.
- test-us-brightness (ultrasound-classification): m = mean gray value / 255 of the resized
  image, class logits [0, 10 m - 3, 20 m - 10], softmax: normal below m = 0.3, benign
  between 0.3 and 0.7, malignant above.
"""
import hashlib
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out_dir = sys.argv[1]
os.makedirs(out_dir, exist_ok=True)


def save(model_id, graph, manifest):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)], producer_name='sentinel-tests')
    model.ir_version = 7
    onnx.checker.check_model(model)
    path = os.path.join(out_dir, f'{model_id}.onnx')
    onnx.save(model, path)
    manifest.update({'id': model_id, 'file': f'{model_id}.onnx', 'sha256': hashlib.sha256(open(path, 'rb').read()).hexdigest(),
                     'intendedUse': 'Tests of the evaluation code only. Says nothing about cancer.'})
    with open(os.path.join(out_dir, f'{model_id}.json'), 'w') as f:
        json.dump(manifest, f, indent=2)


save('test-idc-brightness', helper.make_graph(
    [helper.make_node('ReduceMean', ['input'], ['mean'], axes=[1, 2, 3], keepdims=1),
     helper.make_node('Flatten', ['mean'], ['idc_probability'], axis=1)],
    'test_idc_brightness',
    [helper.make_tensor_value_info('input', TensorProto.FLOAT, ['batch', 3, 50, 50])],
    [helper.make_tensor_value_info('idc_probability', TensorProto.FLOAT, ['batch', 1])]), {
    'name': 'Test tile classifier: brightness (not a trained model)', 'version': '0.0.1',
    'task': 'wsi-tile-classification', 'modality': 'SM',
    'input': {'name': 'input', 'layout': 'NCHW', 'channels': 3, 'channelOrder': 'RGB', 'height': 50, 'width': 50,
              'pixelSpacingMm': 0.004, 'normalization': {'scale': 1 / 255, 'mean': [0.0, 0.0, 0.0], 'std': [1.0, 1.0, 1.0]}},
    'outputs': [{'name': 'idc_probability', 'role': 'tile_probability', 'classes': ['idc'], 'activation': 'sigmoid'}],
    'thresholds': {'detection': 0.5, 'high': 0.9, 'intermediate': 0.5},
})

save('test-us-brightness', helper.make_graph(
    [helper.make_node('GlobalAveragePool', ['input'], ['pooled']),
     helper.make_node('Flatten', ['pooled'], ['m'], axis=1),
     helper.make_node('MatMul', ['m', 'w'], ['mw']),
     helper.make_node('Add', ['mw', 'b'], ['logits']),
     helper.make_node('Softmax', ['logits'], ['class_probabilities'], axis=1)],
    'test_us_brightness',
    [helper.make_tensor_value_info('input', TensorProto.FLOAT, ['batch', 1, 128, 128])],
    [helper.make_tensor_value_info('class_probabilities', TensorProto.FLOAT, ['batch', 3])],
    [numpy_helper.from_array(np.array([[0.0, 10.0, 20.0]], np.float32), 'w'),
     numpy_helper.from_array(np.array([0.0, -3.0, -10.0], np.float32), 'b')]), {
    'name': 'Test ultrasound classifier: brightness (not a trained model)', 'version': '0.0.1',
    'task': 'ultrasound-classification', 'modality': 'US',
    'input': {'name': 'input', 'layout': 'NCHW', 'channels': 1, 'channelOrder': 'GRAY', 'height': 128, 'width': 128,
              'normalization': {'scale': 1 / 255, 'mean': [0.0], 'std': [1.0]}},
    'outputs': [{'name': 'class_probabilities', 'role': 'class_probabilities', 'classes': ['normal', 'benign', 'malignant'],
                 'activation': 'softmax', 'scoreClass': 'malignant'}],
    'thresholds': {'detection': 0.5, 'high': 0.7, 'intermediate': 0.3},
})
print(out_dir)
