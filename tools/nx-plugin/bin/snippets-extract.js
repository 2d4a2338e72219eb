#!/usr/bin/env node
// Published, the built JavaScript sits beside this file; in the workspace, tsx loads the source.
try {
  require.resolve('../src/extract.js');
} catch {
  require('tsx/cjs');
}
const { workspaceRoot } = require('@nx/devkit');
const { main } = require('../src/extract');

main(process.argv.slice(2), workspaceRoot).then(
  (code) => (process.exitCode = code),
  (error) => {
    console.error(error);
    process.exitCode = 1;
  },
);
