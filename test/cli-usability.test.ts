import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Command } from 'commander';
import { buildProgram } from '../src/cli/program.js';
import { BIN, botver, newBotRepo, ok, ROOT, TEST_ENV } from './helpers.js';

// What a new user meets first: the version, usage errors that say what is missing, global
// flags wherever they are put, and `npx botver` from a checkout.

const packageVersion = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;

function runProcess(command: string, args: string[], cwd = ROOT) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
    execFile(command, args, { cwd, env: { ...process.env, ...TEST_ENV } }, (err, stdout, stderr) =>
      done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe('botver --version', () => {
  it("prints the package's version, in-process and from the built binary", async () => {
    expect(await botver(null, '--version')).toEqual({ code: 0, stdout: `${packageVersion}\n`, stderr: '' });
    expect((await botver(null, '-V')).stdout).toBe(`${packageVersion}\n`);
    expect(await runProcess(process.execPath, [BIN, '--version'])).toEqual({
      code: 0,
      stdout: `${packageVersion}\n`,
      stderr: '',
    });
  });

  it('leaves the --version options of commands alone', async () => {
    const { dir } = await newBotRepo();
    const created = await ok(dir, 'env', 'create', 'staging', '--version', 'v1', '--json');
    expect(created).toMatchObject({ name: 'staging', version: 'v1' });
    const rotated = await ok(dir, 'token', 'rotate', '--version', 'v1', '--json');
    expect(rotated).toMatchObject({ kind: 'version', name: 'v1' });
  });
});

describe('global options', () => {
  it('work before and after the command', async () => {
    const { dir } = await newBotRepo();
    const before = await botver(null, '--repo', dir, '--json', 'env', 'list');
    const after = await botver(null, 'env', 'list', '--repo', dir, '--json');
    expect(after).toEqual(before);
    expect(JSON.parse(before.stdout)[0]).toMatchObject({ name: 'production', version: 'v1' });
  });
});

describe('a missing argument', () => {
  it('is named by what it is, with the command line it belongs to', async () => {
    expect(await botver(null, 'diff', 'v1')).toEqual({
      code: 2,
      stdout: '',
      stderr: 'error: missing the second ref to compare (<b>): botver diff <a> <b>\n(run with --help for usage)\n',
    });
    const json = await botver(null, '--json', 'diff', 'v1');
    expect(JSON.parse(json.stdout)).toEqual({
      error: { code: 'USAGE', message: 'missing the second ref to compare (<b>): botver diff <a> <b>' },
    });
  });

  it('reads well for every argument of every command', async () => {
    const leaves = (cmd: Command, path: string[]): { path: string[]; required: number; options: string[] }[] =>
      cmd.commands.flatMap((c) =>
        c.commands.length
          ? leaves(c, [...path, c.name()])
          : [
              {
                path: [...path, c.name()],
                required: c.registeredArguments.filter((a) => a.required).length,
                // Required options are checked first (commander: "required option … not specified").
                options: c.options.filter((o) => o.mandatory).flatMap((o) => [o.long!, 'x']),
              },
            ],
      );
    const withArguments = leaves(buildProgram(), []).filter((c) => c.required);
    expect(withArguments.length).toBeGreaterThan(10);
    for (const { path, required, options } of withArguments) {
      // Every prefix of the required arguments: each missing one in turn.
      for (let given = 0; given < required; given++) {
        const r = await botver(null, ...path, ...options, ...Array.from({ length: given }, (_, i) => `arg${i}`));
        expect(r.code, path.join(' ')).toBe(2);
        expect(r.stderr.split('\n')[0], path.join(' ')).toMatch(
          new RegExp(`^error: missing the [a-z ]+ \\(<[a-z]+>\\): botver ${path.join(' ')} <`),
        );
      }
    }
  });
});

describe('from the checkout', () => {
  it('npx botver runs the package’s own binary (no download)', async () => {
    const r = await runProcess('npx', ['--offline', 'botver', '--help']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Usage: botver \[options\] \[command\]/);
  });

  it('a reader that closes the pipe early ends botver quietly', async () => {
    const child = spawn(process.execPath, [BIN, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    // Closed before botver has started: its first write meets a closed pipe (EPIPE).
    child.stdout.destroy();
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => void (stderr += chunk));
    const code = await new Promise<number | null>((done) => child.on('close', done));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  });
});
