#!/usr/bin/env node
// The `sentinel` command: serve, worker, demo, analyze, stack, eval, dicomize, viewer, his, config.
import 'reflect-metadata';
import { Command } from 'commander';
import { runAnalyze } from './analyze-command';
import { runConfigCheck } from './config-command';
import { runDemo } from './demo-command';
import { runDicomize, type DicomizeCommandOptions } from './dicomize-command';
import { runEval } from './eval-command';
import { type HisCommandOptions, runHis } from './his-command';
import { runServe, runWorker } from './serve-command';
import { runStackCommand } from './stack-command';
import { runViewer } from './viewer-command';
import { hashPassword } from '../api/pages/session';

const program = new Command('sentinel').description('AI node for breast imaging: DICOM in, SEG/SR/HL7 out');

const exit = (code: number): void => {
  process.exitCode = code;
};

program
  .command('stack')
  .argument('<action>', 'up | down | status')
  .description('start, stop or check the bundled Orthanc, PostgreSQL and Redis')
  .action(async (action: string) => exit(await runStackCommand(action)));

program
  .command('serve')
  .description('run the API and the Orthanc /changes poller (and, with --worker, the workers)')
  .option('--worker', 'also run the analysis and delivery workers in this process', false)
  .option('--no-poller', 'do not read the Orthanc /changes feed')
  .action((opts: { worker: boolean; poller: boolean }) => runServe(opts));

program
  .command('worker')
  .description('run the analysis and delivery workers')
  .option('--metrics-port <port>', "serve this worker's own Prometheus metrics at /metrics on this port (API address, API token)")
  .action((opts: { metricsPort?: string }) => runWorker(opts));

program
  .command('demo')
  .description('bring up the bundled stack, send sample mammography studies through Orthanc and show what comes back')
  .option('--data <dir>', 'folder laid out like ../shared/data (mini-MIAS films are used when present)')
  .option('--timeout <seconds>', 'how long to wait for each study', '300')
  .action(async (opts: { data?: string; timeout: string }) => exit(await runDemo({ data: opts.data, timeoutS: Number(opts.timeout) })));

program
  .command('analyze')
  .argument('<paths...>', 'DICOM files or folders (searched recursively)')
  .requiredOption('--out <dir>', 'where the SEG/SR (.dcm), ORU (.hl7) and summary.json go')
  .option('--model <id>', 'use this installed model instead of the routing rule\'s')
  .option('--models <dir>', 'folder of model manifests (default: config models.dir)')
  .description('analyse local DICOM files without any server')
  .action(async (paths: string[], opts: { out: string; model?: string; models?: string }) => exit(await runAnalyze(paths, opts)));

program
  .command('eval')
  .argument('<task>', 'idc-patches | idc-slides | idc | mini-mias | mini-mias-density | busi | busi-seg')
  .argument('<folder>', 'a folder laid out like the matching one in ../shared/data')
  .option('--model <id>', 'the installed model to evaluate (default: the one for the task)')
  .option('--models <dir>', 'folder of model manifests (default: config models.dir)')
  .option('--split <name>', "only the slides/patients/images of this split in the model's <id>.split.json (e.g. validation)")
  .option('--calibrate', "write the scores' deciles into the model's manifest as its exam score scale (needs --split)", false)
  .description('run a model through the service runtime on labelled data; prints one JSON object of metrics')
  .action(async (task: string, folder: string, opts: { model?: string; models?: string; split?: string; calibrate?: boolean }) => exit(await runEval(task, folder, opts)));

program
  .command('dicomize')
  .argument('<image-or-slide>', 'an OpenSlide slide (SVS, TIFF, NDPI, ...) or a large JPEG/PNG')
  .option('--study <uid>', 'put the slide into this study (with --store, patient and study come from the PACS)')
  .option('--out <dir>', 'where the DICOM files go (default ./<name>-dicom; a temporary folder with --store)')
  .option('--store', 'send the files to the configured Orthanc over STOW-RS', false)
  .option('--container <id>', 'container (slide) identifier (default: the file name)')
  .option('--specimen <id>', 'specimen identifier (default: the container identifier)')
  .option('--patient-id <id>')
  .option('--patient-name <name>')
  .option('--accession <number>')
  .option('--series-description <text>')
  .option('--pixel-spacing <mm>', 'mm per pixel at full resolution (default: the slide\'s own; 0.004 for JPEG/PNG)')
  .option('--tile-size <n>', 'tile size in pixels (default 256 for JPEG/PNG; slides keep theirs)')
  .option('--jpeg-quality <n>', 'JPEG quality of re-encoded tiles (default 90)')
  .option('--pyramid', 'rebuild the pyramid (default for JPEG/PNG and single-level slides)')
  .option('--no-pyramid', 'keep the slide\'s own levels')
  .option('--max-instance-mb <n>', 'split levels larger than this into concatenations (default: never)')
  .option('--openslide <path>', 'path of libopenslide.so.0 (default: found on the system)')
  .description('turn a slide or a large image into a valid DICOM whole-slide image, optionally stored into Orthanc')
  .action(async (input: string, opts: DicomizeCommandOptions) => exit(await runDicomize(input, opts)));

program
  .command('viewer')
  .description('serve the OHIF viewer on loopback over the configured PACS (same-origin DICOMweb proxy), behind the API token')
  .option('--port <port>', 'port on 127.0.0.1', '8091')
  .action(async (opts: { port: string }) => exit(await runViewer(opts)));

program
  .command('config')
  .argument('<action>', 'check')
  .description('check the configuration as the service would load it: every problem at once (schema, routing rules, models)')
  .action(async (action: string) => {
    if (action !== 'check') {
      console.error(`config: unknown action "${action}" (check)`);
      exit(2);
      return;
    }
    exit(await runConfigCheck());
  });

program
  .command('password-hash')
  .description('read a password from stdin and print it as config auth.users[].password stores it (scrypt with a random salt)')
  .action(async () => {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    const password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
    if (password.length < 12) {
      console.error('password-hash: give a password of at least 12 characters on stdin');
      exit(2);
      return;
    }
    console.log(hashPassword(password));
  });

program
  .command('his')
  .description('run the stand-in HIS: an HL7 v2 MLLP listener that prints, keeps and acknowledges every message (so `serve` can be tried after the demo)')
  .option('--host <host>', 'address to listen on (default: config hl7.destination.host, loopback)')
  .option('--port <port>', 'port to listen on (default: config hl7.destination.port)')
  .option('--ack <code>', 'the answer to every message: AA, AE or AR', 'AA')
  .option('--silent', 'keep messages but never answer (to see Sentinel retry)', false)
  .option('--keep <dir>', 'where each message is written as a .hl7 file (default var/his)')
  .action(async (opts: HisCommandOptions) => exit(await runHis(opts)));

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
