// The few Orthanc-specific REST calls DICOMweb cannot make: the /changes feed and the
// mapping from an Orthanc resource id to its StudyInstanceUID.
import { SentinelError, unavailable } from '../errors/errors';

export interface OrthancTarget {
  url: string;
  username: string;
  password: string;
}

export interface OrthancChange {
  ChangeType: string;
  ID: string;
  ResourceType: string;
  Seq: number;
}

export interface OrthancChanges {
  Changes: OrthancChange[];
  Done: boolean;
  Last: number;
}

export class OrthancRest {
  constructor(private readonly target: OrthancTarget) {}

  private async get<T>(path: string): Promise<T> {
    let res: Response;
    try {
      res = await fetch(new URL(path, this.target.url), {
        headers: { Authorization: `Basic ${Buffer.from(`${this.target.username}:${this.target.password}`).toString('base64')}` },
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      throw unavailable(`Orthanc unreachable at ${this.target.url}`, err);
    }
    if (res.status === 404) throw new SentinelError('not_found', `Orthanc: ${path} not found`);
    if (!res.ok) throw unavailable(`Orthanc answered HTTP ${res.status} for ${path}`);
    return (await res.json()) as T;
  }

  changes(since: number, limit = 100): Promise<OrthancChanges> {
    return this.get(`/changes?since=${since}&limit=${limit}`);
  }

  /** The sequence number of the feed's last change (0 for an empty feed). */
  async lastChange(): Promise<number> {
    return (await this.get<OrthancChanges>('/changes?last')).Last;
  }

  async studyInstanceUid(orthancStudyId: string): Promise<string> {
    const study = await this.get<{ MainDicomTags?: { StudyInstanceUID?: string } }>(`/studies/${encodeURIComponent(orthancStudyId)}`);
    const uid = study.MainDicomTags?.StudyInstanceUID;
    if (!uid) throw new SentinelError('not_found', `Orthanc study ${orthancStudyId} has no StudyInstanceUID`);
    return uid;
  }
}
