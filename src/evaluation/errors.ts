// A problem with what the user asked `sentinel eval` to do (unknown task, missing folder,
// wrong layout, unknown split or model): reported as one clear message, exit code 2.
export class EvalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EvalError';
  }
}
