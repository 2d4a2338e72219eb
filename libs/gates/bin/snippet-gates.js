#!/usr/bin/env node
// Snippets and their config are TypeScript; tsx loads them, and this CLI, as they are.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli.ts');
process.exitCode = await main(process.argv);
