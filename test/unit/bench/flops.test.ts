// The benchmark's FLOP counter (test/bench/py/flops.py) against answers worked out by hand, on
// small ONNX graphs built here with Debian's python3-onnx; and the shape of the suite's
// `--quick --json` output (the inference section alone: about 15 s).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.join(__dirname, '..', '..', '..');
const FLOPS = path.join(ROOT, 'test', 'bench', 'py', 'flops.py');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-flops-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

// Each graph's batch is symbolic ('N'): the counter gives FLOPs at batch 1.
const BUILD = String.raw`
import sys, numpy as np, onnx
from onnx import TensorProto as T, helper as h, numpy_helper as nh
out = sys.argv[1]
def w(name, *shape):
    return nh.from_array(np.ones(shape, np.float32), name)
def save(name, nodes, inputs, outputs, inits):
    g = h.make_graph(nodes, name, [h.make_tensor_value_info(n, T.FLOAT, s) for n, s in inputs],
                     [h.make_tensor_value_info(n, T.FLOAT, s) for n, s in outputs], inits)
    m = h.make_model(g, opset_imports=[h.make_opsetid('', 13)])
    onnx.checker.check_model(m)
    onnx.save(m, f'{out}/{name}.onnx')
# 4 -> 6 channels in 2 groups, 3x3, stride 2, padding 1, on 9 x 9; then a ReLU (not counted).
save('conv', [h.make_node('Conv', ['x', 'w', 'b'], ['y'], group=2, strides=[2, 2], pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
              h.make_node('Relu', ['y'], ['z'])], [('x', ['N', 4, 9, 9])], [('z', ['N', 6, 5, 5])], [w('w', 6, 2, 3, 3), w('b', 6)])
# 3 -> 2 channels, 2x2, stride 2, on 4 x 4.
save('convtranspose', [h.make_node('ConvTranspose', ['x', 'w'], ['y'], strides=[2, 2], kernel_shape=[2, 2])],
     [('x', ['N', 3, 4, 4])], [('y', ['N', 2, 8, 8])], [w('w', 3, 2, 2, 2)])
# [N, 5] x [7, 5]^T + bias.
save('gemm', [h.make_node('Gemm', ['a', 'b', 'c'], ['y'], transB=1)], [('a', ['N', 5])], [('y', ['N', 7])], [w('b', 7, 5), w('c', 7)])
# [N, 3, 4] x [4, 6].
save('matmul', [h.make_node('MatMul', ['a', 'b'], ['y'])], [('a', ['N', 3, 4])], [('y', ['N', 3, 6])], [w('b', 4, 6)])
`;

interface Counted { flops_per_image: number; by_op: Record<string, number>; ignored: Record<string, number> }

function count(name: string): Counted {
  const file = path.join(dir, `${name}.onnx`);
  const out = JSON.parse(execFileSync('/usr/bin/python3', [FLOPS, file], { encoding: 'utf8' })) as Record<string, Counted>;
  return out[file] as Counted;
}

beforeAll(() => {
  execFileSync('/usr/bin/python3', ['-c', BUILD, dir]);
});

describe('the FLOP counter', () => {
  test('a grouped, strided, padded Conv: every output element costs Cin/group x kh x kw multiply-adds', () => {
    // Output 6 x 5 x 5 (floor((9 + 2 - 3) / 2) + 1 = 5); each of its 150 values: 2 x 3 x 3 = 18 MACs.
    const c = count('conv');
    expect(c.flops_per_image).toBe(2 * 150 * 18);
    expect(c.by_op).toEqual({ Conv: 5400 });
    expect(c.ignored).toEqual({ Relu: 1 });
  });

  test('a ConvTranspose: every input element spreads over Cout x kh x kw outputs', () => {
    // 3 x 4 x 4 = 48 inputs, each to 2 x 2 x 2 = 8 outputs (the 2 x 8 x 8 output takes 3 from each).
    expect(count('convtranspose').flops_per_image).toBe(2 * 48 * 8);
  });

  test('a Gemm with transB: M x K x N multiply-adds, the bias not counted', () => {
    expect(count('gemm').flops_per_image).toBe(2 * 1 * 5 * 7);
  });

  test('a batched MatMul', () => {
    expect(count('matmul').flops_per_image).toBe(2 * 3 * 4 * 6);
  });
});

test('npm run bench -- --quick --json prints one JSON object: the machine, figures, goals and each section', () => {
  const r = spawnSync(process.execPath, ['-r', path.join(ROOT, 'test', 'support', 'ts-register.js'), path.join(ROOT, 'test', 'bench', 'suite.ts'), '--quick', '--only', 'inference', '--json'], { encoding: 'utf8', timeout: 120_000 });
  expect(r.status).toBe(0);
  const lines = r.stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  const out = JSON.parse(lines[0] as string) as {
    machine: Record<string, unknown>; figures: Record<string, unknown>; goals: Array<{ figure: string; met: boolean }>; sections: Record<string, { figures: Record<string, unknown>; tables: unknown[] }>;
  };
  expect(out.machine).toEqual(expect.objectContaining({ cpu: expect.any(String), cores: expect.any(Number), load_1min_at_start: expect.any(Number), under_load: expect.any(Boolean) }));
  expect(Object.keys(out.sections)).toEqual(['inference']);
  for (const k of ['machine_matmul_gflops', 'numpy_matmul_gflops', 'onnxruntime_matmul_gflops', 'tile_model_images_per_s', 'tile_model_gflops', 'gflops_fraction']) {
    expect(out.figures[k]).toEqual(expect.any(Number));
    expect(out.figures[k] as number).toBeGreaterThan(0);
  }
  expect(out.goals.map((g) => g.figure)).toEqual(['gflops_fraction']);
}, 120_000);
