import type { GitRepo } from '../git/repo.js';
import type { Entity, Intent, Skill, TestFile } from './types.js';
import type { Problem } from '../errors.js';
import { parseYamlFile, problemAt, type YamlFile, type YamlLimits } from '../yaml/file.js';
import { schemaProblems, type SchemaKind } from '../validation/schemas.js';
import { contentRuleProblems } from './rules.js';
import { DEFAULT_LIMITS, formatBytes, raiseHint, type ContentLimits } from './limits.js';
import { contentEntries } from './tree.js';
import type { ParsedFileCache } from './parsed-cache.js';

// A version's content (docs/formats.md) read from one commit: every file parsed with its
// positions, validated against its schema, then checked as a whole (cross-file rules), all
// within the limits of src/content/limits.ts.

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
  /**
   * True when an object could not be read (missing mid-push, an I/O error): unlike a problem of
   * the content itself, that may pass, so the result is not one to keep.
   */
  unreadable: boolean;
}

/** The YAML limits of one file under the version's limits. */
export function yamlLimitsOf(limits: ContentLimits): YamlLimits {
  return { maxAliases: limits.maxAliases, maxDepth: limits.maxDepth, maxExpandedChars: limits.maxFileBytes };
}

const problemAtFile = (file: string, message: string): Problem => ({
  file,
  line: 1,
  column: 1,
  message,
  severity: 'error',
});

/** One content file: its size checked from the object store before it is read, then parsed and checked against its schema. */
export async function loadContentFile(
  git: GitRepo,
  path: string,
  oid: string,
  kind: SchemaKind,
  limits: ContentLimits,
  size: number | null = git.blobSize(oid),
): Promise<{ file: ContentFile<unknown>; problems: Problem[] }> {
  const refuse = (message: string) => ({
    file: { path, oid, yaml: parseYamlFile(path, ''), data: undefined, valid: false },
    problems: [problemAtFile(path, message)],
  });
  const tooBig = (n: number) =>
    refuse(
      `${formatBytes(n)}, more than the ${formatBytes(limits.maxFileBytes)} a file may hold; ${raiseHint('maxFileBytes')}`,
    );
  if (size !== null && size > limits.maxFileBytes) return tooBig(size);
  const bytes = await git.readBlob(oid);
  if (bytes.length > limits.maxFileBytes) return tooBig(bytes.length);
  const yaml = parseYamlFile(path, Buffer.from(bytes).toString('utf8'), yamlLimitsOf(limits));
  const problems = [...yaml.problems];
  if (!problems.some((p) => p.severity === 'error')) problems.push(...schemaProblems(yaml, kind));
  const valid = !problems.some((p) => p.severity === 'error');
  return { file: { path, oid, yaml, data: yaml.data, valid }, problems };
}

/**
 * A version's content at `commit`, checked against `limits` (the manifest's, or the defaults).
 * Never throws: whatever goes wrong reading this commit — an unsafe tree, a file over a limit,
 * YAML the parser refuses, a missing or corrupt object — is a problem of this version, at the
 * file being read, so that it fails this version alone and is reported where it is.
 */
export async function loadBundle(
  git: GitRepo,
  commit: string,
  limits: ContentLimits = DEFAULT_LIMITS,
  options: {
    /** Files already parsed, by blob (the resolver's content worker keeps one). */ parsed?: ParsedFileCache;
  } = {},
): Promise<LoadedBundle> {
  const problems: Problem[] = [];
  let unreadable = false;
  const bundle: Bundle = { commit, intents: [], entities: [], skills: [], tests: [] };
  const lists: Record<SchemaKind, ContentFile<unknown>[]> = {
    intent: bundle.intents,
    entity: bundle.entities,
    skill: bundle.skills,
    test: bundle.tests,
    environments: [],
  };
  let reading = '.';
  try {
    const listed = await contentEntries(
      git,
      commit,
      CONTENT_FOLDERS.map((f) => f.dir),
      limits,
    );
    const { entries } = listed;
    problems.push(...listed.problems);
    let total = 0;
    let complete = listed.complete;
    files: for (const { dir, kind } of CONTENT_FOLDERS) {
      for (const entry of entries.get(dir) ?? []) {
        if (!entry.readable) {
          problems.push({
            file: entry.path,
            line: 1,
            column: 1,
            message: `ignored: ${dir}/ holds only <slug>.yaml files`,
            severity: 'warning',
          });
          continue;
        }
        reading = entry.path;
        const size = git.blobSize(entry.oid);
        if (size !== null && size <= limits.maxFileBytes && (total += size) > limits.maxVersionBytes) {
          problems.push(
            problemAtFile(
              entry.path,
              `the version's files pass ${formatBytes(limits.maxVersionBytes)} together at this file; ${raiseHint('maxVersionBytes')}`,
            ),
          );
          complete = false;
          break files;
        }
        const parse = () => loadContentFile(git, entry.path, entry.oid, kind, limits, size);
        const loaded = options.parsed
          ? await options.parsed.get(kind, entry.path, entry.oid, limits, parse)
          : await parse();
        problems.push(...loaded.problems);
        lists[kind].push(loaded.file);
      }
    }
    reading = '.';
    const tooMany = expressionProblem(bundle.intents as ContentFile<Intent>[], limits);
    if (tooMany) problems.push(tooMany);
    // Files left unread would make every reference to them look broken: rules wait for a whole version.
    if (complete) problems.push(...contentRuleProblems(bundle));
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    problems.push(problemAtFile(reading, `cannot be read at commit ${commit.slice(0, 12)}: ${message}`));
    unreadable = true;
  }
  return { bundle, problems, unreadable };
}

/** More expressions than limits.maxExpressions, reported at the intent whose expressions pass it. */
function expressionProblem(intents: ContentFile<Intent>[], limits: ContentLimits): Problem | null {
  let total = 0;
  for (const file of intents) {
    if (!file.valid) continue;
    total += file.data.expressions.length;
    if (total > limits.maxExpressions) {
      const all = intents.reduce((n, f) => n + (f.valid ? f.data.expressions.length : 0), 0);
      return problemAt(
        file.yaml,
        ['expressions'],
        `${all} expressions in this version, more than limits.maxExpressions (${limits.maxExpressions}), which bounds training time and memory; ${raiseHint('maxExpressions')}`,
      );
    }
  }
  return null;
}
