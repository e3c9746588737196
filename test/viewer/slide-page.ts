// A bare page around dicom-microscopy-viewer (the build that OHIF's dist ships for its
// microscopy mode), for what OHIF 3.13's microscopy mode cannot show: a slide SEG. It draws
// the slide, every segment of the study's SEG (as Slim does, with addSegments/showSegment),
// and the SR's SCOORD3D outlines on top, so the heat map and the outlines can be compared in
// one picture. The check serves it (and dicomweb-client's browser build) by intercepting two
// URLs on the viewer's origin, so the page uses the viewer's DICOMweb proxy and sign-in.

export const SLIDE_PAGE_PATH = '/__sentinel-check/slide.html';
export const DICOMWEB_CLIENT_PATH = '/__sentinel-check/dicomweb-client.js';

export function slidePageHtml(): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Sentinel slide check</title>
<style>html,body{margin:0;height:100%;background:#000}#viewer{position:absolute;inset:0}</style>
<script>window.PUBLIC_LIB_URL = '/dicom-microscopy-viewer/'; // where its decoding worker and codecs are</script>
<script src="${DICOMWEB_CLIENT_PATH}"></script>
<script src="/dicom-microscopy-viewer/dicomMicroscopyViewer.min.js"></script>
</head><body><div id="viewer"></div>
<script>
window.sentinelSlideCheck = async function (study) {
  const dmv = window.dicomMicroscopyViewer;
  const client = new DICOMwebClient.api.DICOMwebClient({ url: location.origin + '/dicom-web' });
  const series = await client.searchForSeries({ studyInstanceUID: study });
  const of = (m) => series.filter((s) => s['00080060'].Value[0] === m).map((s) => s['0020000E'].Value[0]);
  const meta = (uid) => client.retrieveSeriesMetadata({ studyInstanceUID: study, seriesInstanceUID: uid });
  const images = (await meta(of('SM')[0])).map((m) => new dmv.metadata.VLWholeSlideMicroscopyImage({ metadata: m }));
  const volume = images.filter((i) => i.ImageType[2] === 'VOLUME' || i.ImageType[2] === 'THUMBNAIL');
  const viewer = new dmv.viewer.VolumeImageViewer({ client, metadata: volume });
  viewer.render({ container: document.getElementById('viewer') });
  // A segment gets its tile loader when shown on a viewer whose map is on the page already.
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  for (let i = 0; i < 100 && !document.querySelector('#viewer canvas'); i++) await sleep(100);
  await sleep(2000);
  const result = { segments: [], rois: 0, errors: [] };
  for (const uid of of('SEG')) {
    try {
      viewer.addSegments((await meta(uid)).map((m) => new dmv.metadata.Segmentation({ metadata: m })));
    } catch (err) {
      result.errors.push('addSegments: ' + (err && err.message || err));
    }
  }
  for (const s of viewer.getAllSegments()) {
    viewer.showSegment(s.uid, { opacity: 0.6 });
    result.segments.push(s.label);
  }
  const frameOfReference = volume[0].FrameOfReferenceUID;
  const visit = (item, out) => {
    if (item['0040A040'] && item['0040A040'].Value[0] === 'SCOORD3D') {
      const d = item['00700022'].Value;
      const pts = [];
      for (let i = 0; i + 3 <= d.length; i += 3) pts.push([d[i], d[i + 1], d[i + 2]]);
      out.push(pts);
    }
    for (const c of (item['0040A730'] && item['0040A730'].Value) || []) visit(c, out);
  };
  for (const uid of of('SR')) {
    const outlines = [];
    for (const m of await meta(uid)) visit(m, outlines);
    for (const coordinates of outlines) {
      try {
        const roi = new dmv.roi.ROI({ scoord3d: new dmv.scoord3d.Polygon({ coordinates, frameOfReferenceUID: frameOfReference }) });
        viewer.addROI(roi, { stroke: { color: [255, 234, 0, 1], width: 2 } });
      } catch (err) {
        result.errors.push('addROI: ' + (err && err.message || err));
      }
    }
  }
  result.rois = viewer.getAllROIs().length;
  return result;
};
</script></body></html>
`;
}
