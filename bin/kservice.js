#!/usr/bin/env node
'use strict';
// The `kservice` command. An installed package runs its compiled dist-lib/ (built by `prepare`,
// shipped in the tarball). In a clone (lib/ present, devDependencies installed) the TypeScript
// sources are loaded through tsx's CommonJS require hook instead, so development and the CLI tests
// never run a stale build.
const path = require('node:path');
const fs = require('node:fs');

const source = path.join(__dirname, '..', 'lib', 'cli', 'main.ts');
const compiled = path.join(__dirname, '..', 'dist-lib', 'cli', 'main.js');

function tsxAvailable() {
  try {
    require.resolve('tsx/cjs');
    return true;
  } catch {
    return false;
  }
}

let cli;
if (fs.existsSync(source) && tsxAvailable()) {
  require('tsx/cjs');
  cli = require(source);
} else if (fs.existsSync(compiled)) {
  cli = require(compiled);
} else {
  process.stderr.write('kservice: dist-lib/ is missing; in a clone, run `npm ci` (or `npm run build`)\n');
  process.exit(1);
}
cli.main();
