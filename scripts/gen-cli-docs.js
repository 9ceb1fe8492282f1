// Writes docs/cli.md, the command-line reference, from the commander definitions of the built
// CLI (`npm run build` first; `npm run docs:cli` does both). test/cli-docs.test.ts fails when the
// committed file differs from what this would write.
import { writeFileSync } from 'node:fs';
import { buildProgram } from '../dist/cli/program.js';
import { renderCliReference } from '../dist/cli/reference.js';

const target = new URL('../docs/cli.md', import.meta.url);
writeFileSync(target, renderCliReference(buildProgram()));
console.log(`wrote ${target.pathname}`);
