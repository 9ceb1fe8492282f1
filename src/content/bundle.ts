import type { GitRepo } from '../git/repo.js';
import type { Entity, Intent, Skill, TestFile } from './types.js';
import type { Problem } from '../errors.js';
import { parseYamlFile, type YamlFile } from '../yaml/file.js';
import { schemaProblems, type SchemaKind } from '../validation/schemas.js';
import { contentRuleProblems } from './rules.js';

// A version's content (docs/formats.md) read from one commit: every file parsed with its
// positions, validated against its schema, then checked as a whole (cross-file rules).

export const CONTENT_FOLDERS: readonly { dir: string; kind: SchemaKind }[] = [
  { dir: 'training/intents', kind: 'intent' },
  { dir: 'training/entities', kind: 'entity' },
  { dir: 'skills', kind: 'skill' },
  { dir: 'tests', kind: 'test' },
];

export interface ContentFile<T> {
  path: string;
  oid: string;
  yaml: YamlFile;
  /** The parsed value; only trust it when the file has no errors. */
  data: T;
  /** False when the file has a syntax or schema error. */
  valid: boolean;
}

export interface Bundle {
  commit: string;
  intents: ContentFile<Intent>[];
  entities: ContentFile<Entity>[];
  skills: ContentFile<Skill>[];
  tests: ContentFile<TestFile>[];
}

export interface LoadedBundle {
  bundle: Bundle;
  problems: Problem[];
}

const isYaml = (path: string) => /\.ya?ml$/.test(path);

export async function loadBundle(git: GitRepo, commit: string): Promise<LoadedBundle> {
  const problems: Problem[] = [];
  const bundle: Bundle = { commit, intents: [], entities: [], skills: [], tests: [] };
  const lists: Record<SchemaKind, ContentFile<unknown>[]> = {
    intent: bundle.intents,
    entity: bundle.entities,
    skill: bundle.skills,
    test: bundle.tests,
    environments: [],
  };
  for (const { dir, kind } of CONTENT_FOLDERS) {
    for (const entry of await git.listFiles(commit, dir)) {
      if (!isYaml(entry.path) || entry.path.slice(dir.length + 1).includes('/')) {
        problems.push({
          file: entry.path,
          line: 1,
          column: 1,
          message: `ignored: ${dir}/ holds only <slug>.yaml files`,
          severity: 'warning',
        });
        continue;
      }
      const text = Buffer.from(await git.readBlob(entry.oid)).toString('utf8');
      const yaml = parseYamlFile(entry.path, text);
      const fileProblems = [...yaml.problems];
      if (!fileProblems.some((p) => p.severity === 'error')) fileProblems.push(...schemaProblems(yaml, kind));
      problems.push(...fileProblems);
      lists[kind].push({
        path: entry.path,
        oid: entry.oid,
        yaml,
        data: yaml.data,
        valid: !fileProblems.some((p) => p.severity === 'error'),
      });
    }
  }
  problems.push(...contentRuleProblems(bundle));
  return { bundle, problems };
}
