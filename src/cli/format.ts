import type { ContentDiff, Section } from '../ops/diff.js';
import type { EnvironmentInfo } from '../ops/environments.js';
import { describeLink } from '../ops/environments.js';
import type { LinkChange } from '../ops/history.js';
import type { TestReport } from '../ops/test-version.js';
import type { VersionInfo } from '../ops/versions.js';
import { short, table } from './output.js';

// Human-readable renderings of command results. JSON output uses the data as it is.

export function versionsText(versions: VersionInfo[]): string {
  return table([
    ['VERSION', 'HEAD', 'ENVIRONMENTS', 'DESCRIPTION'],
    ...versions.map((v) => [
      v.name,
      v.head ? short(v.head) : 'MISSING',
      v.environments.join(', ') || '-',
      v.description ?? '',
    ]),
  ]);
}

export function versionText(v: VersionInfo): string {
  return [
    `version ${v.name}`,
    `  branch:       refs/heads/${v.name} at ${v.head ?? 'MISSING'}`,
    `  environments: ${v.environments.join(', ') || '(none)'}`,
    ...(v.createdFrom ? [`  created from: ${v.createdFrom}`] : []),
    ...(v.description ? [`  description:  ${v.description}`] : []),
  ].join('\n');
}

export function environmentsText(envs: EnvironmentInfo[]): string {
  return table([
    ['ENVIRONMENT', 'VERSION', 'PIN', 'SERVES', 'CHANNELS'],
    ...envs.map((e) => [
      e.name,
      e.version,
      e.commit ? short(e.commit) : '-',
      e.resolvedCommit ? short(e.resolvedCommit) : 'MISSING',
      e.channels.map((c) => c.name).join(', ') || '-',
    ]),
  ]);
}

export function environmentText(e: EnvironmentInfo): string {
  return [
    `environment ${e.name}`,
    `  version:  ${e.version}`,
    `  pinned:   ${e.commit ?? 'no (follows the branch head)'}`,
    `  serves:   ${e.resolvedCommit ?? 'MISSING (the version branch does not exist)'}`,
    `  channels: ${e.channels.map((c) => `${c.name} (${c.type})`).join(', ') || '(none)'}`,
    ...(e.description ? [`  description: ${e.description}`] : []),
  ].join('\n');
}

export function historyText(environment: string, changes: LinkChange[]): string {
  if (!changes.length) return `environment ${environment} has never changed`;
  return table([
    ['DATE', 'COMMIT', 'AUTHOR', 'FROM', 'TO'],
    ...changes.map((c) => [
      c.date.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
      short(c.commit),
      c.author,
      c.from ? describeLink(c.from) : '(created)',
      c.to ? describeLink(c.to) : '(deleted)',
    ]),
  ]);
}

function section(title: string, s: Section<{ slug: string }>, details: (c: never) => string[]): string[] {
  if (!s.added.length && !s.removed.length && !s.changed.length) return [];
  return [
    `${title}:`,
    ...s.added.map((slug) => `  + ${slug}`),
    ...s.removed.map((slug) => `  - ${slug}`),
    ...s.changed.flatMap((c) => [`  ~ ${c.slug}`, ...details(c as never).map((l) => `      ${l}`)]),
  ];
}

export function diffText(d: ContentDiff): string {
  const head = `diff ${d.a.name} (${short(d.a.commit)}) -> ${d.b.name} (${short(d.b.commit)})`;
  const body = [
    ...section('intents', d.intents, (c: { added: string[]; removed: string[]; other: string[] }) => [
      ...c.added.map((e) => `+ ${e}`),
      ...c.removed.map((e) => `- ${e}`),
      ...c.other,
    ]),
    ...section('entities', d.entities, (c: { lines: string[] }) => c.lines),
    ...section('skills', d.skills, (c: { lines: string[] }) => c.lines),
    ...section('tests', d.tests, (c: { lines: string[] }) => c.lines),
  ];
  return [head, ...(body.length ? body : ['no differences in intents, entities, skills or tests'])].join('\n');
}

/** One line per check (failures with what was expected), then the summary line. */
export function testReportText(r: TestReport): string {
  // "miss": passed, its wrong intent counted in its file's accuracy (minIntentAccuracy) instead.
  const lines = r.checks.map(
    (c) =>
      `${c.passed ? (c.missed ? 'miss' : 'pass') : 'FAIL'}  ${c.file}: ${c.name}${c.detail ? `\n        ${c.detail}` : ''}`,
  );
  const misses = r.checks.filter((c) => c.missed).length;
  const accuracy =
    r.intentAccuracy === null
      ? ''
      : `, intent accuracy ${(r.intentAccuracy * 100).toFixed(1)}% (${r.utterances} utterances)`;
  // Where the training data is thin: the intents not perfectly recognised, and what they were taken for.
  const weak = r.intents.filter((i) => i.precision !== 1 || i.recall !== 1);
  if (weak.length) {
    const pct = (x: number | null) => (x === null ? '   -' : `${Math.round(x * 100)}%`.padStart(4));
    const width = Math.max(6, ...weak.map((i) => i.intent.length));
    lines.push('', `${'intent'.padEnd(width)}  precision  recall  utterances`);
    for (const i of weak)
      lines.push(
        `${i.intent.padEnd(width)}  ${pct(i.precision).padStart(9)}  ${pct(i.recall).padStart(6)}  ${i.expected}`,
      );
    lines.push('', 'mistaken for (expected -> got: utterances):');
    for (const c of r.confusions.slice(0, CONFUSIONS_SHOWN))
      lines.push(
        `  ${c.expected} -> ${c.got}: ${c.count} (${c.texts
          .slice(0, 3)
          .map((t) => JSON.stringify(t))
          .join(', ')}${c.count > 3 ? ', …' : ''})`,
      );
    if (r.confusions.length > CONFUSIONS_SHOWN)
      lines.push(`  … ${r.confusions.length - CONFUSIONS_SHOWN} more (--json has them all)`);
    lines.push('');
  }
  const missNote = misses ? ` (${misses} of them missed, counted in their file's accuracy)` : '';
  lines.push(`${r.ref} (${short(r.commit)}): ${r.passed} passed${missNote}, ${r.failed} failed${accuracy}`);
  return `${lines.join('\n')}\n`;
}

/** Confusions listed in the text report. */
const CONFUSIONS_SHOWN = 10;
