#!/usr/bin/env node
// Runs the bundled runtime (dist-runtime/kservice-runtime.js, from `npm run build:runtime` and
// shipped in the package: a dispatcher that loads only dist-runtime/<role>.js). In a clone without
// a bundle, the TypeScript sources run through tsx (a devDependency) instead.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const bundle = path.join(__dirname, '..', 'dist-runtime', 'kservice-runtime.js');
const source = path.join(__dirname, '..', 'lib', 'runtime', 'main.ts');
let runtime;
if (fs.existsSync(bundle)) {
  runtime = require(bundle);
} else if (fs.existsSync(source)) {
  require('tsx/cjs');
  runtime = require(source);
} else {
  process.stderr.write('kservice-runtime: dist-runtime/ is missing; in a clone, run `npm run build:runtime`\n');
  process.exit(1);
}
runtime.main(process.argv.slice(2), process.env).then((code) => process.exit(code));
