#!/usr/bin/env node
// Runs the bundled runtime (dist-runtime/kservice-runtime.js, from `npm run build:runtime`: a
// dispatcher that loads only dist-runtime/<role>.js) when it exists, otherwise the TypeScript
// sources through tsx (development, tests without a bundle).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const bundle = path.join(__dirname, '..', 'dist-runtime', 'kservice-runtime.js');
let runtime;
if (fs.existsSync(bundle)) {
  runtime = require(bundle);
} else {
  require('tsx/cjs');
  runtime = require('../lib/runtime/main.ts');
}
runtime.main(process.argv.slice(2), process.env).then((code) => process.exit(code));
