// Whether an ONNX graph is the one its manifest describes. The pipelines trust the manifest
// for the input's name, channels and size and for each output's name and meaning; a graph
// exported differently would otherwise fail inside onnxruntime on the first study with a
// message naming neither the model nor the manifest, or, worse, run and be read wrongly
// (a heatmap with another class count, a score that is not [N, 1]).
import type { InferenceSession } from 'onnxruntime-node';
import type { ModelManifest } from './manifest';

export type GraphSignature = Pick<InferenceSession, 'inputNames' | 'outputNames' | 'inputMetadata' | 'outputMetadata'>;

type Output = ModelManifest['outputs'][number];
/** One expected dimension: a size, or undefined when any size (or a symbolic one) will do. */
type Dims = Array<number | undefined>;

const list = (names: readonly string[]): string => names.map((n) => `"${n}"`).join(', ') || 'none';

/** What the pipelines read from each output role (see the roles in manifest.ts). */
function outputDims(o: Output): Dims {
  const classes = o.classes.length > 0 ? o.classes.length : undefined;
  switch (o.role) {
    case 'lesion_heatmap':
      return [undefined, classes, undefined, undefined];
    case 'class_probabilities':
      return [undefined, classes];
    case 'image_score':
    case 'tile_probability':
      return [undefined, 1];
    case 'segmentation_probability':
      return [undefined, 1, undefined, undefined];
  }
}

function tensorProblems(what: string, meta: InferenceSession.ValueMetadata | undefined, expected: Dims, labels: string[]): string[] {
  // Older runtimes give names only; then names are all that can be compared.
  if (!meta) return [];
  if (!meta.isTensor) return [`${what} is not a tensor`];
  const problems: string[] = [];
  // Inputs are fed and outputs read as Float32Array, so any other element type is unusable.
  if (meta.type !== 'float32') problems.push(`${what} is ${meta.type}, not float32`);
  const shape = meta.shape;
  if (shape.length === 0) return problems;
  if (shape.length !== expected.length) {
    problems.push(`${what} has ${shape.length} dimensions [${shape.join(', ')}], the manifest needs ${expected.length} (${labels.join(', ')})`);
    return problems;
  }
  expected.forEach((want, i) => {
    const got = shape[i];
    if (want !== undefined && typeof got === 'number' && got !== want) {
      problems.push(`${what}: ${labels[i]} is ${got}, the manifest says ${want}`);
    }
  });
  return problems;
}

/** Every way the graph differs from the manifest; empty when they agree. */
export function graphMismatches(manifest: ModelManifest, graph: GraphSignature): string[] {
  const problems: string[] = [];
  const { name, channels, height, width } = manifest.input;
  if (!graph.inputNames.includes(name)) {
    problems.push(`input "${name}" is not an input of ${manifest.file} (its inputs: ${list(graph.inputNames)})`);
  } else {
    // Sentinel feeds exactly one tensor; a second required input would fail every run.
    if (graph.inputNames.length > 1) problems.push(`${manifest.file} has inputs ${list(graph.inputNames)}; only "${name}" is fed`);
    problems.push(...tensorProblems(`input "${name}"`, graph.inputMetadata.find((m) => m.name === name),
      [undefined, channels, height, width], ['batch', 'channels', 'height', 'width']));
  }
  for (const o of manifest.outputs) {
    if (!graph.outputNames.includes(o.name)) {
      problems.push(`output "${o.name}" (${o.role}) is not an output of ${manifest.file} (its outputs: ${list(graph.outputNames)})`);
      continue;
    }
    const labels = o.role === 'lesion_heatmap' ? ['batch', 'classes', 'height', 'width'] : ['batch', o.role === 'class_probabilities' ? 'classes' : 'values'];
    problems.push(...tensorProblems(`output "${o.name}" (${o.role})`, graph.outputMetadata.find((m) => m.name === o.name), outputDims(o), labels));
  }
  return problems;
}
