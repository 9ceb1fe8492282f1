import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { describePath, problemAt, type YamlFile, type YamlPath } from '../yaml/file.js';
import type { Problem } from '../errors.js';

// schemas/*.schema.json are the single source of truth for file formats; they are compiled
// lazily, once per process, because compiling costs more than most commands' real work.

export type SchemaKind = 'environments' | 'intent' | 'entity' | 'skill' | 'test';

const schemaDir = fileURLToPath(new URL('../../schemas/', import.meta.url));
const compiled = new Map<SchemaKind, ValidateFunction>();
let ajv: Ajv2020 | undefined;

function validator(kind: SchemaKind): ValidateFunction {
  let fn = compiled.get(kind);
  if (!fn) {
    ajv ??= new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
    const schema = JSON.parse(readFileSync(`${schemaDir}${kind}.schema.json`, 'utf8'));
    fn = ajv.compile(schema);
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
