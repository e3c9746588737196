// The whole-slide pipeline: a VL Whole Slide Microscopy slide read tile by tile at the level
// nearest the model's spacing, tissue cells scored (here, or spread by the caller's scoring
// strategy), the map smoothed into tumour regions, the slide scored by its map.
import { SopClass } from '../../dicom/uid';
import { Codes } from '../../domain/codes';
import { allFindings } from '../../domain/findings';
import type { TilePipeline } from '../definition';
import { finishSlide, planSlide, scoreCells } from './analyze-slide';

export const wsi: TilePipeline<'wsi'> = {
  name: 'wsi',
  label: 'whole slide',
  modalities: ['SM'],
  // What `sentinel dicomize` (OrthancWSIDicomizer) writes and the PACS serves for a slide.
  sopClasses: { [SopClass.VLWholeSlideMicroscopyImage]: 'VL Whole Slide Microscopy Image Storage' },
  task: 'wsi-tile-classification',
  modality: 'SM',
  input: 'tiles',
  async analyseSlide(source, model, { frameOfReferenceUid, scoring, onProgress }) {
    const startedAt = Date.now();
    const plan = await planSlide(source, model);
    const { probabilities, inferenceMs } = await scoring({ frameOfReferenceUid }, plan, () => scoreCells(source, model, plan, plan.todo, { onProgress }));
    return finishSlide(plan, probabilities, model.manifest, { inferenceMs, startedAt });
  },
  reporting: {
    procedure: Codes.breast,
    oruService: { code: 'SEN-WSI-AI', text: 'AI analysis of breast whole-slide pathology' },
    measurements: (result) => {
      const findings = allFindings(result);
      return [
        { concept: Codes.tumourArea, value: findings.reduce((a, f) => a + (f.areaMm2 ?? 0), 0), unit: Codes.squareMillimetre,
          oru: { code: 'AIAREA', text: 'AI tumour area', units: ['mm2', 'square millimeter', 'UCUM'], digits: 2 } },
        { concept: Codes.tumourRegions, value: findings.length, unit: Codes.noUnits },
      ];
    },
  },
};
