// The benchmark sections, in the order `npm run bench` runs them. A new section: a file
// exporting a `Section` (section.ts) and one line here; `--only` picks them by name.
// memory, stack and scaleout return their figures only and take minutes even with --quick, so
// --quick leaves them out unless --only names them; the stack sections start the tests'
// stack and empty its database (never beside `npm test`), memory needs ../shared/data.
import { inferenceSection } from './inference-ceiling';
import { slideMemory } from './memory';
import { scaleOut } from './scaleout';
import type { Section } from './section';
import { stackSections } from './stack-e2e';
import { torchSection } from './torch-eager';

export const SECTIONS: Section[] = [
  inferenceSection,
  torchSection,
  { name: 'memory', title: 'Whole slide: peak memory and time on synthetic 100k x 80k and 50k x 40k slides', quick: false, run: async ({ say, quick }) => ({ figures: await slideMemory(say, quick) }) },
  { name: 'stack', title: 'On the real stack: mammography and whole slide end to end, Orthanc/PostgreSQL/Redis ceilings', quick: false, run: async ({ say, quick }) => ({ figures: await stackSections(say, { quick, threads: 2 }) }) },
  { name: 'scaleout', title: 'Scale-out: 1 worker x 2 threads against 2 workers x 1 thread', quick: false, run: async ({ say, quick }) => ({ figures: await scaleOut(say, quick) }) },
];
