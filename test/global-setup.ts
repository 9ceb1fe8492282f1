import type { TestProject } from 'vitest/node';
import { buildTemplates, type ExampleTemplates } from './example-template.js';

// Once per run, before any test file: the example bot's templates (with its tokens, and a copy
// with its NLU models trained), which test files copy instead of each building its own.

declare module 'vitest' {
  export interface ProvidedContext {
    example: ExampleTemplates;
  }
}

export default async function setup(project: TestProject): Promise<() => void> {
  const { templates, remove } = await buildTemplates();
  project.provide('example', templates);
  return remove;
}
