// A problem with what the user asked `sentinel eval` to do (unknown task, missing folder,
// wrong layout, unknown split or model): reported as one clear message, exit code 2.
import { SentinelError } from '../errors/errors';

export class EvalError extends SentinelError {
  constructor(message: string) {
    super('bad_request', message);
    this.name = 'EvalError';
  }
}
