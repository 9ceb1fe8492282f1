import type { VersionContent } from '../content/version-content.js';
import type { Problem } from '../errors.js';
import type { Analysis, TrainingInput } from './engine.js';
import { ModelStore, type StoreLog } from './model-store.js';

// Which NLU model answers for a version or environment: the model of the commit it serves, or,
// while that one trains, the last model it answered with (the previous good one). Models are
// asked for on every change of what is served, so training starts as soon as a commit is served.

/**
 * What the service follows: what each version and environment serves now, in the bot's
 * language (null while nothing is served). The resolver's state is one; the NLU knows no more
 * of the resolver than this.
 */
export interface ServedContents {
  readonly snapshot: {
    readonly language: string;
    readonly versions: ReadonlyMap<string, { readonly name: string; readonly content: VersionContent | null }>;
    readonly environments: ReadonlyMap<
      string,
      { readonly name: string; readonly version: string; readonly content: VersionContent | null }
    >;
  } | null;
}

/** What answers a message: a trained model (NluModel), or anything that analyses like one. */
export interface Analyser {
  analyse(text: string, language?: string): Promise<Analysis>;
}

export interface ModelChoice {
  model: Analyser;
  /** The commit the model was trained on (an older one while the current trains). */
  commit: string;
  /** The version that commit was served as (an environment promoted meanwhile names another). */
  version: string;
}

/** A served commit whose model could not be trained, with what answers instead (null: nothing). */
export interface FailedModel {
  /** "version:v1", "environment:production". */
  key: string;
  commit: string;
  error: string;
  serving: string | null;
}

/**
 * A served commit whose model file in the disk cache could not be read or written: the model
 * answers from memory (so the resolver stays ready), and is trained again after a restart.
 * Shaped as a /readyz problem (scope "model"), its file relative to the git directory.
 */
export interface ModelWarning {
  scope: 'model';
  /** "version:v1", "environment:production". */
  name: string;
  commit: string;
  serving: string | null;
  errors: Problem[];
}

/** What the resolver's routes and probes ask of the NLU (NluService; tests give their own). */
export interface NluProvider {
  /** The model answering for `key` ("version:v1", "environment:production") serving `content`; null while none is trained. */
  choose(key: string, content: VersionContent, version: string): Promise<ModelChoice | null>;
  /** The model of exactly this commit, trained first if it is not (a conversation keeps its commit). */
  modelFor(commit: string, input: () => TrainingInput): Promise<Analyser>;
  /** Why the commit's model could not be trained, or null. */
  failure(commit: string): string | null;
  /** Served commits whose model is being trained. */
  training(): string[];
  /** Versions and environments ("version:v1") that have no model to answer with yet. */
  waiting(): string[];
  failed(): FailedModel[];
  /** Served commits whose model file could not be used (the model answers from memory). */
  warnings?(): ModelWarning[];
}

export class NluService implements NluProvider {
  private readonly store: ModelStore;
  private readonly lastGood = new Map<string, { commit: string; version: string }>();
  private served: ServedContents | null = null;

  constructor(options: {
    gitdir: string;
    logger: StoreLog;
    onChange?: () => void;
    capacity?: number;
    /** One training's time limit, ms (default 30 minutes): past it the training fails. */
    trainingTimeoutMs?: number;
    /** One training's heap limit, MB (default 2048). */
    trainingMemoryMb?: number;
  }) {
    this.store = new ModelStore({
      gitdir: options.gitdir,
      logger: options.logger,
      capacity: options.capacity,
      trainingTimeoutMs: options.trainingTimeoutMs,
      trainingMemoryMb: options.trainingMemoryMb,
      onSettled: () => {
        this.remember();
        options.onChange?.();
      },
    });
  }

  /** Starts training (or loading) the models of everything served. */
  follow(served: ServedContents): void {
    this.served = served;
    for (const [, content, language] of this.contents()) {
      if (content.bundle) this.store.ensure(content.commit, () => ({ bundle: content.bundle!, language }));
    }
    this.remember();
  }

  /** Records the trained models as the last good ones (called on every change and every trained model). */
  remember(): void {
    for (const [key, content, , version] of this.contents()) {
      if (this.store.has(content.commit)) this.lastGood.set(key, { commit: content.commit, version });
    }
  }

  waiting(): string[] {
    return this.contents()
      .filter(([key]) => !this.lastGood.has(key))
      .map(([key]) => key);
  }

  failed(): FailedModel[] {
    const out: FailedModel[] = [];
    for (const [key, content] of this.contents()) {
      const error = this.store.failure(content.commit);
      if (error) out.push({ key, commit: content.commit, error, serving: this.lastGood.get(key)?.commit ?? null });
    }
    return out;
  }

  failure(commit: string): string | null {
    return this.store.failure(commit);
  }

  warnings(): ModelWarning[] {
    const out: ModelWarning[] = [];
    for (const [key, content] of this.contents()) {
      const fault = this.store.cacheFault(content.commit);
      if (!fault) continue;
      const message =
        `the NLU model cache file cannot be ${fault.operation === 'read' ? 'read' : 'written'} (${fault.error}); ` +
        'the model is kept in memory and trained again after a restart';
      out.push({
        scope: 'model',
        name: key,
        commit: content.commit,
        serving: this.lastGood.get(key)?.commit ?? null,
        errors: [{ file: fault.file, line: 1, column: 1, message, severity: 'warning' }],
      });
    }
    return out;
  }

  /** Resolves once no model is training: awaits the trainings, polls nothing. */
  async idle(): Promise<void> {
    await this.store.idle();
    this.remember();
  }

  modelFor(commit: string, input: () => TrainingInput): Promise<Analyser> {
    return this.store.get(commit, input);
  }

  async choose(key: string, content: VersionContent, version: string): Promise<ModelChoice | null> {
    let choice: { commit: string; version: string } | undefined;
    if (this.store.has(content.commit)) {
      choice = { commit: content.commit, version };
      this.lastGood.set(key, choice);
    } else {
      this.train(content);
      choice = this.lastGood.get(key);
    }
    if (!choice) return null;
    try {
      return { ...choice, model: await this.store.load(choice.commit) };
    } catch {
      // An unreadable cache file: it was dropped and the model is trained again meanwhile.
      this.lastGood.delete(key);
      this.train(content);
      return null;
    }
  }

  training(): string[] {
    return this.store.training;
  }

  close(): Promise<void> {
    return this.store.close();
  }

  /** Starts training the content's model (in the bot's language) unless it is trained or training. */
  private train(content: VersionContent): void {
    const language = this.served?.snapshot?.language;
    if (content.bundle && language) this.store.ensure(content.commit, () => ({ bundle: content.bundle!, language }));
  }

  /** [key, content, language, version] of everything served. */
  private contents(): [string, VersionContent, string, string][] {
    const snapshot = this.served?.snapshot;
    if (!snapshot) return [];
    const out: [string, VersionContent, string, string][] = [];
    for (const v of snapshot.versions.values())
      if (v.content) out.push([`version:${v.name}`, v.content, snapshot.language, v.name]);
    for (const e of snapshot.environments.values())
      if (e.content) out.push([`environment:${e.name}`, e.content, snapshot.language, e.version]);
    return out;
  }
}
