import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { ErrorObject } from 'ajv';
import { describePath, problemAt, type YamlFile, type YamlPath } from '../yaml/file.js';
import type { Problem } from '../errors.js';

// schemas/*.schema.json are the single source of truth for file formats. The build compiles
// them into plain functions (dist/validation/precompiled.cjs, scripts/build-validators.js),
// because loading ajv and compiling costs more than most commands' real work. Without that
// file (tests run from src/) they are compiled here, lazily, once per process.

export type SchemaKind = 'environments' | 'intent' | 'entity' | 'skill' | 'test';

interface ValidateFunction {
  (data: unknown): boolean;
  errors?: ErrorObject[] | null;
}

const require = createRequire(import.meta.url);
const schemaDir = fileURLToPath(new URL('../../schemas/', import.meta.url));
const compiled = new Map<SchemaKind, ValidateFunction>();
let precompiled: Partial<Record<SchemaKind, ValidateFunction>> | null | undefined;

/** Options shared with scripts/build-validators.js; `verbose` puts the schema in errors (kindKeys). */
export const AJV_OPTIONS = { allErrors: true, strict: true, allowUnionTypes: true, verbose: true } as const;

function loadPrecompiled(): Partial<Record<SchemaKind, ValidateFunction>> | null {
  if (process.env.BOTVER_RUNTIME_SCHEMAS) return null;
  try {
    // By URL, not './precompiled.cjs': the bundled CLI (dist/bin/) runs this code from elsewhere.
    return require(fileURLToPath(new URL('../validation/precompiled.cjs', import.meta.url)));
  } catch {
    return null;
  }
}

function compileAtRuntime(kind: SchemaKind): ValidateFunction {
  const { Ajv2020 } = require('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
  return new Ajv2020(AJV_OPTIONS).compile(JSON.parse(readFileSync(`${schemaDir}${kind}.schema.json`, 'utf8')));
}

function validator(kind: SchemaKind): ValidateFunction {
  let fn = compiled.get(kind);
  if (!fn) {
    precompiled ??= loadPrecompiled();
    fn = precompiled?.[kind] ?? compileAtRuntime(kind);
    compiled.set(kind, fn);
  }
  return fn;
}

function pointerToPath(pointer: string): (string | number)[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function explain(error: ErrorObject): { path: YamlPath; message: string } {
  const path = pointerToPath(error.instancePath);
  const where = path.length ? `${describePath(path)}: ` : '';
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = (error.params as { additionalProperty: string }).additionalProperty;
      return { path: [...path, key], message: `${where}unknown key "${key}"` };
    }
    case 'required':
      return { path, message: `${where}missing required key "${(error.params as { missingProperty: string }).missingProperty}"` };
    case 'propertyNames':
      return { path, message: `${where}invalid name "${(error.params as { propertyName: string }).propertyName}"` };
    case 'enum':
      return { path, message: `${where}must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}` };
    default:
      return { path, message: `${where}${error.message ?? 'is invalid'}` };
  }
}

/** Schema problems of a parsed file, each at the line of the key at fault. */
export function schemaProblems(yaml: YamlFile, kind: SchemaKind): Problem[] {
  const validate = validator(kind);
  if (validate(yaml.data)) return [];
  const errors = validate.errors ?? [];
  // propertyNames reports the bad name twice (the name, then the map); keep what reads best.
  const seen = new Set<string>();
  const problems: Problem[] = [];
  for (const error of errors) {
    if (error.keyword === 'if') continue;
    const { path, message } = explain(error);
    if (seen.has(message)) continue;
    seen.add(message);
    problems.push(problemAt(yaml, path, message));
  }
  return problems;
}
