// Lets a child process run Sentinel's TypeScript sources as they are (node -r this-file
// src/cli/main.ts ...), so fault tests can SIGKILL a real `sentinel serve --worker` without a
// build step. Each file is transpiled alone, as the project's isolatedModules setting allows.
const fs = require('node:fs');
const ts = require('typescript');

const compilerOptions = {
  module: ts.ModuleKind.CommonJS,
  target: ts.ScriptTarget.ES2022,
  esModuleInterop: true,
  experimentalDecorators: true,
  emitDecoratorMetadata: true,
  inlineSourceMap: true,
};

require.extensions['.ts'] = (module, filename) => {
  const source = fs.readFileSync(filename, 'utf8');
  const { outputText } = ts.transpileModule(source, { compilerOptions, fileName: filename });
  module._compile(outputText, filename);
};
