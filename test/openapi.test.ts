import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createResolverApp } from '../src/resolver/app.js';
import { createLogger } from '../src/resolver/monitoring/logger.js';
import { exampleBotRepo, ROOT } from './helpers.js';
import { ADMIN_TOKEN, serve } from './resolver-helpers.js';

// docs/openapi.yaml is the HTTP API's reference, and the resolver serves it at /openapi.json.
// It must list exactly the routes the resolver answers: the Express app's router stack, walked
// here, plus GET /v1/resolve, which fast-resolve.ts answers before Express (Express registers it
// too). A route added without documenting it (or documented and removed) fails this test.

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

type Json = Record<string, unknown>;

interface RouteLayer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: { stack?: RouteLayer[] };
}

/** "METHOD /path" of every route in an Express 5 router stack, nested routers included. */
function registeredRoutes(stack: RouteLayer[]): string[] {
  const out: string[] = [];
  for (const layer of stack) {
    if (layer.route) {
      const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
      // `_all` is the 405 answer of each route (`.all(methodNotAllowed)`), not an operation.
      const methods = Object.keys(layer.route.methods).filter((m) => m !== '_all');
      for (const path of paths) for (const method of methods) out.push(`${method.toUpperCase()} ${openapiPath(path)}`);
    } else if (layer.handle?.stack) {
      out.push(...registeredRoutes(layer.handle.stack));
    }
  }
  return out;
}

/** Express's `/v1/channels/:name/webhook` and `/v1/files/*path` as OpenAPI's `{name}`, `{path}`. */
const openapiPath = (path: string) => path.replace(/[:*]([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}');

/** Every "#/…" $ref in the document, to check that each points at something. */
function refs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const item of node) refs(item, out);
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') out.push(value);
      else refs(value, out);
    }
  }
  return out;
}

function pointer(doc: Json, ref: string): unknown {
  return ref
    .slice(2)
    .split('/')
    .reduce<unknown>((node, part) => (node as Json | undefined)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
}

describe('the OpenAPI document (docs/openapi.yaml, served at /openapi.json)', () => {
  it('is served as JSON, equal to the YAML file, and is structurally OpenAPI 3.1', async () => {
    const resolver = await serve(await exampleBotRepo());
    const res = await fetch(`${resolver.url}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const doc = (await res.json()) as Json;
    expect(doc).toEqual(parse(readFileSync(join(ROOT, 'docs', 'openapi.yaml'), 'utf8')));

    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    const info = doc.info as Json;
    expect(typeof info.title).toBe('string');
    expect(typeof info.version).toBe('string');
    expect(info.version).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
    const paths = doc.paths as Record<string, Json>;
    expect(Object.keys(paths).length).toBeGreaterThan(0);
    const schemes = Object.keys((doc.components as Json).securitySchemes as Json);
    const operationIds = new Set<string>();
    for (const [path, item] of Object.entries(paths)) {
      expect(path.startsWith('/'), path).toBe(true);
      const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      for (const method of METHODS) {
        const operation = item[method] as Json | undefined;
        if (!operation) continue;
        const where = `${method.toUpperCase()} ${path}`;
        expect(Object.keys(operation.responses as Json).length, where).toBeGreaterThan(0);
        expect(operationIds.has(operation.operationId as string), where).toBe(false);
        operationIds.add(operation.operationId as string);
        // Every path parameter is declared, on the path or on the operation.
        const declared = [...((item.parameters as Json[]) ?? []), ...((operation.parameters as Json[]) ?? [])]
          .map((p) => (p.$ref ? (pointer(doc, p.$ref as string) as Json) : p))
          .filter((p) => p.in === 'path')
          .map((p) => p.name);
        expect(declared.sort(), where).toEqual([...templated].sort());
        for (const requirement of (operation.security as Json[]) ?? [])
          for (const scheme of Object.keys(requirement)) expect(schemes, where).toContain(scheme);
      }
    }
    for (const ref of refs(doc)) {
      expect(ref.startsWith('#/'), ref).toBe(true);
      expect(pointer(doc, ref), ref).toBeDefined();
    }
  });

  it('documents exactly the routes the resolver registers', async () => {
    const resolver = await serve(await exampleBotRepo());
    const doc = (await (await fetch(`${resolver.url}/openapi.json`)).json()) as { paths: Record<string, Json> };
    const documented = Object.entries(doc.paths).flatMap(([path, item]) =>
      METHODS.filter((m) => item[m]).map((m) => `${m.toUpperCase()} ${path}`),
    );

    // The same app the resolver runs (NLU routes included), built from its parts.
    const app = createResolverApp({
      live: resolver.live,
      monitoring: resolver.monitoring,
      logger: createLogger({ level: 'silent' }),
      adminToken: ADMIN_TOKEN,
      nlu: resolver.nlu,
    });
    const stack = (app as unknown as { router: { stack: RouteLayer[] } }).router.stack;
    const registered = [...registeredRoutes(stack), 'GET /v1/resolve' /* fast-resolve.ts, before Express */];

    expect(new Set(registered).size).toBeGreaterThan(10); // the walk found the routers' routes
    expect([...new Set(documented)].sort()).toEqual([...new Set(registered)].sort());
  });
});
