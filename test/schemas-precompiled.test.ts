import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import type * as Schemas from '../src/validation/schemas.js';
import type * as YamlFiles from '../src/yaml/file.js';
import { ROOT } from './helpers.js';

// The build compiles schemas/*.schema.json into plain functions (dist/validation/precompiled.cjs);
// the library compiles them with ajv at run time when that file is missing, or when the caller
// asks with useRuntimeSchemas(). Both must report the same problems. Runs against dist/ (npm run build).

const dist = (path: string) => pathToFileURL(join(ROOT, 'dist', path)).href;

/** Documents of each kind with something wrong, and one that is right. */
const documents: [Schemas.SchemaKind, string][] = [
  ['intent', 'intent: greet\nexpressions: [hello]\n'],
  ['intent', 'intent: greet\nexpressions: hello\ncolour: blue\n'],
  ['entity', 'entity: size\nvalues: [small]\nregex: "x"\n'],
  ['entity', 'entity: size\n'],
  ['skill', 'skill: hi\ntrigger: {intent: greet, entity: size}\nsteps: []\n'],
  ['test', 'tests: [{name: 1}]\n'],
  ['environments', 'apiVersion: botver/v2\nbot: b\n'],
];

describe('precompiled and run-time schema validators', () => {
  it('report the same problems for the same documents', async () => {
    expect(existsSync(join(ROOT, 'dist', 'validation', 'precompiled.cjs')), 'run npm run build first').toBe(true);
    const schemas = (await import(dist('validation/schemas.js'))) as typeof Schemas;
    const { parseYamlFile } = (await import(dist('yaml/file.js'))) as typeof YamlFiles;
    const check = () =>
      documents.map(([kind, text]) => schemas.schemaProblems(parseYamlFile(`x.${kind}.yaml`, text), kind));

    const precompiled = check();
    schemas.useRuntimeSchemas(true);
    try {
      expect(check()).toEqual(precompiled);
    } finally {
      schemas.useRuntimeSchemas(false);
    }
    // Not vacuous: every document but the first has problems.
    expect(precompiled.slice(1).every((problems) => problems.length > 0)).toBe(true);
  });
});
