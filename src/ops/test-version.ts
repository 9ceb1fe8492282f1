import type { BotRepo } from './bot-repo.js';
import { bundleData } from '../content/version-content.js';
import { loadBundle } from '../content/bundle.js';
import { ModelStore, SILENT } from '../nlu/model-store.js';
import { emptyState, runTurn, type DialogState, type NlpResults } from '../dialog/engine.js';
import { InvalidContentError } from '../errors.js';
import { DEFAULT_NLU_THRESHOLD, platformNlp } from '../nlu/platform-results.js';
import type { Analysis } from '../nlu/engine.js';

// `botver test [REF]`: a version's tests/*.yaml run against its own NLU model and skills,
// exactly as the resolver would answer: utterances (expected intent and entities) and
// scripted conversations (expected replies, in order, and the skill that answered).

export interface TestCheck {
  file: string;
  /** "utterance 3" or "conversation <name>, step 2". */
  name: string;
  passed: boolean;
  /** What was expected and what came, when it failed (or was missed). */
  detail?: string;
  /** Passed, but its intent was wrong: counted in its file's accuracy (minIntentAccuracy) instead. */
  missed?: true;
}

export interface TestReport {
  ref: string;
  commit: string;
  checks: TestCheck[];
  passed: number;
  failed: number;
  utterances: number;
  /** Share of utterances whose top intent was the expected one (null without utterances). */
  intentAccuracy: number | null;
  /**
   * Per intent named by an utterance or given to one ("none": no intent reached the
   * threshold): how many utterances expected it, how many got it, and precision and recall
   * (null where there is nothing to divide by). Sorted by intent.
   */
  intents: IntentScore[];
  /** Which intents were taken for which, most frequent first, with the utterances. */
  confusions: Confusion[];
}

export interface IntentScore {
  intent: string;
  expected: number;
  predicted: number;
  right: number;
  precision: number | null;
  recall: number | null;
}

export interface Confusion {
  expected: string;
  got: string;
  count: number;
  texts: string[];
}

export interface TestOptions {
  /**
   * Train the version's model in a worker thread rather than in this one: what a server does
   * (the resolver's console), so that its requests keep being answered meanwhile. A model
   * already in the repository's model cache is loaded, not trained again. Default: this thread.
   */
  worker?: boolean;
}

export async function testVersion(
  repo: BotRepo,
  ref: string,
  commit?: string,
  options: TestOptions = {},
): Promise<TestReport> {
  const at = commit ?? (await repo.git.resolveCommit(ref));
  const { manifest } = await repo.readManifest();
  // The manifest's limits, as the resolver applies them.
  const { bundle: files, problems } = await loadBundle(repo.git, at, manifest.limits);
  const errors = problems.filter((p) => p.severity === 'error');
  if (errors.length)
    throw new InvalidContentError(
      errors.map((p) => ({ ...p, ref })),
      `${ref} does not validate: `,
    );
  const content = { bundle: bundleData(files) };
  const language = manifest.data.language ?? 'en';
  const threshold = manifest.data.nluThreshold ?? DEFAULT_NLU_THRESHOLD;
  const store = new ModelStore({ gitdir: repo.git.gitdir, logger: SILENT, inline: !options.worker });
  const model = await store.get(at, () => ({ bundle: content.bundle, language }));
  await store.close();

  const botver = { environment: null, version: ref, commit: at };
  const checks: TestCheck[] = [];
  let utterances = 0;
  let intentsRight = 0;
  const outcomes: { expected: string; got: string; text: string }[] = [];
  for (const [index, file] of content.bundle.tests.entries()) {
    const path = files.tests[index]!.path;
    const lang = file.language ?? language;
    const scoredTogether = file.minIntentAccuracy !== undefined;
    let fileRight = 0;
    for (const [i, u] of (file.utterances ?? []).entries()) {
      const analysis = await model.analyse(u.text, lang);
      const nlp = platformNlp({ text: u.text, analysis, threshold, intents: content.bundle.intents, botver });
      const got = nlp.intents[0]?.slug ?? null;
      utterances++;
      outcomes.push({ expected: u.intent ?? NONE, got: got ?? NONE, text: u.text });
      const problems: string[] = [];
      const missed =
        got === u.intent ? null : `intent ${gotText(analysis, got, threshold)}, expected ${u.intent ?? 'none'}`;
      if (!missed) {
        intentsRight++;
        fileRight++;
      } else if (!scoredTogether) problems.push(missed);
      for (const [slug, value] of Object.entries(u.entities ?? {})) {
        const found = (nlp.entities[slug] ?? []).map((e) => e.value);
        if (!found.includes(value))
          problems.push(`entity ${slug} ${found.length ? found.join(', ') : 'missing'}, expected ${value}`);
      }
      // Scored together, a wrong intent alone is reported in the detail of a passing check.
      const detail = [...problems, ...(scoredTogether && missed ? [`${missed} (counted in the file's accuracy)`] : [])];
      checks.push({
        file: path,
        name: `utterance ${i + 1} "${u.text}"`,
        passed: !problems.length,
        ...(detail.length && { detail: detail.join('; ') }),
        ...(!problems.length && missed && { missed: true as const }),
      });
    }
    const scored = file.utterances?.length ?? 0;
    if (scoredTogether && scored > 0) {
      const accuracy = fileRight / scored;
      const min = file.minIntentAccuracy!;
      // The fewest right that reach the minimum, counted as the check counts (no float rounding up).
      let need = Math.floor(min * scored);
      while (need / scored < min) need++;
      checks.push({
        file: path,
        name: `intent accuracy ${(accuracy * 100).toFixed(1)}% (${fileRight} of ${scored}), at least ${(min * 100).toFixed(1)}%`,
        passed: fileRight >= need,
        ...(fileRight < need && {
          detail: `${fileRight} of ${scored} utterances got their intent; at least ${need} must`,
        }),
      });
    }
    for (const conversation of file.conversations ?? []) {
      let state: DialogState = emptyState();
      for (const [j, step] of conversation.steps.entries()) {
        // The same NLP results the resolver gives the skills engine: templates render alike.
        const nlp = platformNlp({
          text: step.say,
          analysis: await model.analyse(step.say, lang),
          threshold,
          intents: content.bundle.intents,
          botver,
        });
        const turn = runTurn(content.bundle.skills, state, nlp as unknown as NlpResults);
        state = turn.state;
        const replies = turn.messages.map((m) =>
          typeof m.content === 'string' ? m.content : JSON.stringify(m.content),
        );
        const problems: string[] = [];
        if (JSON.stringify(replies) !== JSON.stringify(step.expect))
          problems.push(`replies ${JSON.stringify(replies)}, expected ${JSON.stringify(step.expect)}`);
        if (step.expectSkill && turn.skill !== step.expectSkill)
          problems.push(`skill ${turn.skill ?? 'none'}, expected ${step.expectSkill}`);
        checks.push({
          file: path,
          name: `conversation "${conversation.name}", step ${j + 1} "${step.say}"`,
          passed: !problems.length,
          ...(problems.length && { detail: problems.join('; ') }),
        });
      }
    }
  }
  const failed = checks.filter((c) => !c.passed).length;
  return {
    ref,
    commit: at,
    checks,
    passed: checks.length - failed,
    failed,
    utterances,
    intentAccuracy: utterances ? intentsRight / utterances : null,
    ...scoresOf(outcomes),
  };
}

/** What the NLU made of an utterance, said with the confidence behind it (and why no intent, when none). */
function gotText(analysis: Analysis, got: string | null, threshold: number): string {
  const best = analysis.intents[0];
  if (got !== null) return `${got} (${best!.confidence})`;
  if (analysis.outOfScope !== undefined) return `none (the out-of-scope examples won, ${analysis.outOfScope})`;
  return best ? `none (best ${best.slug}, ${best.confidence} < ${threshold})` : 'none';
}

/** How an utterance without an intent (expected or given) is named in the scores: no slug can be this. */
const NONE = '(none)';

function scoresOf(outcomes: { expected: string; got: string; text: string }[]): {
  intents: IntentScore[];
  confusions: Confusion[];
} {
  const byIntent = new Map<string, IntentScore>();
  const score = (intent: string) => {
    let s = byIntent.get(intent);
    if (!s) byIntent.set(intent, (s = { intent, expected: 0, predicted: 0, right: 0, precision: null, recall: null }));
    return s;
  };
  const confusions = new Map<string, Confusion>();
  for (const { expected, got, text } of outcomes) {
    score(expected).expected++;
    score(got).predicted++;
    if (expected === got) score(expected).right++;
    else {
      const key = `${expected}\u0000${got}`;
      const c = confusions.get(key) ?? { expected, got, count: 0, texts: [] };
      c.count++;
      c.texts.push(text);
      confusions.set(key, c);
    }
  }
  const intents = [...byIntent.values()]
    .map((s) => ({
      ...s,
      precision: s.predicted ? s.right / s.predicted : null,
      recall: s.expected ? s.right / s.expected : null,
    }))
    .sort((a, b) => a.intent.localeCompare(b.intent));
  return {
    intents,
    confusions: [...confusions.values()].sort(
      (a, b) => b.count - a.count || a.expected.localeCompare(b.expected) || a.got.localeCompare(b.got),
    ),
  };
}
