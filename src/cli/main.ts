#!/usr/bin/env node
// The `sentinel` command: serve, worker, demo, analyze, stack, eval, dicomize.
import 'reflect-metadata';
import { Command } from 'commander';
import { runServe, runWorker } from './serve-command';
import { runStackCommand } from './stack-command';

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
  .action(() => runWorker());

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
