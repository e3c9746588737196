// GET /studies/{uid}/findings.svg[?image=<SOP Instance UID>][&finding=<id>]: the outlines of
// a study's latest analysis as SVG, one path per finding, in the image's own pixels (the
// viewBox is the image's columns x rows, from the PACS), to lay over the image in any app.
// Each path carries its finding's id, type, score and exam score as data attributes and a
// title. A study whose findings lie on several images needs ?image=.
import { Router } from 'express';
import type { DataSource } from 'typeorm';
import { FindingRow } from '../../db/entities/finding';
import { JobRow } from '../../db/entities/job';
import { num, str } from '../../dicom/json';
import { Tag } from '../../dicom/tags';
import type { DicomwebClient } from '../../dicomweb/client';
import { badRequest, notFound } from '../../errors/errors';
import { findingsSvg } from '../../reports/svg/findings';

const UID = /^[0-9]+(\.[0-9]+)*$/;
const FINDING_ID = /^[A-Za-z0-9_-]{1,64}$/;

export function findingsSvgRouter(ds: DataSource, dicomweb: DicomwebClient): Router {
  const router = Router();
  router.get('/studies/:uid/findings.svg', async (req, res) => {
    const uid = req.params.uid;
    if (!UID.test(uid)) throw badRequest('not a DICOM UID');
    const image = typeof req.query.image === 'string' ? req.query.image : undefined;
    if (image !== undefined && !UID.test(image)) throw badRequest('image: not a SOP Instance UID');
    const finding = typeof req.query.finding === 'string' ? req.query.finding : undefined;
    if (finding !== undefined && !FINDING_ID.test(finding)) throw badRequest('finding: not a finding id (e.g. F1)');
    const job = await ds.getRepository(JobRow).findOne({ where: { studyInstanceUid: uid, state: 'succeeded' }, order: { finishedAt: 'DESC' } });
    if (!job) throw notFound(`study ${uid} has no finished analysis`);
    let findings = await ds.getRepository(FindingRow).find({ where: { jobId: job.id }, order: { score: 'DESC' } });
    if (finding !== undefined) {
      findings = findings.filter((f) => f.trackingId === finding);
      if (findings.length === 0) throw notFound(`study ${uid}'s latest analysis has no finding ${finding}`);
    }
    const images = [...new Set(findings.map((f) => f.sopInstanceUid))];
    const sop = image ?? images[0];
    if (!sop) throw notFound(`study ${uid}'s latest analysis has no finding; give ?image=<SOP Instance UID> for the (empty) overlay of one image`);
    if (image === undefined && images.length > 1) throw badRequest(`the findings lie on ${images.length} images; choose one with ?image= (${images.join(', ')})`);
    const meta = (await dicomweb.studyMetadata(uid)).find((m) => str(m, Tag.SOPInstanceUID) === sop);
    if (!meta) throw notFound(`image ${sop} is not in study ${uid} in the PACS`);
    const columns = num(meta, Tag.TotalPixelMatrixColumns) || num(meta, Tag.Columns) || 0;
    const rows = num(meta, Tag.TotalPixelMatrixRows) || num(meta, Tag.Rows) || 0;
    res.type('image/svg+xml').send(findingsSvg(findings.filter((f) => f.sopInstanceUid === sop), columns, rows));
  });
  return router;
}
