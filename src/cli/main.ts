#!/usr/bin/env node
import { run } from './program.js';

// The only place that ends the process. Setting exitCode rather than calling exit() lets stdout
// drain, so large JSON output is not cut off when stdout is a pipe.

// A reader that stops early (`botver --help | head -3`) closes the pipe: stop quietly, as git
// does, instead of dying on an unhandled EPIPE with a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.exit(process.exitCode ?? 0);
});

const code = await run(process.argv.slice(2));
process.exitCode = code;
