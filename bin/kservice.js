#!/usr/bin/env node
'use strict';
// The `kservice` command. In a clone (lib/ present) the TypeScript sources are loaded through
// tsx's CommonJS require hook, so it runs after `npm ci` with no build step and never from a stale
// build. A published package without lib/ uses its compiled dist-lib/ instead.
const path = require('node:path');
const fs = require('node:fs');

const source = path.join(__dirname, '..', 'lib', 'cli', 'main.ts');
let cli;
if (fs.existsSync(source)) {
  require('tsx/cjs');
  cli = require(source);
} else {
  cli = require(path.join(__dirname, '..', 'dist-lib', 'cli', 'main.js'));
}
cli.main();
