import fc from 'fast-check';
import { describe as suite, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { botver, manifestAt } from './helpers.js';
import { ADMIN_TOKEN, eventually, serve, sharedExampleWithTokens } from './resolver-helpers.js';
import {
  abridge,
  authHeader,
  byteMutation,
  expectAliveAndBounded,
  expectAnswer,
  expectProductionServed,
  headOf,
  moveBranch,
  mutateBytes,
  putAt,
  readTree,
  runFuzz,
  runs,
  writeCommit,
  writeTree,
  yamlTrick,
} from './fuzz-support.js';

// Fuzz: random manifests (environments.yaml variants) committed to the control branch of a
// live resolver. Each is the example's manifest with production and v1 left as they are and
// everything else open to change: staging relinked, pinned, given production's token digest or
// dropped; versions and environments added (with or without branches); top-level keys given
// any value; then, as text, YAML aimed at the parser (alias bombs, nesting, tags, huge scalars)
// and bytes that are not UTF-8. Whatever the manifest, after each case (docs/operations.md,
// Faults; issue #9):
// - production's token answers /v1/resolve with 200 (a bad manifest keeps the previous snapshot;
//   a good one cannot take production away, as it keeps production's entry);
// - the resolver says which one it was: it serves the new manifest commit, or /readyz names it;
// - `botver validate` reports the manifest's problems at environments.yaml, agreeing with the
//   resolver, and `botver env list` either works or names environments.yaml;
// - a good manifest committed next is served (nothing sticks), /healthz answers, and the
//   process stays under its memory bound.

const example = sharedExampleWithTokens();

const name = fc.oneof(
  { weight: 3, arbitrary: fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,10}$/) },
  fc.constantFrom('main', 'v1', 'v2', 'production', 'HEAD', '..', 'a'.repeat(64), ''),
  fc.string({ maxLength: 12 }),
);
const hex = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`));
const value = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(0, -1, 1, 5, 1e308, 0.5, Number.NaN, 'botver/v1', 'botver/v2', 'x'.repeat(100_000)),
);

type Manifest = Record<string, any>;
type Edit = (m: Manifest, heads: { v1: string; v2: string }) => void;

/** One change of the manifest's structure; production's entry and v1's are never touched. */
const edit: fc.Arbitrary<{ what: string; apply: Edit }> = fc.oneof(
  fc
    .tuple(fc.constantFrom('apiVersion', 'bot', 'language', 'maxVersions', 'nluThreshold', 'versions', 'extra'), value)
    .map(([key, v]) => ({
      what: `${key} = ${abridge(JSON.stringify(v) ?? 'undefined', 80)}`,
      apply: (m: Manifest) => {
        if (key === 'versions') m.versions = { v1: m.versions.v1, extra: v };
        else m[key] = v;
      },
    })),
  fc
    .constantFrom<[string, Edit]>(
      ['staging -> v1', (m) => void (m.environments.staging.version = 'v1')],
      ['staging -> v3 (no such version)', (m) => void (m.environments.staging.version = 'v3')],
      ['staging pinned to v2 head', (m, h) => void (m.environments.staging.commit = h.v2)],
      ['staging pinned to v1 head (not a commit of v2)', (m, h) => void (m.environments.staging.commit = h.v1)],
      [
        "staging has production's token digest",
        (m) => void (m.environments.staging.tokenSha256 = m.environments.production.tokenSha256),
      ],
      ['staging removed', (m) => void delete m.environments.staging],
      ['v2 removed (staging dangles)', (m) => void delete m.versions.v2],
      ['maxVersions 1', (m) => void (m.maxVersions = 1)],
      ['environments = []', (m) => void (m.environments = [])],
      [
        '__proto__ in versions',
        (m) => void Object.defineProperty(m.versions, '__proto__', { value: { tokenSha256: 'x' }, enumerable: true }),
      ],
    )
    .map(([what, apply]) => ({ what, apply })),
  fc
    .record({ n: name, version: name, token: hex(64), commit: fc.option(hex(40), { nil: undefined }) })
    .map(({ n, version, token, commit }) => ({
      what: `environment ${JSON.stringify(n)} -> ${JSON.stringify(version)}`,
      apply: (m: Manifest) => void (m.environments[n] = { version, tokenSha256: token, ...(commit && { commit }) }),
    })),
  fc.record({ n: name, token: hex(64) }).map(({ n, token }) => ({
    what: `version ${JSON.stringify(n)} (no branch unless it exists)`,
    apply: (m: Manifest) => void (m.versions[n] = { tokenSha256: token }),
  })),
  fc
    .array(fc.record({ name, type: fc.constantFrom('webhook', 'sms', ''), secretSha256: hex(64) }), { maxLength: 3 })
    .map((channels) => ({
      what: `staging channels ${JSON.stringify(channels.map((c) => c.name))}`,
      apply: (m: Manifest) => void (m.environments.staging.channels = channels),
    })),
);

const manifestCase = fc.record({
  edits: fc.array(edit, { maxLength: 3 }),
  as: fc.constantFrom('yaml', 'json', 'flow'),
  trick: fc.oneof(fc.constant(undefined), yamlTrick('x-fuzz')),
  bytes: fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, byteMutation),
});
type ManifestCase = typeof manifestCase extends fc.Arbitrary<infer T> ? T : never;

interface Readyz {
  manifestCommit: string | null;
  problems: { scope: string; name: string; commit: string | null }[];
}

suite('fuzz: random manifests on the control branch', () => {
  it('keeps production served, says what it did with each manifest, and recovers', async () => {
    const { dir, tokens } = example();
    const gitdir = `${dir}/.git`;
    const resolver = await serve(dir);
    const base = resolver.url;
    const original = manifestAt(dir, 'main');
    const mainBase = readTree(dir, 'main');
    const heads = { v1: headOf(dir, 'v1'), v2: headOf(dir, 'v2') };
    const path = [Buffer.from('environments.yaml')];
    const commitManifest = (bytes: Buffer, message: string) => {
      const old = headOf(dir, 'main');
      const tree = putAt(mainBase, path, { mode: '100644', name: path[0]!, blob: bytes });
      const commit = writeCommit(gitdir, writeTree(gitdir, tree), [old], message);
      moveBranch(dir, 'main', commit, old);
      return commit;
    };
    const readyz = async () =>
      JSON.parse(
        (
          await expectAnswer(base, {
            method: 'GET',
            path: '/readyz',
            headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
          })
        ).body,
      ) as Readyz;

    await runFuzz('manifest', manifestCase, runs(8), async (c: ManifestCase, index) => {
      const m = parse(original) as Manifest;
      for (const e of c.edits) {
        try {
          e.apply(m, heads);
        } catch {
          // an edit whose target an earlier edit replaced or removed (staging gone, versions a number)
        }
      }
      let text = c.as === 'json' ? JSON.stringify(m) : stringify(m, c.as === 'flow' ? { collectionStyle: 'flow' } : {});
      if (c.trick) text += `\n${c.trick}`;
      const bytes = c.bytes ? mutateBytes(Buffer.from(text), c.bytes) : Buffer.from(text);
      const commit = commitManifest(bytes, `fuzz manifest ${index}`);

      // the resolver took it, or says why not
      const outcome = await eventually(
        'the manifest taken or refused',
        async () => {
          const r = await readyz();
          if (r.manifestCommit === commit) return 'served' as const;
          return r.problems.some((p) => p.commit === commit) ? ('refused' as const) : undefined;
        },
        10_000,
      ).catch(async (err: Error) => {
        throw new Error(`${err.message}; readyz: ${abridge(JSON.stringify(await readyz()), 600)}`);
      });
      await expectProductionServed(base, tokens.production);
      await expectAliveAndBounded(base);

      // validate and the CLI report it at its file, and validate agrees with the resolver
      const v = await botver(dir, 'validate', commit, '--json');
      let report: { targets: { problems: { file: string; severity: string }[] }[] };
      try {
        report = JSON.parse(v.stdout);
      } catch {
        throw new Error(`botver validate (exit ${v.code}) printed no report: ${abridge(v.stderr || v.stdout, 400)}`);
      }
      const problems = report.targets.flatMap((t) => t.problems);
      for (const p of problems) expect(p.file, `a problem without its file: ${JSON.stringify(p)}`).toMatch(/./);
      const errors = problems.filter((p) => p.severity === 'error').length;
      expect(outcome.value, `the resolver ${outcome.value} the manifest; validate found ${errors} error(s)`).toBe(
        errors > 0 ? 'refused' : 'served',
      );
      const list = await botver(dir, 'env', 'list', '--json');
      if (list.code !== 0)
        expect(list.stderr, '`botver env list` failing on a bad manifest names it').toContain('environments.yaml');

      // a good manifest next is served: nothing sticks
      const good = commitManifest(Buffer.from(`${original}# after fuzz manifest ${index}\n`), `good again ${index}`);
      await eventually(
        'the good manifest after it served',
        async () => {
          const a = await expectAnswer(base, {
            method: 'GET',
            path: '/v1/resolve',
            headers: authHeader(tokens.production),
          });
          return a.status === 200 && (JSON.parse(a.body) as { manifestCommit: string }).manifestCommit === good
            ? true
            : undefined;
        },
        10_000,
      );
    });
  }, 120_000);
});
