// The DICOM (DIMSE) way in: a Storage SCP with Verification (PS3.4 Annex A and B), on
// dcmjs-dimse. Most PACS and modalities push studies by C-STORE, not STOW-RS.
//
// - An association is accepted only when its called AE title is ours and its calling AE title
//   is one of `dimse.allowedCallers` from that caller's own host; any other is rejected
//   (permanent, calling or called AE title not recognised).
// - Storage SOP classes and Verification are accepted, each in the first transfer syntax the
//   sender proposes: Sentinel stores the bytes as they came and decodes nothing here.
// - Each C-STORE's dataset streams to a spool file as a Part 10 file (our file meta, then the
//   bytes as received), goes through the receive step every listener shares (header checked,
//   stored into the PACS, audited), and is answered with the outcome: 0000 stored; A700 (out of
//   resources) when the PACS is down, so the sender tries again; C000 for a file that cannot
//   be read; 0122 for a SOP class that is no storage class; 0110 when the PACS refused it.
// - The association's studies are handed to intake once it is released or closed, so a study
//   sent in one association is analysed once, whole.
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Writable } from 'node:stream';
import dcmjs from 'dcmjs';
import dcmjsDimse from 'dcmjs-dimse';
import type { Config } from '../config/schema';
import { projectRoot } from '../config/load';
import { fileMeta } from '../dicom/write';
import { describeError } from '../errors/errors';
import { FailureReason, type ReceiveDeps, intakeStored, storeReceived } from './receive';

const { Scp, Dataset } = dcmjsDimse;
// The library logs every PDU at info level; Sentinel's own log says what matters.
dcmjsDimse.log.setLevel('warn');
const { CEchoResponse, CStoreResponse } = dcmjsDimse.responses;
const { PresentationContextResult, RejectResult, RejectSource, RejectReason, SopClass } = dcmjsDimse.constants;

/** C-STORE response statuses (PS3.4 B.2.3, PS3.7 C). */
export const StoreStatus = {
  Success: 0x0000,
  OutOfResources: 0xa700,
  CannotUnderstand: 0xc000,
  SopClassNotSupported: 0x0122,
  ProcessingFailure: 0x0110,
} as const;

const STORAGE_SOP_PREFIX = '1.2.840.10008.5.1.4.1.1.';

/** The preamble and file meta of a Part 10 file for a dataset of this SOP instance in this transfer syntax. */
export function fileMetaFor(sopClassUid: string, sopInstanceUid: string, transferSyntaxUid: string): Buffer {
  const dict = new dcmjs.data.DicomDict(fileMeta(sopClassUid, sopInstanceUid, transferSyntaxUid));
  dict.dict = {};
  return Buffer.from(dict.write());
}

export type DimseDeps = ReceiveDeps & { config: Pick<Config, 'dimse' | 'stow' | 'jobs'> };

function statusOf(failure: number | undefined): number {
  if (failure === undefined) return StoreStatus.Success;
  if (failure === FailureReason.SopClassNotSupported) return StoreStatus.SopClassNotSupported;
  if (failure === FailureReason.ProcessingFailure) return StoreStatus.ProcessingFailure;
  return StoreStatus.CannotUnderstand;
}

export interface DimseListener {
  name: 'dimse';
  /** The port listened on, once started (0 in the configuration: not started). */
  port: number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The C-STORE SCP as a component of the process (service/lifecycle.ts). */
export function dimseListener(deps: DimseDeps): DimseListener {
  const { dimse } = deps.config;
  const spool = path.resolve(projectRoot, deps.config.stow.spoolDir);
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;

  class SentinelScp extends Scp {
    private peer = '?';
    private readonly studies = new Set<string>();
    private readonly files = new Map<Writable, string>();
    private received: string[] = [];

    constructor(socket: net.Socket) {
      super(socket, {});
      this.peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
      const host = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
      this.callerHost = host;
      // Released, aborted or dropped: whatever was stored goes to intake once.
      socket.once('close', () => this.handOver());
    }

    private readonly callerHost: string;

    private handOver(): void {
      if (this.studies.size === 0) return;
      intakeStored(deps, [...this.studies], 'dimse');
      this.studies.clear();
    }

    override associationRequested(association: InstanceType<typeof dcmjsDimse.association.Association>): void {
      const calling = association.getCallingAeTitle().trim();
      const called = association.getCalledAeTitle().trim();
      const allowed = dimse.allowedCallers.some((c) => c.aet === calling && c.host === this.callerHost);
      if (called !== dimse.aet || !allowed) {
        deps.log.warn({ peer: this.peer, calling, called }, 'DICOM association refused: AE title or host not allowed');
        this.sendAssociationReject(RejectResult.Permanent, RejectSource.ServiceUser,
          called !== dimse.aet ? RejectReason.CalledAeNotRecognized : RejectReason.CallingAeNotRecognized);
        return;
      }
      for (const c of association.getPresentationContexts()) {
        const context = association.getPresentationContext(c.id);
        const syntax = context.getAbstractSyntaxUid();
        const first = context.getTransferSyntaxUids()[0];
        if ((syntax === SopClass.Verification || syntax.startsWith(STORAGE_SOP_PREFIX)) && first) {
          context.setResult(PresentationContextResult.Accept, first);
        } else {
          context.setResult(PresentationContextResult.RejectAbstractSyntaxNotSupported);
        }
      }
      this.sendAssociationAccept();
    }

    override associationReleaseRequested(): void {
      this.sendAssociationReleaseResponse();
      this.handOver();
    }

    override cEchoRequest(request: InstanceType<typeof dcmjsDimse.requests.CEchoRequest>, callback: (r: InstanceType<typeof CEchoResponse>) => void): void {
      const response = CEchoResponse.fromRequest(request);
      response.setStatus(StoreStatus.Success);
      callback(response);
    }

    /** The dataset streams to a Part 10 file in the spool, never into memory whole. */
    override createStoreWritableStream(context: InstanceType<typeof dcmjsDimse.association.PresentationContext>, request: InstanceType<typeof dcmjsDimse.requests.CStoreRequest>): Writable {
      fs.mkdirSync(spool, { recursive: true });
      const file = path.join(spool, `dimse-${crypto.randomUUID()}.dcm`);
      const out = fs.createWriteStream(file);
      out.write(fileMetaFor(request.getAffectedSopClassUid(), request.getAffectedSopInstanceUid(), context.getAcceptedTransferSyntaxUid() ?? '1.2.840.10008.1.2'));
      this.files.set(out, file);
      return out;
    }

    override createDatasetFromStoreWritableStream(writable: Writable, context: InstanceType<typeof dcmjsDimse.association.PresentationContext>, callback: (dataset: InstanceType<typeof Dataset>) => void): void {
      const file = this.files.get(writable);
      this.files.delete(writable);
      writable.once('finish', () => {
        if (file) this.received.push(file);
        callback(new Dataset({}, context.getAcceptedTransferSyntaxUid()));
      });
      writable.end();
    }

    override cStoreRequest(request: InstanceType<typeof dcmjsDimse.requests.CStoreRequest>, callback: (r: InstanceType<typeof CStoreResponse>) => void): void {
      const response = CStoreResponse.fromRequest(request);
      const file = this.received.shift();
      void (async () => {
        if (!file) {
          response.setStatus(StoreStatus.CannotUnderstand);
          return;
        }
        try {
          const [outcome] = await storeReceived(deps, [{ file, size: fs.statSync(file).size }], { channel: 'dimse', peer: this.peer });
          response.setStatus(statusOf(outcome?.failure));
          if (outcome?.failure === undefined && outcome?.studyInstanceUid) this.studies.add(outcome.studyInstanceUid);
        } catch (err) {
          // The PACS (or PostgreSQL) is down: nothing was stored; the sender may try again.
          deps.log.warn({ peer: this.peer, sopInstanceUid: request.getAffectedSopInstanceUid(), error: describeError(err) }, 'C-STORE not stored; answered out of resources');
          response.setStatus(StoreStatus.OutOfResources);
        } finally {
          fs.rmSync(file, { force: true });
        }
      })().finally(() => callback(response));
    }
  }

  const listener: DimseListener = {
    name: 'dimse',
    port: 0,
    async start() {
      if (dimse.port === 0) return;
      server = net.createServer((socket) => {
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
        const scp = new SentinelScp(socket);
        scp.on('networkError', (err: unknown) => {
          deps.log.warn({ error: describeError(err) }, 'DICOM association network error');
          socket.destroy();
        });
      });
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(dimse.port, dimse.host, () => resolve());
      });
      listener.port = (server.address() as net.AddressInfo).port;
      deps.log.info({ port: listener.port, host: dimse.host, aet: dimse.aet }, 'DICOM C-STORE SCP listening');
    },
    async stop() {
      const s = server;
      if (!s) return;
      server = undefined;
      const closed = new Promise<void>((resolve) => s.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
  return listener;
}
