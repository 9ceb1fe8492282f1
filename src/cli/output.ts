import { formatProblem, type Problem } from '../errors.js';

// Where a command's result goes: human-readable text, or exactly one JSON document on stdout
// with --json. Commands build both from the same data.

export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
}

export const processIo: Io = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

export class Output {
  constructor(
    readonly json: boolean,
    readonly io: Io = processIo,
  ) {}

  /**
   * One result: `data` as JSON, or the human text. Warnings the library returned with it (a
   * `warnings` list: a work tree that could not follow, a version without tests) go to stderr
   * first, one `botver: warning: …` line each, whatever the output format.
   */
  result(data: unknown, human: () => string): void {
    printWarnings(this.io, warningsOf(data));
    if (this.json) this.io.stdout(`${JSON.stringify(data, null, 2)}\n`);
    else {
      const text = human();
      if (text) this.io.stdout(text.endsWith('\n') ? text : `${text}\n`);
    }
  }
}

export const short = (oid: string | null | undefined) => (oid ? oid.slice(0, 7) : '-');

/** Aligns rows of cells into columns. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '))
    .join('\n');
}

/** GitHub Actions workflow commands, so problems show up as annotations on the pull request. */
export function githubAnnotation(p: Problem): string {
  const escapeData = (s: string) => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
  const prop = (s: string) => escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
  const level = p.severity === 'warning' ? 'warning' : 'error';
  return `::${level} file=${prop(p.file)},line=${p.line},col=${p.column},title=${prop(`botver ${p.ref ?? ''}`.trim())}::${escapeData(p.message)}`;
}

export { formatProblem };

function warningsOf(data: unknown): string[] {
  const warnings = data && typeof data === 'object' ? (data as { warnings?: unknown }).warnings : undefined;
  return Array.isArray(warnings) ? warnings.filter((w): w is string => typeof w === 'string') : [];
}

function printWarnings(io: Io, warnings: readonly string[]): void {
  for (const w of warnings) io.stderr(`botver: warning: ${w}\n`);
}
