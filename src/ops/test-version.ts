import type { BotRepo } from './bot-repo.js';
import { bundleData } from '../content/version-content.js';
import { loadBundle } from '../content/bundle.js';
import { ModelStore, SILENT } from '../nlu/model-store.js';
import { emptyState, runTurn, type DialogState, type NlpResults } from '../dialog/engine.js';
import { InvalidContentError } from '../errors.js';
import { DEFAULT_NLU_THRESHOLD, platformNlp } from '../nlu/platform-results.js';

// `botver test [REF]`: a version's tests/*.yaml run against its own NLU model and skills,
// exactly as the resolver would answer: utterances (expected intent and entities) and
// scripted conversations (expected replies, in order, and the skill that answered).

export interface TestCheck {
  file: string;
  /** "utterance 3" or "conversation <name>, step 2". */
  name: string;
  passed: boolean;
  /** What was expected and what came, when it failed. */
  detail?: string;
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
}

export async function testVersion(repo: BotRepo, ref: string, commit?: string): Promise<TestReport> {
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
  const store = new ModelStore({ gitdir: repo.git.gitdir, logger: SILENT, inline: true });
  const model = await store.get(at, () => ({ bundle: content.bundle, language }));
  await store.close();

  const botver = { environment: null, version: ref, commit: at };
  const checks: TestCheck[] = [];
  let utterances = 0;
  let intentsRight = 0;
  for (const [index, file] of content.bundle.tests.entries()) {
    const path = files.tests[index]!.path;
    const lang = file.language ?? language;
    for (const [i, u] of (file.utterances ?? []).entries()) {
      const nlp = platformNlp({
        text: u.text,
        analysis: await model.analyse(u.text, lang),
        threshold,
        intents: content.bundle.intents,
        botver,
      });
      const got = nlp.intents[0]?.slug ?? null;
      utterances++;
      const problems: string[] = [];
      if (got === u.intent) intentsRight++;
      else problems.push(`intent ${got ?? 'none'}, expected ${u.intent ?? 'none'}`);
      for (const [slug, value] of Object.entries(u.entities ?? {})) {
        const found = (nlp.entities[slug] ?? []).map((e) => e.value);
        if (!found.includes(value))
          problems.push(`entity ${slug} ${found.length ? found.join(', ') : 'missing'}, expected ${value}`);
      }
      checks.push({
        file: path,
        name: `utterance ${i + 1} "${u.text}"`,
        passed: !problems.length,
        ...(problems.length && { detail: problems.join('; ') }),
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
  };
}
