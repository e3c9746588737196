// Section "torch": the seeds' stack on the same network. Each shipped model in PyTorch eager on
// CPU (Debian's python3-torch; what a TorchServe deployment runs), rebuilt from its training
// script's own classes with the shipped ONNX graph's weights (py/torch_eager.py), first proven
// the same model: its outputs against onnxruntime-node's through Sentinel's registry on the
// same inputs. Then images/s at the same batch sizes, 2 threads each side (torch.set_num_threads(2)
// under no_grad; the registry with 2 intra-op threads), measured in the same run (Sentinel's rates first, then torch's in one Python process).
// inference_vs_torch = Sentinel's best images/s / torch's best, for the tile model.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ModelRegistry } from '../../src/inference/registry';
import { MODELS_DIR, TILE_MODEL, batchSizes, imagesPerSecond, inputSize, onnxFile, randomInputs } from './models';
import { graphFlops, python } from './python';
import { type Figure, type Figures, type Section, type SectionContext, type SectionResult, round } from './section';

/** Largest absolute difference allowed between torch's and onnxruntime's outputs (probabilities in 0..1). */
export const TOLERANCE = 1e-4;
const CHECK_INPUTS = 4;

interface TorchRun { model: string; layers: number; max_abs_diff: number; threads: number; images_per_s: Record<string, number> }

/** onnxruntime-node's outputs through the registry, each flattened, in the manifest's output order. */
async function reference(registry: ModelRegistry, id: string, input: Float32Array): Promise<Float32Array> {
  const out = await registry.run(id, input, CHECK_INPUTS);
  const parts = registry.get(id).manifest.outputs.map((o) => {
    const t = out[o.role];
    if (!t) throw new Error(`${id} gave no ${o.role}`);
    return t.data;
  });
  const flat = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    flat.set(p, at);
    at += p.length;
  }
  return flat;
}

export async function torchEager({ quick, say }: SectionContext): Promise<SectionResult> {
  const seconds = quick ? 0.1 : 2;
  const registry = await ModelRegistry.load(MODELS_DIR, { intraOpNumThreads: 2 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-bench-torch-'));
  const rows: Figure[][] = [];
  const sweep: Figure[][] = [];
  const figures: Figures = {};
  try {
    const ids = registry.list().map((m) => m.id);
    const flops = await graphFlops(ids.map((id) => onnxFile(registry, id)));
    const spec = [];
    const sentinel = new Map<string, Record<string, number>>();
    for (const id of ids) {
      const input = randomInputs(CHECK_INPUTS * inputSize(registry, id), 7);
      const [inputs, ref] = [path.join(dir, `${id}.in.f32`), path.join(dir, `${id}.ref.f32`)];
      fs.writeFileSync(inputs, Buffer.from(input.buffer));
      fs.writeFileSync(ref, Buffer.from((await reference(registry, id, input)).buffer));
      const batches = batchSizes(flops[onnxFile(registry, id)]?.flops_per_image ?? NaN, quick);
      spec.push({ model: id, batches, inputs, reference: ref });
      const rates: Record<string, number> = {};
      for (const b of batches) rates[String(b)] = await imagesPerSecond(registry, id, b, seconds);
      sentinel.set(id, rates);
    }
    const specFile = path.join(dir, 'spec.json');
    fs.writeFileSync(specFile, JSON.stringify(spec));
    say('PyTorch eager: rebuilding each model from its training script and timing it');
    const torchRuns = await python<Record<string, TorchRun>>('torch_eager.py', [specFile, String(seconds)], { TORCH_THREADS: '2', OMP_NUM_THREADS: '2' });
    for (const { model: id, batches } of spec) {
      const torch = torchRuns[id];
      const mine = sentinel.get(id);
      if (!torch || !mine) throw new Error(`no torch run for ${id}`);
      const same = torch.max_abs_diff <= TOLERANCE;
      const bestS = Math.max(...Object.values(mine));
      const bestT = Math.max(...Object.values(torch.images_per_s));
      for (const b of batches) sweep.push([id, b, round(mine[String(b)] ?? NaN, 4), round(torch.images_per_s[String(b)] ?? NaN, 4)]);
      rows.push([id, torch.max_abs_diff.toExponential(1), same ? 'yes' : 'NO', round(bestS, 4), round(bestT, 4), same ? round(bestS / bestT, 3) : '-']);
      say(`${id}: torch rebuilt (${torch.layers} layers), max |torch - onnxruntime| ${torch.max_abs_diff.toExponential(1)}; Sentinel ${bestS.toFixed(1)} images/s, torch ${bestT.toFixed(1)} images/s (${torch.threads} threads)`);
      if (id === TILE_MODEL) {
        if (!same) throw new Error(`the torch rebuild of ${id} differs from the shipped graph by ${torch.max_abs_diff} (tolerance ${TOLERANCE})`);
        Object.assign(figures, {
          torch_tile_max_abs_diff: Number(torch.max_abs_diff.toExponential(2)),
          torch_tiles_per_s: round(bestT, 4),
          sentinel_tiles_per_s_2_threads: round(bestS, 4),
          inference_vs_torch: round(bestS / bestT, 3),
        });
      }
    }
  } finally {
    await registry.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (figures.inference_vs_torch === undefined) throw new Error(`${TILE_MODEL} is not installed in ${MODELS_DIR}`);
  return {
    figures,
    tables: [
      { title: 'Sentinel (onnxruntime-node) against PyTorch eager, 2 threads each, best batch', columns: ['model', 'max |diff|', 'same model', 'Sentinel images/s', 'torch images/s', 'Sentinel / torch'], rows },
      { title: 'by batch size (images/s)', columns: ['model', 'batch', 'Sentinel', 'torch'], rows: sweep },
    ],
    notes: [`same model: torch's outputs within ${TOLERANCE} of onnxruntime's on ${CHECK_INPUTS} inputs`],
  };
}

export const torchSection: Section = { name: 'torch', title: 'The seeds\' stack: the same networks in PyTorch eager on CPU', run: torchEager };
