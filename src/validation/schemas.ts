import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { ErrorObject } from 'ajv';
import { describePath, positionOf, problemAt, type YamlFile, type YamlPath } from '../yaml/file.js';
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

let runtimeOnly = false;

/**
 * Compile the schemas with ajv at run time even where the build's precompiled validators exist
 * (to check one against the other, or while editing a schema without rebuilding). An explicit
 * switch for the caller that wants it; it used to be the BOTVER_RUNTIME_SCHEMAS variable.
 */
export function useRuntimeSchemas(on = true): void {
  if (on === runtimeOnly) return;
  runtimeOnly = on;
  compiled.clear();
  precompiled = undefined;
}

function loadPrecompiled(): Partial<Record<SchemaKind, ValidateFunction>> | null {
  if (runtimeOnly) return null;
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

/**
 * The keys of a "kind picker": a oneOf whose every branch only requires one key (an entity's
 * values / regex, a trigger's intent / entity / memory). Null for any other error. Needs the
 * `verbose` option, which puts the failing schema (here the oneOf list) in the error.
 */
function kindKeys(error: ErrorObject): string[] | null {
  if (error.keyword !== 'oneOf' || !Array.isArray(error.schema)) return null;
  const keys = (error.schema as unknown[]).map((branch) => {
    const required = (branch as { required?: unknown } | null)?.required;
    return Array.isArray(required) && required.length === 1 && typeof required[0] === 'string' ? required[0] : null;
  });
  return keys.every((k): k is string => k !== null) ? keys : null;
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
      return {
        path,
        message: `${where}missing required key "${(error.params as { missingProperty: string }).missingProperty}"`,
      };
    case 'propertyNames':
      return { path, message: `${where}invalid name "${(error.params as { propertyName: string }).propertyName}"` };
    case 'enum':
      return {
        path,
        message: `${where}must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`,
      };
    default:
      return { path, message: `${where}${error.message ?? 'is invalid'}` };
  }
}

/** Schema problems of a parsed file, each at the line of the key at fault. */
export function schemaProblems(yaml: YamlFile, kind: SchemaKind): Problem[] {
  const validate = validator(kind);
  if (validate(yaml.data)) return [];
  const errors = validate.errors ?? [];
  // A failed kind picker (oneOf over "required: [key]" branches) reads as "both" or "neither"
  // in words, at the key at fault; the branches' own "missing required key" errors go.
  // schemaPath is relative to the $ref'd definition, so it is only unique with instancePath.
  const at = (error: ErrorObject) => `${error.instancePath}#${error.schemaPath}`;
  const pickers = new Set(errors.filter((e) => kindKeys(e)).map(at));
  const fromPicker = (error: ErrorObject) => [...pickers].some((p) => at(error).startsWith(`${p}/`));
  // propertyNames reports the bad name twice (the name, then the map); keep what reads best.
  const seen = new Set<string>();
  const problems: Problem[] = [];
  for (const error of errors) {
    if (error.keyword === 'if' || (error.keyword === 'required' && fromPicker(error))) continue;
    const keys = kindKeys(error);
    const { path, message } = keys ? explainKind(yaml, error, keys) : explain(error);
    if (seen.has(message)) continue;
    seen.add(message);
    problems.push(problemAt(yaml, path, message));
  }
  return problems;
}

function explainKind(yaml: YamlFile, error: ErrorObject, keys: string[]): { path: YamlPath; message: string } {
  const path = pointerToPath(error.instancePath);
  const where = path.length ? `${describePath(path)}: ` : '';
  const quoted = (list: string[]) => list.map((k) => `"${k}"`).join(', ');
  const passing = (error.params as { passingSchemas?: number[] | null }).passingSchemas;
  if (!Array.isArray(passing) || passing.length < 2) return { path, message: `${where}needs one of ${quoted(keys)}` };
  const present = passing.map((i) => keys[i]).filter((k): k is string => k !== undefined);
  // Point at whichever clashing key comes last in the file: the one most likely added by mistake.
  const last = present.reduce((a, b) => {
    const [pa, pb] = [positionOf(yaml, [...path, a]), positionOf(yaml, [...path, b])];
    return pb.line > pa.line || (pb.line === pa.line && pb.column > pa.column) ? b : a;
  });
  const [init, tail] = [present.slice(0, -1), present.at(-1)!];
  return {
    path: [...path, last],
    message: `${where}has both ${quoted(init)} and "${tail}"; use exactly one of ${quoted(keys)}`,
  };
}
