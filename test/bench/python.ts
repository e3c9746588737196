// The Python side of the benchmarks (test/bench/py/): Debian's /usr/bin/python3, which has
// python3-onnx, numpy (OpenBLAS) and python3-torch; the pyenv python3 on PATH has none of them.
// Each script prints one JSON object as its last line of stdout.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../../src/config/load';

const run = promisify(execFile);
export const PYTHON = '/usr/bin/python3';
export const PY_DIR = path.join(projectRoot, 'test', 'bench', 'py');

export async function python<T>(script: string, args: string[], env: Record<string, string> = {}): Promise<T> {
  const { stdout } = await run(PYTHON, [path.join(PY_DIR, script), ...args], {
    env: { ...process.env, ...env },
    maxBuffer: 64 * 1024 * 1024,
    timeout: 1_800_000,
  });
  return JSON.parse(stdout.trim().split('\n').pop() ?? '') as T;
}

export interface GraphFlops {
  flops_per_image: number;
  by_op: Record<string, number>;
  ignored: Record<string, number>;
}

/** FLOPs of one input of each graph (py/flops.py: Conv, ConvTranspose, Gemm, MatMul as 2 x MACs). */
export async function graphFlops(files: string[]): Promise<Record<string, GraphFlops>> {
  return python<Record<string, GraphFlops>>('flops.py', files);
}
