import { Command, type ErrorOptions, Option } from 'commander';

// commander's Command with what botver's help and its generated reference (docs/cli.md) need:
// examples and notes kept as data (commander keeps help text only as print listeners), and a
// missing-argument error that names the argument by what it means, not by its placeholder.

export class BotverCommand extends Command {
  /** Command lines shown under "Examples:" in --help and in docs/cli.md. */
  exampleLines: string[] = [];
  /** Free text shown after the examples. */
  notes = '';

  override createCommand(name?: string): BotverCommand {
    return new BotverCommand(name);
  }

  /** Sets the examples (and notes) shown after the options in --help. */
  examples(lines: string[], notes = ''): this {
    this.exampleLines = lines;
    this.notes = notes;
    const text = lines.length ? `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n` : '';
    return this.addHelpText('after', `${text}${notes ? `${notes.endsWith('\n') ? notes : `${notes}\n`}` : ''}`);
  }

  /** "botver env set <environment> <version>": the command path and its arguments. */
  synopsis(): string {
    const path: string[] = [];
    for (let c: Command | null = this; c; c = c.parent) path.unshift(c.name());
    const args = this.registeredArguments.map((a) => {
      const name = `${a.name()}${a.variadic ? '...' : ''}`;
      return a.required ? `<${name}>` : `[${name}]`;
    });
    return [...path, ...args].join(' ');
  }

  // commander says "missing required argument 'b'"; botver says which argument and what it is:
  // "missing the second ref to compare (<b>): botver diff <a> <b>". Hooked on error(), which
  // is public API, rather than on commander's private missingArgument().
  override error(message: string, errorOptions?: ErrorOptions): never {
    if (errorOptions?.code === 'commander.missingArgument') {
      const missing = this.registeredArguments.find((a, i) => a.required && this.args[i] == null);
      if (missing?.description) {
        return super.error(
          `error: missing ${missing.description} (<${missing.name()}>): ${this.synopsis()}`,
          errorOptions,
        );
      }
    }
    return super.error(message, errorOptions);
  }
}

/**
 * Options every command accepts. The program declares them; each subcommand gets hidden copies
 * so that they may also follow the command (`botver env list --json`) while program options
 * are positional, which keeps the program's `--version` apart from `env create --version`.
 */
export function globalOptions(): Option[] {
  return [
    new Option('--repo <path>', 'the bot repository (work tree or bare); default: $BOTVER_REPO or the current folder'),
    new Option('--json', 'print one JSON document instead of text'),
    new Option(
      '--control-branch <branch>',
      'branch holding environments.yaml (default: $BOTVER_CONTROL_BRANCH or main)',
    ),
    new Option('--author <"Name <email>">', 'author of the commits made (default: GIT_AUTHOR_* or git config)'),
    new Option(
      '--remote-name <remote>',
      'in a clone, the remote whose branches stand in for missing version branches, and where --push goes (default: $BOTVER_REMOTE_NAME or origin)',
    ),
    new Option(
      '--push',
      'after a change, push the branches it changed to the remote (git push --atomic); without it the command prints that git push',
    ),
  ];
}

/** Gives every subcommand of `program` hidden copies of the global options. */
export function acceptGlobalOptionsEverywhere(program: Command): void {
  const visit = (cmd: Command) => {
    for (const sub of cmd.commands) {
      for (const option of globalOptions()) sub.addOption(option.hideHelp());
      visit(sub);
    }
  };
  visit(program);
}

/** The secret-printing commands all say the same thing about it. */
export const shownOnce = (what: string) => `${what} (shown once: store it now, botver keeps only its SHA-256)`;
