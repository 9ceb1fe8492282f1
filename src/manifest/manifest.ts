import { isMap, type YAMLMap } from 'yaml';
import type { EnvironmentEntry, Manifest, VersionEntry } from '../content/types.js';
import type { GitRepo } from '../git/repo.js';
import { DEFAULT_LIMITS, formatBytes, resolveLimits, type ContentLimits } from '../content/limits.js';
import { InvalidContentError, type Problem } from '../errors.js';
import { parseYamlFile, problemAt, type YamlFile } from '../yaml/file.js';
import { editYamlText } from '../yaml/edit.js';
import { schemaProblems } from '../validation/schemas.js';
import { NAME_PATTERN } from '../model/names.js';

// environments.yaml, held as a YAML Document so that an edit changes only the lines it must:
// a promotion reviewed in a pull request is a one- or two-line diff, comments and key order
// survive. Reads go through `data`, a plain object rebuilt after every edit.

export const MANIFEST_FILE = 'environments.yaml';
export const DEFAULT_MAX_VERSIONS = 5;
export const PRODUCTION = 'production';

export class ManifestDoc {
  private yaml: YamlFile;
  private cached: Manifest | undefined;

  private constructor(yaml: YamlFile) {
    this.yaml = yaml;
  }

  /** Parses the text; syntax errors throw, schema and rule problems are left to `problems()`. */
  static parse(text: string, file = MANIFEST_FILE): ManifestDoc {
    const yaml = parseYamlFile(file, text);
    const errors = yaml.problems.filter((p) => p.severity === 'error');
    if (errors.length) throw new InvalidContentError(errors);
    return new ManifestDoc(yaml);
  }

  get file(): string {
    return this.yaml.file;
  }

  /** The manifest as plain data. Only trust its shape once `problems()` is empty. */
  get data(): Manifest {
    // parseYamlFile built it with aliases bounded by our own limits; the parser's own alias
    // heuristic (toJS() again) would refuse a manifest those limits accept, without a file or line.
    this.cached ??= (this.yaml.data ?? {}) as Manifest;
    return this.cached;
  }

  /** The limits versions' content must keep: the manifest's `limits:` over the defaults. */
  get limits(): ContentLimits {
    return resolveLimits(this.data.limits);
  }

  get maxVersions(): number {
    return this.data.maxVersions ?? DEFAULT_MAX_VERSIONS;
  }

  version(name: string): VersionEntry | undefined {
    return Object.hasOwn(this.data.versions ?? {}, name) ? this.data.versions[name] : undefined;
  }

  environment(name: string): EnvironmentEntry | undefined {
    return Object.hasOwn(this.data.environments ?? {}, name) ? this.data.environments[name] : undefined;
  }

  /** Environments linked to `version`. */
  environmentsOf(version: string): string[] {
    return Object.entries(this.data.environments ?? {})
      .filter(([, env]) => env.version === version)
      .map(([name]) => name);
  }

  /** The environment and channel a channel name belongs to (names are unique across the bot). */
  findChannel(name: string): { environment: string; index: number } | undefined {
    for (const [environment, env] of Object.entries(this.data.environments ?? {})) {
      const index = (env.channels ?? []).findIndex((c) => c.name === name);
      if (index !== -1) return { environment, index };
    }
    return undefined;
  }

  /** Schema problems, then the rules that need only the manifest itself. */
  problems(): Problem[] {
    const schema = this.schemaProblems();
    if (schema.length) return schema;
    return manifestRuleProblems(this);
  }

  /** Schema problems only: when there are none, `data` has the manifest's shape. */
  schemaProblems(): Problem[] {
    return schemaProblems(this.yaml, 'environments');
  }

  at(path: (string | number)[], message: string): Problem {
    return problemAt(this.yaml, path, message);
  }

  // --- edits -------------------------------------------------------------------------------

  /** Sets `path` to `value`, or removes it when value is undefined; a new key goes after `after`. */
  set(path: (string | number)[], value: unknown, after?: string): void {
    const text = this.toString();
    const edited = editYamlText(text, path, value, after);
    if (edited !== null) {
      this.yaml = parseYamlFile(this.yaml.file, edited);
    } else {
      // Shapes the in-place editor leaves alone (flow maps, emptied collections): let the
      // Document render. A collection written as `{}` becomes a block as it gets entries.
      const doc = this.yaml.doc;
      if (value === undefined) doc.deleteIn(path);
      else {
        const parent = path.length > 1 ? doc.getIn(path.slice(0, -1), true) : doc.contents;
        if (isMap(parent) && (parent as YAMLMap).flow) (parent as YAMLMap).flow = false;
        doc.setIn(path, typeof value === 'object' && value !== null ? doc.createNode(value) : value);
      }
      this.yaml = parseYamlFile(this.yaml.file, doc.toString({ lineWidth: 0 }));
    }
    this.cached = undefined;
  }

  toString(): string {
    return this.yaml.text;
  }
}

/**
 * The manifest's text at `commit`, or null when the commit has none. Its size is checked
 * before it is read (the default limits.maxFileBytes: the manifest cannot raise its own), and
 * a manifest over it throws INVALID_CONTENT at environments.yaml.
 */
export async function readManifestText(git: GitRepo, commit: string, file = MANIFEST_FILE): Promise<string | null> {
  const oid = await git.fileOid(commit, file);
  if (!oid) return null;
  const max = DEFAULT_LIMITS.maxFileBytes;
  const size = git.blobSize(oid) ?? 0;
  const bytes = size > max ? null : await git.readBlob(oid);
  if (!bytes || bytes.length > max) {
    const message = `${formatBytes(bytes?.length ?? size)}, more than the ${formatBytes(max)} a manifest may hold`;
    throw new InvalidContentError([{ file, line: 1, column: 1, message, severity: 'error' }]);
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Rules of the versioning model (docs/concepts.md) the manifest alone can answer. Repository rules are in rules.ts. */
export function manifestRuleProblems(manifest: ManifestDoc): Problem[] {
  const problems: Problem[] = [];
  const { versions, environments } = manifest.data;
  const versionNames = Object.keys(versions);
  if (versionNames.length > manifest.maxVersions) {
    problems.push(
      manifest.at(
        ['versions'],
        `${versionNames.length} versions declared, more than maxVersions (${manifest.maxVersions}); delete one or raise maxVersions`,
      ),
    );
  }
  if (!Object.hasOwn(environments, PRODUCTION)) {
    problems.push(manifest.at(['environments'], `environment "${PRODUCTION}" is missing; it cannot be deleted`));
  }
  for (const [name, env] of Object.entries(environments)) {
    if (!Object.hasOwn(versions, env.version)) {
      problems.push(
        manifest.at(
          ['environments', name, 'version'],
          `environment "${name}" is linked to version "${env.version}", which is not declared under versions`,
        ),
      );
    }
  }
  for (const [name, version] of Object.entries(versions)) {
    if (version.createdFrom !== undefined && !NAME_PATTERN.test(version.createdFrom)) {
      problems.push(
        manifest.at(['versions', name, 'createdFrom'], `createdFrom "${version.createdFrom}" is not a version name`),
      );
    }
  }
  // Tokens index requests: two entries with one hash would make a token ambiguous.
  const tokenOwners = new Map<string, string>();
  const claim = (hash: string, owner: string, path: (string | number)[]) => {
    const other = tokenOwners.get(hash);
    if (other) problems.push(manifest.at(path, `${owner} has the same token as ${other}; rotate one of them`));
    else tokenOwners.set(hash, owner);
  };
  for (const [name, v] of Object.entries(versions))
    claim(v.tokenSha256, `version "${name}"`, ['versions', name, 'tokenSha256']);
  for (const [name, e] of Object.entries(environments))
    claim(e.tokenSha256, `environment "${name}"`, ['environments', name, 'tokenSha256']);
  const channelNames = new Map<string, string>();
  for (const [name, e] of Object.entries(environments)) {
    (e.channels ?? []).forEach((channel, i) => {
      const other = channelNames.get(channel.name);
      if (other)
        problems.push(
          manifest.at(
            ['environments', name, 'channels', i, 'name'],
            `channel "${channel.name}" is also connected to environment "${other}"; channel names are unique`,
          ),
        );
      else channelNames.set(channel.name, name);
    });
  }
  return problems;
}
