// `sentinel his`: the stand-in hospital information system, on its own, so `sentinel serve`
// can be tried after the demo: an MLLP listener on the configured HL7 destination (or
// --port), answering each message AA (or AE / AR on demand, or not at all), printing each
// message as it arrives and keeping it as a file (var/his by default).
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig, projectRoot } from '../config/load';
import { startHisListener } from '../delivery/mllp';
import { stopOnSignals } from '../service/server';

export interface HisCommandOptions {
  host?: string;
  port?: string;
  ack: string;
  silent: boolean;
  keep?: string;
}

/** MSH-9 and MSH-10 of a message, for the line printed above it and its file name. */
export function messageHeader(text: string): { type: string; controlId: string } {
  const msh = text.split(/\r\n?|\n/)[0] ?? '';
  const fields = msh.split('|');
  // MSH-1 is the field separator itself, so MSH-n is fields[n - 1].
  return { type: fields[8] || '?', controlId: fields[9] || 'no-control-id' };
}

export async function runHis(opts: HisCommandOptions): Promise<number> {
  const config = loadConfig();
  const host = opts.host ?? config.hl7.destination.host;
  const port = opts.port === undefined ? config.hl7.destination.port : Number(opts.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`his: --port ${opts.port} is not a port number`);
    return 2;
  }
  const ack = opts.ack.toUpperCase();
  if (ack !== 'AA' && ack !== 'AE' && ack !== 'AR') {
    console.error(`his: --ack ${opts.ack} is not one of AA, AE, AR`);
    return 2;
  }
  const keep = path.resolve(opts.keep ?? path.join(projectRoot, 'var', 'his'));
  fs.mkdirSync(keep, { recursive: true });
  let n = 0;
  const onMessage = (text: string): void => {
    const { type, controlId } = messageHeader(text);
    const file = path.join(keep, `${new Date().toISOString().replace(/[:.]/g, '-')}-${String(++n).padStart(4, '0')}-${controlId.replace(/[^A-Za-z0-9_.-]/g, '_')}.hl7`);
    fs.writeFileSync(file, text.endsWith('\r') ? text : `${text}\r`);
    console.log(`his: ${type} ${controlId} received, ${opts.silent ? 'not answered' : `answered ${ack}`}, kept as ${file}`);
    console.log(text.split(/\r\n?|\n/).filter(Boolean).map((s) => `  ${s}`).join('\n'));
  };
  let his;
  try {
    his = await startHisListener({ host, port, ackCode: ack, silent: opts.silent, onMessage });
  } catch (err) {
    console.error(`his: cannot listen on ${host}:${port} (${(err as Error).message}); is a HIS or the demo already using it? Choose another with --port`);
    return 1;
  }
  console.log(`his: stand-in HIS (HL7 v2 over MLLP) listening on ${host}:${his.port}, answering ${opts.silent ? 'nothing' : ack}; messages kept in ${keep}`);
  stopOnSignals(() => his.close());
  return 0;
}
