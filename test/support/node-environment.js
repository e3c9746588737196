// jest's node environment gives tests their own typed-array constructors, but native
// addons (onnxruntime-node, sharp) create arrays with Node's own, and onnxruntime checks
// `instanceof`. Sharing Node's constructors makes the test realm behave like production.
const { TestEnvironment } = require('jest-environment-node');

const SHARED = ['ArrayBuffer', 'SharedArrayBuffer', 'DataView', 'Uint8Array', 'Uint8ClampedArray', 'Int8Array', 'Uint16Array',
  'Int16Array', 'Uint32Array', 'Int32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array'];

class SentinelNodeEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}

module.exports = SentinelNodeEnvironment;
