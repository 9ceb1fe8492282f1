import { diffArrays, structuredPatch } from 'diff';
import { stringify } from 'yaml';
import { loadBundle, type Bundle, type ContentFile } from '../content/bundle.js';
import type { BotRepo } from './bot-repo.js';
import { resolveRevision } from '../git/revision.js';

// A semantic diff of two versions' content: what a reviewer wants to know before promoting
// ("which intents gained or lost expressions, which skills changed"), not a file diff.

export interface Side {
  name: string;
  commit: string;
  /** How the name was read: environment, version, or any git ref / commit. */
  kind: 'environment' | 'version' | 'ref';
}

export interface ExpressionChange {
  slug: string;
  added: string[];
  removed: string[];
  /** Other keys (description, language) that changed, as unified diff lines. */
  other: string[];
}

export interface ItemChange {
  slug: string;
  /** Unified diff lines of the item's YAML (normalised), without file headers. */
  lines: string[];
}

export interface Section<C> {
  added: string[];
  removed: string[];
  changed: C[];
}

export interface ContentDiff {
  a: Side;
  b: Side;
  intents: Section<ExpressionChange>;
  entities: Section<ItemChange>;
  skills: Section<ItemChange>;
  tests: Section<ItemChange>;
}

async function resolveSide(repo: BotRepo, name: string): Promise<Side> {
  const { manifest } = await repo.readManifest().catch(() => ({ manifest: null }));
  const byName = async (n: string) => {
    if (manifest?.environment(n)) return repo.servedCommit(manifest, n);
    if (manifest?.version(n)) return repo.versionHead(n);
    return repo.git.resolveName(n);
  };
  const kind = manifest?.environment(name) ? 'environment' : manifest?.version(name) ? 'version' : 'ref';
  // `v2~1`, `production^`: the name as above, then git's parent walk.
  return {
    name,
    kind,
    commit: await resolveRevision(name, byName, async (c) => (await repo.git.readCommit(c)).parents),
  };
}

function bySlug<T>(files: ContentFile<T>[]): Map<string, T> {
  const map = new Map<string, T>();
  for (const f of files) {
    const slug = (f.data as { slug?: unknown } | undefined)?.slug;
    map.set(typeof slug === 'string' ? slug : f.path.replace(/^.*\/|\.ya?ml$/g, ''), f.data);
  }
  return map;
}

function yamlLines(a: unknown, b: unknown): string[] {
  const patch = structuredPatch(
    'a',
    'b',
    stringify(a ?? null, { lineWidth: 0 }),
    stringify(b ?? null, { lineWidth: 0 }),
    '',
    '',
    { context: 1 },
  );
  return patch.hunks.flatMap((h) => [`@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@`, ...h.lines]);
}

function compare<T, C>(
  a: Map<string, T>,
  b: Map<string, T>,
  change: (slug: string, x: T, y: T) => C | null,
): Section<C> {
  const section: Section<C> = { added: [], removed: [], changed: [] };
  for (const slug of [...a.keys()].sort()) if (!b.has(slug)) section.removed.push(slug);
  for (const slug of [...b.keys()].sort()) {
    if (!a.has(slug)) section.added.push(slug);
    else {
      const c = change(slug, a.get(slug)!, b.get(slug)!);
      if (c) section.changed.push(c);
    }
  }
  return section;
}

const itemChange = (slug: string, x: unknown, y: unknown): ItemChange | null => {
  const lines = yamlLines(x, y);
  return lines.length ? { slug, lines } : null;
};

export function diffBundles(a: Side, b: Side, left: Bundle, right: Bundle): ContentDiff {
  return {
    a,
    b,
    intents: compare(bySlug(left.intents), bySlug(right.intents), (slug, x, y) => {
      const xs = Array.isArray(x?.expressions) ? x.expressions.map(String) : [];
      const ys = Array.isArray(y?.expressions) ? y.expressions.map(String) : [];
      const added: string[] = [];
      const removed: string[] = [];
      for (const part of diffArrays(xs, ys)) {
        if (part.added) added.push(...part.value);
        else if (part.removed) removed.push(...part.value);
      }
      const other = yamlLines({ ...x, expressions: undefined }, { ...y, expressions: undefined });
      return added.length || removed.length || other.length ? { slug, added, removed, other } : null;
    }),
    entities: compare(bySlug(left.entities), bySlug(right.entities), itemChange),
    skills: compare(bySlug(left.skills), bySlug(right.skills), itemChange),
    tests: compare(bySlug(left.tests), bySlug(right.tests), itemChange),
  };
}

/** `botver diff A B`: A and B are versions, environments, or any branch, tag or commit. */
export async function diffContent(repo: BotRepo, aName: string, bName: string): Promise<ContentDiff> {
  const [a, b] = [await resolveSide(repo, aName), await resolveSide(repo, bName)];
  // The resolver's limits (the defaults where there is no manifest, as for any commit).
  const limits = await repo.readManifest().then(
    ({ manifest }) => manifest.limits,
    () => undefined,
  );
  const [left, right] = [await loadBundle(repo.git, a.commit, limits), await loadBundle(repo.git, b.commit, limits)];
  return diffBundles(a, b, left.bundle, right.bundle);
}

export function isEmptyDiff(d: ContentDiff): boolean {
  return [d.intents, d.entities, d.skills, d.tests].every(
    (s) => !s.added.length && !s.removed.length && !s.changed.length,
  );
}
