// Coded concepts used in Sentinel's SEG, SR and HL7 outputs, named after what they mean.
// Sources: DICOM PS3.16 (CID 6015 BI-RADS single image findings, CID 6017, CID 7150, DCM).

export interface Code {
  CodeValue: string;
  CodingSchemeDesignator: string;
  CodeMeaning: string;
}

const code = (CodeValue: string, CodingSchemeDesignator: string, CodeMeaning: string): Code => ({ CodeValue, CodingSchemeDesignator, CodeMeaning });

export const Codes = {
  morphologicallyAlteredStructure: code('49755003', 'SCT', 'Morphologically Altered Structure'),
  mammographicBreastMass: code('129788004', 'SCT', 'Mammographic breast mass'),
  calcificationCluster: code('129769006', 'SCT', 'Calcification Cluster'),
  lesion: code('52988006', 'SCT', 'Lesion'),
  neoplasm: code('108369006', 'SCT', 'Neoplasm'),
  breast: code('76752008', 'SCT', 'Breast'),
  rightBreast: code('73056007', 'SCT', 'Right breast'),
  leftBreast: code('80248007', 'SCT', 'Left breast'),
  right: code('24028007', 'SCT', 'Right'),
  left: code('7771000', 'SCT', 'Left'),
  laterality: code('272741003', 'SCT', 'Laterality'),
  artificialIntelligence: code('123110', 'DCM', 'Artificial Intelligence'),
  segmentation: code('113076', 'DCM', 'Segmentation'),
  sourceImageForProcessing: code('121322', 'DCM', 'Source image for image processing operation'),
  imagingMeasurementReport: code('126000', 'DCM', 'Imaging Measurement Report'),
  languageOfContent: code('121049', 'DCM', 'Language of Content Item and Descendants'),
  english: code('eng', 'RFC5646', 'English'),
  unitedStates: code('US', 'ISO3166_1', 'United States'),
  countryOfLanguage: code('121046', 'DCM', 'Country of Language'),
  observerType: code('121005', 'DCM', 'Observer Type'),
  device: code('121007', 'DCM', 'Device'),
  person: code('121006', 'DCM', 'Person'),
  personObserverName: code('121008', 'DCM', 'Person Observer Name'),
  deviceObserverUid: code('121012', 'DCM', 'Device Observer UID'),
  deviceObserverName: code('121013', 'DCM', 'Device Observer Name'),
  deviceObserverManufacturer: code('121014', 'DCM', 'Device Observer Manufacturer'),
  deviceObserverModelName: code('121015', 'DCM', 'Device Observer Model Name'),
  procedureReported: code('121058', 'DCM', 'Procedure reported'),
  mammography: code('71651007', 'SCT', 'Mammography'),
  imageLibrary: code('111028', 'DCM', 'Image Library'),
  imageLibraryGroup: code('126200', 'DCM', 'Image Library Group'),
  imagingMeasurements: code('126010', 'DCM', 'Imaging Measurements'),
  measurementGroup: code('125007', 'DCM', 'Measurement Group'),
  trackingIdentifier: code('112039', 'DCM', 'Tracking Identifier'),
  trackingUniqueIdentifier: code('112040', 'DCM', 'Tracking Unique Identifier'),
  imageRegion: code('111030', 'DCM', 'Image Region'),
  finding: code('121071', 'DCM', 'Finding'),
  findingSite: code('363698007', 'SCT', 'Finding Site'),
  algorithmName: code('111001', 'DCM', 'Algorithm Name'),
  algorithmVersion: code('111003', 'DCM', 'Algorithm Version'),
  probabilityOfCancer: code('111047', 'DCM', 'Probability of cancer'),
  area: code('42798000', 'SCT', 'Area'),
  qualitativeEvaluations: code('C0034375', 'UMLS', 'Qualitative Evaluations'),
  suspicionCategory: code('SUSPICION', '99SENTINEL', 'AI suspicion category'),
  high: code('HIGH', '99SENTINEL', 'High suspicion'),
  intermediate: code('INTERMEDIATE', '99SENTINEL', 'Intermediate suspicion'),
  low: code('LOW', '99SENTINEL', 'Low suspicion'),
  ratio: code('{ratio}', 'UCUM', 'ratio'),
  squareMillimetre: code('mm2', 'UCUM', 'square millimeter'),
  noUnits: code('1', 'UCUM', 'no units'),
  tumourArea: code('AIAREA', '99SENTINEL', 'AI tumour area'),
  tumourRegions: code('AINREG', '99SENTINEL', 'Number of AI tumour regions'),
  breastUltrasound: code('47079000', 'SCT', 'Ultrasonography of breast'),
  aiClassification: code('AICLASS', '99SENTINEL', 'AI image classification'),
  examScore: code('AIEXAM', '99SENTINEL', 'AI exam score (1-10)'),
  scoreUnit: code('{score}', 'UCUM', 'score'),
  noAiFinding: code('NOAIFINDING', '99SENTINEL', 'No AI finding'),
  notAnalysed: code('NOTANALYSED', '99SENTINEL', 'Not analysed by AI'),
  comment: code('121106', 'DCM', 'Comment'),
  lesionProbability: code('AISEGP', '99SENTINEL', 'AI lesion probability, mean over the outline'),
  longAxis: code('103339001', 'SCT', 'Long Axis'),
  millimetre: code('mm', 'UCUM', 'millimeter'),
  pixels: code('{pixels}', 'UCUM', 'pixels'),
  squarePixels: code('{square pixels}', 'UCUM', 'square pixels'),
  referencedSegment: code('121191', 'DCM', 'Referenced Segment'),
  study: code('113014', 'DCM', 'Study'),
  // CID 6014's "Breast composition" concept; the value is the model's class code (e.g. CID 6000).
  breastComposition: code('129715009', 'SCT', 'Breast composition'),
  classProbability: code('AICLASSP', '99SENTINEL', 'AI probability of the class'),
} as const;

/** A model's class name as a local code (e.g. "malignant" -> MALIGNANT). */
export function classCode(name: string): Code {
  return code(name.toUpperCase().replace(/[^A-Z0-9]+/g, '_').slice(0, 16), '99SENTINEL', name);
}
