#!/usr/bin/env node
import { run } from './program.js';

// The only place that ends the process. Waiting for stdout to drain keeps large JSON output
// from being cut off when stdout is a pipe.
const code = await run(process.argv.slice(2));
process.exitCode = code;
