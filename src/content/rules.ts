import type { Problem } from '../errors.js';
import { problemAt } from '../yaml/file.js';
import type { Bundle, ContentFile } from './bundle.js';
import { entityRegexProblem } from './regex.js';
import { OUT_OF_SCOPE } from './types.js';

// Rules across a version's files: what a schema cannot see. Each returns problems at the
// line at fault; only files that passed their schema are looked at, so the data is typed.

/** Entities every version has without declaring them (extracted by the NLU itself). */
export const BUILTIN_ENTITIES = ['number', 'ordinal', 'percentage', 'email', 'url', 'phone', 'ip'] as const;

function slugOfPath(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1).replace(/\.ya?ml$/, '');
}

function indexBySlug<T extends { slug: string }>(
  files: ContentFile<T>[],
  kind: string,
  problems: Problem[],
): Map<string, ContentFile<T>> {
  const bySlug = new Map<string, ContentFile<T>>();
  for (const file of files) {
    if (!file.valid) continue;
    const { slug } = file.data;
    if (slug !== slugOfPath(file.path)) {
      problems.push(
        problemAt(file.yaml, ['slug'], `slug "${slug}" does not match the file name; name the file ${slug}.yaml`),
      );
    }
    const other = bySlug.get(slug);
    if (other) problems.push(problemAt(file.yaml, ['slug'], `duplicate ${kind} slug "${slug}", also in ${other.path}`));
    else bySlug.set(slug, file);
  }
  return bySlug;
}

/**
 * Slugs of files that failed their schema: they exist, so a reference to one is not reported
 * as "does not exist" on top of the file's own error (both the slug written and the file name).
 */
function brokenSlugs(files: ContentFile<unknown>[]): Set<string> {
  const slugs = new Set<string>();
  for (const file of files) {
    if (file.valid) continue;
    slugs.add(slugOfPath(file.path));
    const slug = (file.data as { slug?: unknown } | undefined)?.slug;
    if (typeof slug === 'string') slugs.add(slug);
  }
  return slugs;
}

/** Names every JavaScript object already has ("constructor", "__proto__", …): as slugs or memory keys they would read as set. */
const RESERVED = new Set(Object.getOwnPropertyNames(Object.prototype));
const reserved = (what: string, name: string) =>
  `${what} "${name}" is reserved (a name every JavaScript object has); choose another`;

export function contentRuleProblems(bundle: Bundle): Problem[] {
  const problems: Problem[] = [];
  for (const file of [...bundle.intents, ...bundle.entities, ...bundle.skills] as ContentFile<{ slug?: unknown }>[]) {
    if (file.valid && typeof file.data.slug === 'string' && RESERVED.has(file.data.slug))
      problems.push(problemAt(file.yaml, ['slug'], reserved('slug', file.data.slug)));
  }
  const intents = indexBySlug(bundle.intents, 'intent', problems);
  const entities = indexBySlug(bundle.entities, 'entity', problems);
  indexBySlug(bundle.skills, 'skill', problems);
  const [brokenIntents, brokenEntities, brokenSkills] = [
    brokenSlugs(bundle.intents),
    brokenSlugs(bundle.entities),
    brokenSlugs(bundle.skills),
  ];
  const knownIntent = (slug: string) => intents.has(slug) || brokenIntents.has(slug);
  const knownEntity = (slug: string) =>
    entities.has(slug) || brokenEntities.has(slug) || (BUILTIN_ENTITIES as readonly string[]).includes(slug);

  // The same expression twice teaches nothing; in two intents it teaches a contradiction.
  const owner = new Map<string, string>();
  for (const file of intents.values()) {
    const seen = new Set<string>();
    file.data.expressions.forEach((expression, i) => {
      const key = expression.trim().toLowerCase();
      if (seen.has(key))
        problems.push(
          problemAt(
            file.yaml,
            ['expressions', i],
            `expression "${expression}" appears twice in this intent`,
            'warning',
          ),
        );
      seen.add(key);
      const other = owner.get(key);
      if (other && other !== file.data.slug) {
        problems.push(
          problemAt(
            file.yaml,
            ['expressions', i],
            `expression "${expression}" is also in intent "${other}"; the NLU cannot tell them apart`,
            'warning',
          ),
        );
      } else owner.set(key, file.data.slug);
    });
  }

  for (const file of entities.values()) {
    if ('regex' in file.data && file.data.regex !== undefined) {
      // RE2 syntax (content/regex.ts): what that engine cannot run, or a pattern matching the empty text.
      const problem = entityRegexProblem(file.data.regex, file.data.flags);
      if (problem) problems.push(problemAt(file.yaml, ['regex'], problem));
    }
  }

  const fallbacks: ContentFile<unknown>[] = [];
  for (const file of bundle.skills) {
    if (!file.valid) continue;
    const skill = file.data;
    if (skill.fallback) fallbacks.push(file);
    (skill.triggers ?? []).forEach((trigger, i) => {
      if (trigger.intent === OUT_OF_SCOPE) {
        problems.push(
          problemAt(
            file.yaml,
            ['triggers', i, 'intent'],
            `skill "${skill.slug}" triggers on intent "${OUT_OF_SCOPE}", which is never answered (a message it wins has no intent): make the skill the fallback instead`,
          ),
        );
        return;
      }
      if (trigger.intent !== undefined && !knownIntent(trigger.intent)) {
        problems.push(
          problemAt(
            file.yaml,
            ['triggers', i, 'intent'],
            `skill "${skill.slug}" triggers on intent "${trigger.intent}", which does not exist`,
          ),
        );
      }
      if (trigger.entity !== undefined && !knownEntity(trigger.entity)) {
        problems.push(
          problemAt(
            file.yaml,
            ['triggers', i, 'entity'],
            `skill "${skill.slug}" triggers on entity "${trigger.entity}", which does not exist`,
          ),
        );
      }
    });
    const aliases = new Set<string>();
    (skill.requirements ?? []).forEach((req, i) => {
      if (!knownEntity(req.entity)) {
        problems.push(
          problemAt(
            file.yaml,
            ['requirements', i, 'entity'],
            `skill "${skill.slug}" requires entity "${req.entity}", which does not exist`,
          ),
        );
      }
      if (aliases.has(req.alias))
        problems.push(
          problemAt(file.yaml, ['requirements', i, 'alias'], `alias "${req.alias}" is used twice in this skill`),
        );
      if (RESERVED.has(req.alias))
        problems.push(problemAt(file.yaml, ['requirements', i, 'alias'], reserved('alias', req.alias)));
      aliases.add(req.alias);
    });
    (skill.triggers ?? []).forEach((t, i) => {
      if (t.memory !== undefined && RESERVED.has(t.memory))
        problems.push(problemAt(file.yaml, ['triggers', i, 'memory'], reserved('memory key', t.memory)));
    });
    skill.actions.forEach((a, i) => {
      for (const key of [...Object.keys(a.set ?? {}), ...(a.unset ?? [])]) {
        if (RESERVED.has(key))
          problems.push(problemAt(file.yaml, ['actions', i, a.set ? 'set' : 'unset'], reserved('memory key', key)));
      }
    });
  }
  for (const extra of fallbacks.slice(1)) {
    problems.push(problemAt(extra.yaml, ['fallback'], `more than one fallback skill (first: ${fallbacks[0]!.path})`));
  }

  const skills = new Set([...bundle.skills.filter((f) => f.valid).map((f) => f.data.slug), ...brokenSkills]);
  for (const file of bundle.tests) {
    if (!file.valid) continue;
    (file.data.utterances ?? []).forEach((u, i) => {
      if (u.intent === OUT_OF_SCOPE) {
        problems.push(
          problemAt(
            file.yaml,
            ['utterances', i, 'intent'],
            `a message out of scope gets no intent: expect "intent: null", not "${OUT_OF_SCOPE}"`,
          ),
        );
        return;
      }
      if (u.intent !== null && !knownIntent(u.intent)) {
        problems.push(
          problemAt(file.yaml, ['utterances', i, 'intent'], `expected intent "${u.intent}" does not exist`),
        );
      }
      for (const slug of Object.keys(u.entities ?? {})) {
        if (!knownEntity(slug))
          problems.push(problemAt(file.yaml, ['utterances', i, 'entities', slug], `entity "${slug}" does not exist`));
      }
    });
    (file.data.conversations ?? []).forEach((c, i) => {
      c.steps.forEach((step, j) => {
        if (step.expectSkill !== undefined && !skills.has(step.expectSkill)) {
          problems.push(
            problemAt(
              file.yaml,
              ['conversations', i, 'steps', j, 'expectSkill'],
              `expected skill "${step.expectSkill}" does not exist`,
            ),
          );
        }
      });
    });
  }
  return problems;
}
