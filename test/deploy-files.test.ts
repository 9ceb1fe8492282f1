import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { buildProgram } from '../src/cli/program.js';
import { CLI_VARIABLES } from '../src/cli/context.js';
import { SERVE_VARIABLES } from '../src/cli/commands/serve.js';
import { ROOT } from './helpers.js';

// The packaging (Dockerfile, deploy/compose.yaml, deploy/kubernetes/) cannot drift from the CLI:
// every option it passes to `botver serve` is one the command has, every BOTVER_ variable it sets
// is one botver reads, and the probes it points at are routes the resolver answers.

const serve = buildProgram().commands.find((c) => c.name() === 'serve')!;
const serveFlags = new Set(serve.options.flatMap((o) => [o.long, o.short]).filter(Boolean) as string[]);
const readVariables = new Set([...CLI_VARIABLES.flatMap(([names]) => names.split(/,\s*/)), ...SERVE_VARIABLES]);

/** `--flag` words of an argument list. */
const flagsOf = (args: string[]) => args.filter((a) => a.startsWith('--')).map((a) => a.split('=')[0]!);

describe('deploy files and the CLI agree', () => {
  it('the Dockerfile runs botver serve with options it has, checks /healthz, and runs as a non-root user', () => {
    const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const entry = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(text)![1]!) as string[];
    expect(entry.slice(entry.indexOf('serve') - 1, entry.indexOf('serve') + 1)).toEqual([
      '/app/bin/botver.js',
      'serve',
    ]);
    for (const flag of flagsOf(entry.slice(entry.indexOf('serve') + 1))) expect(serveFlags, flag).toContain(flag);
    expect(text).toMatch(/^HEALTHCHECK .*\n?.*\/healthz/m);
    expect(text).toMatch(/^USER node$/m);
    for (const name of text.match(/\bBOTVER_[A-Z_]+/g) ?? []) expect(readVariables, name).toContain(name);
  });

  it('deploy/compose.yaml: the command and the environment of the replicas', () => {
    const compose = parseAllDocuments(readFileSync(join(ROOT, 'deploy/compose.yaml'), 'utf8'))[0]!.toJS() as {
      services: Record<
        string,
        { command?: string[]; environment?: Record<string, string>; deploy?: { replicas: number } }
      >;
    };
    const botver = compose.services.botver!;
    expect(botver.deploy?.replicas).toBe(3);
    for (const flag of flagsOf(botver.command ?? [])) expect(serveFlags, flag).toContain(flag);
    const env = readFileSync(join(ROOT, 'deploy/fleet.env.example'), 'utf8');
    const names = [...Object.keys(botver.environment ?? {}), ...[...env.matchAll(/^(\w+)=/gm)].map((m) => m[1]!)];
    expect(names.length).toBeGreaterThan(3);
    for (const name of names) expect(readVariables, name).toContain(name);
  });

  it('deploy/kubernetes/: arguments, variables and probes', () => {
    const dir = join(ROOT, 'deploy/kubernetes');
    const docs = readdirSync(dir).flatMap((f) =>
      parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJS() as Record<string, any>),
    );
    const kinds = docs.map((d) => d.kind).sort();
    expect(kinds).toEqual(['Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Secret', 'Service']);
    const container = docs.find((d) => d.kind === 'Deployment')!.spec.template.spec.containers[0];
    for (const flag of flagsOf(container.args)) expect(serveFlags, flag).toContain(flag);
    for (const { name } of container.env as { name: string }[])
      if (name !== 'PORT') expect(readVariables, name).toContain(name);
    // Liveness on /healthz; readiness on what serves, not on every version's head being valid.
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container.readinessProbe.httpGet.path).toBe('/readyz?probe=serving');
    // Secrets come from the Secret, never inline.
    for (const e of container.env as { name: string; value?: string }[])
      if (/TOKEN|SECRET/.test(e.name)) expect(e.value, e.name).toBeUndefined();
  });
});
