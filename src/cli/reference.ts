import type { Argument, Command, Option } from 'commander';
import { ERROR_TABLE, type ErrorCode } from '../errors.js';
import { BotverCommand } from './command.js';
import { CLI_VARIABLES } from './context.js';

// The command-line reference (docs/cli.md) rendered from the commander definitions themselves,
// so that it cannot drift from what `botver --help` says. scripts/gen-cli-docs.js writes it;
// test/cli-docs.test.ts fails when the file in the repository differs from a fresh rendering.

/** Placeholders such as <version> would read as HTML tags in Markdown: show them as code. */
const prose = (text: string) => text.replace(/([|*])/g, '\\$1').replace(/(<[^<>\s]+>)/g, '`$1`');

const code = (text: string) => `\`${text.replace(/\|/g, '\\|')}\``;

/** The error codes that exit 2, from the one table the CLI's exit codes come from. */
const usageCodes = () => (Object.keys(ERROR_TABLE) as ErrorCode[]).filter((c) => ERROR_TABLE[c].exit === 2);

/** A description as a sentence: capital first letter, full stop. */
const sentence = (text: string) =>
  prose(`${text.charAt(0).toUpperCase()}${text.slice(1)}${text.endsWith('.') ? '' : '.'}`);

/** Every command under `cmd`, depth first, in the order they were registered. */
function commandsOf(cmd: Command): Command[] {
  return cmd.commands.flatMap((sub) => [sub, ...commandsOf(sub)]);
}

function path(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** GitHub's heading anchors: lower case, spaces to dashes, punctuation dropped. */
const anchor = (heading: string) =>
  heading
    .toLowerCase()
    .replace(/[^a-z0-9 -]/g, '')
    .replace(/ /g, '-');

function argumentsTable(args: readonly Argument[]): string[] {
  if (!args.length) return [];
  return [
    '| Argument | Description |',
    '| --- | --- |',
    ...args.map((a) => {
      const name = `${a.name()}${a.variadic ? '...' : ''}`;
      const shown = a.required ? `<${name}>` : `[${name}]`;
      return `| ${code(shown)} | ${prose(a.description)} |`;
    }),
    '',
  ];
}

function optionDetails(o: Option): string {
  const parts = [prose(o.description)];
  if (o.argChoices) parts.push(`(one of ${o.argChoices.map(code).join(', ')})`);
  if (o.mandatory) parts.push('(required)');
  return parts.join(' ');
}

function optionsTable(options: readonly Option[], extraRows: string[] = []): string[] {
  const shown = options.filter((o) => !o.hidden);
  if (!shown.length && !extraRows.length) return [];
  return [
    '| Option | Description | Default |',
    '| --- | --- | --- |',
    ...shown.map((o) => {
      const fallback = o.defaultValueDescription ?? (o.defaultValue === undefined ? '' : String(o.defaultValue));
      return `| ${code(o.flags)} | ${optionDetails(o)} | ${fallback ? code(fallback) : ''} |`;
    }),
    ...extraRows,
    '',
  ];
}

function examples(cmd: Command): string[] {
  if (!(cmd instanceof BotverCommand)) return [];
  const lines: string[] = [];
  if (cmd.exampleLines.length) lines.push('Examples:', '', '```sh', ...cmd.exampleLines, '```', '');
  if (cmd.notes) lines.push(prose(cmd.notes.trim().replace(/\n/g, ' ')), '');
  return lines;
}

function section(cmd: Command): string[] {
  const title = path(cmd);
  const subs = cmd.commands;
  const lines = [`## ${title}`, '', sentence(cmd.description()), ''];
  if (subs.length) {
    lines.push(
      'Commands:',
      '',
      ...subs.map((s) => `- [${path(s)}](#${anchor(path(s))}): ${prose(s.description())}`),
      '',
    );
    return lines;
  }
  lines.push('```', `${title} ${cmd.usage()}`, '```', '');
  lines.push(...argumentsTable(cmd.registeredArguments), ...optionsTable(cmd.options), ...examples(cmd));
  return lines;
}

/** docs/cli.md: the program's description and global options, then one section per command. */
export function renderCliReference(program: Command): string {
  const lines = [
    '# Command-line reference',
    '',
    '<!-- Generated from the commander definitions in src/cli/commands/ by `npm run docs:cli`',
    '     (scripts/gen-cli-docs.js); do not edit by hand: test/cli-docs.test.ts checks it. -->',
    '',
    sentence(program.description()),
    '',
    '```',
    `${program.name()} ${program.usage()}`,
    '```',
    '',
    '## Global options',
    '',
    'These go before the command (`botver --json env list`) or after it (`botver env list --json`);',
    '`-V, --version` and `-h, --help` only before it. Every command also takes `-h, --help`.',
    '',
    ...optionsTable(program.options, ['| `-h, --help` | print the help of botver or of a command |  |']),
    ...examples(program),
    '## Environment variables',
    '',
    '`botver serve` reads more of them: see [botver serve](#botver-serve).',
    '',
    '| Variable | Meaning |',
    '| --- | --- |',
    ...CLI_VARIABLES.map(([names, meaning]) => `| ${names.split(', ').map(code).join(', ')} | ${prose(meaning)} |`),
    '',
    '## Exit codes',
    '',
    '`0`: success. `2`: the command line itself is wrong: an unknown command or option, a missing argument,',
    `or an error coded ${usageCodes().map(code).join(' or ')}. \`1\`: anything else was refused or failed (a rule, a`,
    'conflict, failing tests, validation errors). With `--json`, a failure also prints `{"error": {"code", "message", ...}}`',
    'on stdout.',
    '',
    '## Commands',
    '',
    ...commandsOf(program)
      .filter((c) => !c.commands.length)
      .map((c) => `- [${path(c)}](#${anchor(path(c))}): ${prose(c.description())}`),
    '',
    ...commandsOf(program).flatMap(section),
  ];
  // One blank line at most between blocks, one newline at the end.
  return `${lines
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trimEnd()}\n`;
}
