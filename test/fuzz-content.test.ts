import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe as suite, expect, it } from 'vitest';
import { parseDocument, stringify } from 'yaml';
import { botver, manifestAt } from './helpers.js';
import { ADMIN_TOKEN, eventually, serve, sharedExampleWithTokens } from './resolver-helpers.js';
import {
  abridge,
  authHeader,
  byteMutation,
  expectAliveAndBounded,
  expectAnswer,
  headOf,
  moveBranch,
  mutateBytes,
  putAt,
  readTree,
  runFuzz,
  runs,
  send,
  writeCommit,
  writeTree,
  yamlTrick,
  type Answer,
  type RawRequest,
  type TreeEntry,
} from './fuzz-support.js';

// Fuzz: random content committed to v2 (a version only staging serves) while production serves
// v1, against a live resolver. Files under training/intents, training/entities, skills and
// tests with random names (valid slugs, "..", unicode, long, no .yaml), modes (symlinks,
// submodules, missing blobs, a folder named "..") and YAML (near-valid documents for each schema,
// alias bombs, deep nesting, tags, huge scalars, bytes that are not UTF-8), plus messages to v2
// aimed at the regexes it holds. After each case (docs/operations.md, Faults; issue #9):
// - a change to v2 is v2's problem only: production's token, rotated in the same breath on the
//   control branch, is served with the new manifest (and the old one refused), from v1 as before;
// - v2 either serves its new head or /readyz names v2 (never the manifest or the repository);
// - `botver validate` reports at a file, and agrees with the resolver on whether v2's head is good;
// - no answer of any route to any token is a 5xx other than the documented 503s, /healthz
//   answers, and the process stays under its memory bound.

const example = sharedExampleWithTokens();

const DIRS = {
  intent: 'training/intents',
  entity: 'training/entities',
  skill: 'skills',
  test: 'tests',
} as const;
type Kind = keyof typeof DIRS;

/** Entity regexes: ordinary, catastrophic-backtracking, and not supported by every engine. */
const REGEXES = [
  '#?[A-Z]{2}\\d{4}',
  '(a+)+$',
  '(a|aa)+$',
  '^(\\w+\\s?)*$',
  '(x+x+)+y',
  '(?<n>a)\\k<n>',
  '(?=a)a',
  '(?<=b)c',
  '\\p{L}+',
  '[',
  'a{1,99999}',
  '',
];
/** A message that makes each catastrophic regex backtrack, `n` characters long. */
const ATTACKS: Record<string, (n: number) => string> = {
  '(a+)+$': (n) => `${'a'.repeat(n)}!`,
  '(a|aa)+$': (n) => `${'a'.repeat(n)}!`,
  '^(\\w+\\s?)*$': (n) => `${'a'.repeat(n)}!`,
  '(x+x+)+y': (n) => 'x'.repeat(n),
};

const slug = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,12}$/);
const text = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 30 }) },
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.constantFrom(
    '',
    ' ',
    'null',
    '~',
    'true',
    '0x1F',
    '.inf',
    '{{memory.x}}',
    '{{',
    '$' + '{HOME}',
    '\u0000',
    '\ud800',
  ),
  fc.integer({ min: 1000, max: 20_000 }).map((n) => 'word '.repeat(n / 5)),
);
const anyValue = fc.oneof(text, fc.jsonValue({ maxDepth: 3 }));
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });

const documents: Record<Kind, (name: string) => fc.Arbitrary<Record<string, unknown>>> = {
  intent: (name) =>
    fc.record({
      slug: fc.oneof({ weight: 5, arbitrary: fc.constant(name) }, slug, anyValue),
      description: maybe(text),
      language: maybe(fc.constantFrom('en', 'fr', 'xx', 'EN', 'english')),
      expressions: fc.oneof({ weight: 5, arbitrary: fc.array(text, { maxLength: 20 }) }, anyValue),
    }),
  entity: (name) =>
    fc.record({
      slug: fc.oneof({ weight: 5, arbitrary: fc.constant(name) }, slug, anyValue),
      description: maybe(text),
      fuzzy: maybe(fc.oneof(fc.boolean(), anyValue)),
      regex: maybe(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...REGEXES) }, text)),
      values: maybe(
        fc.oneof(
          fc.array(fc.record({ value: text, synonyms: maybe(fc.array(text, { maxLength: 5 })) }), { maxLength: 8 }),
          anyValue,
        ),
      ),
    }),
  skill: (name) =>
    fc.record({
      slug: fc.oneof({ weight: 5, arbitrary: fc.constant(name) }, slug, anyValue),
      description: maybe(text),
      triggers: maybe(fc.array(fc.record({ intent: fc.oneof(slug, fc.constantFrom('greetings', 'order-pizza')) }))),
      requirements: maybe(
        fc.array(fc.record({ entity: fc.oneof(slug, fc.constantFrom('pizza-size')), alias: slug, ask: text })),
      ),
      actions: fc.oneof(
        { weight: 4, arbitrary: fc.array(fc.oneof(fc.record({ reply: text }), fc.record({ end: fc.boolean() }))) },
        anyValue,
      ),
    }),
  test: () =>
    fc.record({
      description: maybe(text),
      utterances: maybe(
        fc.array(fc.record({ text, intent: fc.oneof(slug, fc.constantFrom('greetings')), entities: maybe(anyValue) }), {
          maxLength: 5,
        }),
      ),
      conversations: maybe(
        fc.array(fc.record({ name: text, steps: fc.array(fc.record({ say: text, expect: maybe(fc.array(text)) })) }), {
          maxLength: 3,
        }),
      ),
    }),
};

/** A file's text: a near-valid document (as YAML or JSON), or YAML aimed at the parser. */
const fileText = (kind: Kind, name: string) =>
  fc
    .record({
      body: fc.oneof(
        { weight: 3, arbitrary: documents[kind](name).map((d) => stringify(d)) },
        documents[kind](name).map((d) => JSON.stringify(d)),
        {
          weight: 6,
          arbitrary: yamlTrick(kind === 'intent' ? 'expressions' : 'values').map((t) => `slug: ${name}\n${t}`),
        },
        fc.string({ unit: fc.constantFrom(...'{}[]:-&*!|>\'"#%@` \n\tabc'), maxLength: 200 }),
      ),
      // mostly left alone: a mutated file rarely gets past the YAML parser
      bytes: fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, byteMutation),
    })
    .map(({ body, bytes }) => (bytes ? mutateBytes(Buffer.from(body), bytes) : Buffer.from(body)));

const fileName = (name: string) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constant(`${name}.yaml`) },
    fc.constantFrom('..', '.', '.git', '.gitmodules', 'x.yml', 'noext', ' .yaml', 'é.yaml', 'a\nb.yaml', 'CON.yaml'),
    fc.integer({ min: 100, max: 255 }).map((n) => `${'n'.repeat(n - 5)}.yaml`),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).filter((s) => !s.includes('/') && !s.includes('\0')),
  );

interface FileCase {
  kind: Kind;
  /** folders under the kind's folder ("sub/dir" nesting, or ".." as a folder name) */
  nest: string[];
  name: string;
  entry:
    | { mode: '100644' | '100755'; text: Buffer }
    | { mode: '120000'; target: string }
    | { mode: '160000'; gitlink: string }
    | { mode: 'missing'; oid: string };
}

const fileCase: fc.Arbitrary<FileCase> = fc
  .record({ kind: fc.constantFrom<Kind>('intent', 'entity', 'skill', 'test'), name: slug })
  .chain(({ kind, name }) =>
    fc.record({
      kind: fc.constant(kind),
      nest: fc.oneof(
        { weight: 5, arbitrary: fc.constant<string[]>([]) },
        fc.constantFrom<string[]>(['sub'], ['..'], ['.'], ['a', 'b', 'c'], Array<string>(60).fill('d')),
      ),
      name: fileName(name),
      entry: fc.oneof(
        { weight: 8, arbitrary: fileText(kind, name).map((t) => ({ mode: '100644' as const, text: t })) },
        fileText(kind, name).map((t) => ({ mode: '100755' as const, text: t })),
        fc
          .constantFrom('../../environments.yaml', '/etc/passwd', 'greetings.yaml', '.', 'x'.repeat(4096))
          .map((target) => ({ mode: '120000' as const, target })),
        fc.stringMatching(/^[0-9a-f]{40}$/).map((gitlink) => ({ mode: '160000' as const, gitlink })),
        fc.stringMatching(/^[0-9a-f]{40}$/).map((oid) => ({ mode: 'missing' as const, oid })),
      ),
    }),
  );

const contentCase = fc.record({
  files: fc.array(fileCase, { minLength: 1, maxLength: 4 }),
  messages: fc.array(fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('hello', 'I want a large pizza')), {
    maxLength: 2,
  }),
  attackLength: fc.integer({ min: 24, max: 28 }),
});
type ContentCase = typeof contentCase extends fc.Arbitrary<infer T> ? T : never;

function toEntry(f: FileCase): TreeEntry {
  const name = Buffer.from(f.name);
  switch (f.entry.mode) {
    case '100644':
    case '100755':
      return { mode: f.entry.mode, name, blob: f.entry.text };
    case '120000':
      return { mode: '120000', name, blob: Buffer.from(f.entry.target) };
    case '160000':
      return { mode: '160000', name, gitlink: f.entry.gitlink };
    case 'missing':
      return { mode: '100644', name, missing: f.entry.oid };
  }
}

const pathOf = (f: FileCase) => [...DIRS[f.kind].split('/'), ...f.nest, f.name];
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const newToken = () => `bvt_${randomBytes(32).toString('base64url')}`;

interface Readyz {
  manifestCommit: string | null;
  problems: { scope: string; name: string; commit: string | null }[];
}
async function readyz(base: string): Promise<{ answer: Answer; body: Readyz | null }> {
  const answer = await expectAnswer(base, {
    method: 'GET',
    path: '/readyz',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  try {
    return { answer, body: JSON.parse(answer.body) as Readyz };
  } catch {
    return { answer, body: null };
  }
}

/** Resolves when `p` does, or fails naming `what` after `ms` (a hang turned into a failure). */
async function within<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const giveUp = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, giveUp]);
  } finally {
    clearTimeout(timer);
  }
}

suite('fuzz: random content on a version production does not serve', () => {
  it('keeps every other token served, v2 faults scoped to v2, and no undocumented 5xx', async () => {
    const { dir, tokens } = example();
    const gitdir = `${dir}/.git`;
    const resolver = await serve(dir);
    const base = resolver.url;
    const v1Head = headOf(dir, 'v1');
    const v2Base = readTree(dir, 'v2');
    const mainBase = readTree(dir, 'main');
    const manifest = manifestAt(dir, 'main');
    let production = tokens.production;

    await runFuzz('content', contentCase, runs(6), async (c: ContentCase, index) => {
      // 1. the case's files on top of v2's own content, as one commit pushed to v2
      let tree = v2Base;
      for (const f of c.files)
        tree = putAt(
          tree,
          pathOf(f).map((p) => Buffer.from(p)),
          toEntry(f),
        );
      const v2Old = headOf(dir, 'v2');
      const v2New = writeCommit(gitdir, writeTree(gitdir, tree), [v2Old], `fuzz case ${index}`);
      moveBranch(dir, 'v2', v2New, v2Old);

      // 2. production's token rotated on the control branch right after
      const rotated = newToken();
      const doc = parseDocument(manifest);
      doc.setIn(['environments', 'production', 'tokenSha256'], sha256(rotated));
      doc.setIn(['environments', 'staging', 'description'], `fuzz case ${index}`);
      const mainOld = headOf(dir, 'main');
      const mainTree = putAt(mainBase, [Buffer.from('environments.yaml')], {
        mode: '100644',
        name: Buffer.from('environments.yaml'),
        blob: Buffer.from(String(doc)),
      });
      const mainNew = writeCommit(gitdir, writeTree(gitdir, mainTree), [mainOld], `rotate production (case ${index})`);
      moveBranch(dir, 'main', mainNew, mainOld);

      // 3. the rotation is served, from v1 as before; the old token is refused
      const notServed = async () => `readyz: ${abridge((await readyz(base)).answer.body, 600)}`;
      const served = await eventually(
        'the rotated production token',
        async () => {
          const a = await send(base, { method: 'GET', path: '/v1/resolve', headers: authHeader(rotated) });
          if (a instanceof Error || a.status !== 200) return undefined;
          const body = JSON.parse(a.body) as { manifestCommit: string; commit: string };
          return body.manifestCommit === mainNew ? body : undefined;
        },
        10_000,
      ).catch(async (err: Error) => {
        throw new Error(`after a change to v2 only, ${err.message}; ${await notServed()}`);
      });
      expect(served.value.commit, "production's commit").toBe(v1Head);
      const old = await expectAnswer(base, { method: 'GET', path: '/v1/resolve', headers: authHeader(production) });
      expect(old.status, "production's previous token after its rotation").toBe(401);
      production = rotated;

      // 4. v2 serves its new head, or /readyz names v2 at that head; never a wider problem
      const outcome = await eventually(
        'v2 settled on its new head',
        async () => {
          const a = await send(base, { method: 'GET', path: '/v1/resolve', headers: authHeader(tokens.v2) });
          if (!(a instanceof Error) && a.status === 200 && (JSON.parse(a.body) as { commit: string }).commit === v2New)
            return 'served' as const;
          const r = (await readyz(base)).body;
          return r?.problems.some((p) => p.scope === 'version' && p.name === 'v2' && p.commit === v2New)
            ? ('refused' as const)
            : undefined;
        },
        10_000,
      ).catch(async (err: Error) => {
        throw new Error(`${err.message}; ${await notServed()}`);
      });
      const wide = (await readyz(base)).body?.problems.filter((p) => p.scope !== 'version' && p.scope !== 'model');
      expect(wide ?? [], 'problems outside v2 after a change to v2 only').toEqual([]);

      // 5. validate reports at a file, and agrees with the resolver
      const v = await botver(dir, 'validate', '--json');
      let report: { targets: { ref: string; commit: string; problems: { file: string; severity: string }[] }[] };
      try {
        report = JSON.parse(v.stdout);
      } catch {
        throw new Error(`botver validate (exit ${v.code}) printed no report: ${abridge(v.stderr || v.stdout, 400)}`);
      }
      for (const p of report.targets.flatMap((t) => t.problems))
        expect(p.file, `a problem without its file: ${JSON.stringify(p)}`).toMatch(/./);
      const v2Target = report.targets.find((t) => t.ref === 'v2' && t.commit === v2New);
      const v2Errors = v2Target?.problems.filter((p) => p.severity === 'error').length ?? 0;
      expect(outcome.value, `the resolver ${outcome.value} v2's head; validate found ${v2Errors} error(s) in it`).toBe(
        v2Errors > 0 ? 'refused' : 'served',
      );

      if (process.env.FUZZ_VERBOSE) console.log(`case ${index}: v2 ${outcome.value}, validate: ${v2Errors} error(s)`);

      // 6. every route to every token, with v2's model ready; messages aimed at its regexes
      await within("v2's NLU model", 30_000, resolver.nlu.idle());
      const attacks = c.files.flatMap((f) => {
        if (!('text' in f.entry)) return [];
        const t = f.entry.text.toString('utf8');
        return Object.keys(ATTACKS)
          .filter((re) => t.includes(re) || t.includes(JSON.stringify(re).slice(1, -1)))
          .map((re) => ATTACKS[re]!(c.attackLength));
      });
      const requests: RawRequest[] = [];
      for (const token of [production, tokens.staging, tokens.v1, tokens.v2]) {
        const headers = { ...authHeader(token), 'content-type': 'application/json' };
        requests.push({ method: 'GET', path: '/v1/resolve', headers });
        for (const t of [...c.messages, ...(token === tokens.v2 ? attacks : [])])
          requests.push({
            method: 'POST',
            path: '/v2/request',
            headers,
            body: Buffer.from(JSON.stringify({ text: t })),
          });
        requests.push({
          method: 'POST',
          path: '/build/v1/dialog',
          headers,
          body: Buffer.from(
            JSON.stringify({ message: { type: 'text', content: c.messages[0] ?? 'hi' }, conversation_id: `c${index}` }),
          ),
        });
      }
      for (const f of c.files)
        requests.push({
          method: 'GET',
          path: `/v1/files/${pathOf(f).map(encodeURIComponent).join('/')}`,
          headers: authHeader(tokens.v2),
        });
      // all at once, with production and /healthz asked meanwhile: one request must not hold the rest
      await Promise.all([
        ...requests.map((r) => expectAnswer(base, r)),
        expectAliveAndBounded(base),
        expectAnswer(base, { method: 'GET', path: '/v1/resolve', headers: authHeader(production) }).then((a) =>
          expect(a.status, "production's /v1/resolve").toBe(200),
        ),
      ]);
      await expectAliveAndBounded(base);
    });
  }, 180_000);
});
