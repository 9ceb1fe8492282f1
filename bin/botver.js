#!/usr/bin/env node
// The CLI, bundled into one file by `npm run build` (scripts/bundle-cli.js) for start-up speed.
import '../dist/bin/botver.mjs';
