#!/usr/bin/env node
require('./load-cli')(require('node:path').join(__dirname, '../src/extract'));
