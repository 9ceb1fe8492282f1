import type { Logger } from 'pino';
import type { ResolverState } from '../resolver/live-snapshot.js';
import type { VersionContent } from '../resolver/version-content.js';
import { ModelStore } from './model-store.js';
import type { NluModel } from './engine.js';

// Which NLU model answers for a version or environment: the model of the commit it serves, or,
// while that one trains, the last model it answered with (the previous good one). Models are
// asked for on every snapshot change, so training starts as soon as a commit is served.

export interface ModelChoice {
  model: NluModel;
  /** The commit the model was trained on (an older one while the current trains). */
  commit: string;
  /** The version that commit was served as (an environment promoted meanwhile names another). */
  version: string;
}

export class NluService {
  readonly store: ModelStore;
  private readonly lastGood = new Map<string, { commit: string; version: string }>();
  private state: ResolverState | null = null;

  constructor(options: { gitdir: string; logger: Logger; onChange?: () => void }) {
    this.store = new ModelStore({
      gitdir: options.gitdir,
      logger: options.logger,
      onSettled: () => {
        this.remember();
        options.onChange?.();
      },
    });
  }

  /** Starts training (or loading) the models of everything the state serves. */
  follow(state: ResolverState): void {
    this.state = state;
    for (const [, content, language] of this.served()) {
      if (content.bundle) this.store.ensure(content.commit, () => ({ bundle: content.bundle!, language }));
    }
    this.remember();
  }

  /** Records the trained models as the last good ones (called on every change and every trained model). */
  remember(): void {
    for (const [key, content, , version] of this.served()) {
      if (this.store.has(content.commit)) this.lastGood.set(key, { commit: content.commit, version });
    }
  }

  /** Versions and environments ("version:v1") that have no model to answer with yet. */
  waiting(): string[] {
    return this.served()
      .filter(([key]) => !this.lastGood.has(key))
      .map(([key]) => key);
  }

  /** Served commits whose model could not be trained, with what answers instead (null: nothing). */
  failed(): { key: string; commit: string; error: string; serving: string | null }[] {
    const out = [];
    for (const [key, content] of this.served()) {
      const error = this.store.failure(content.commit);
      if (error) out.push({ key, commit: content.commit, error, serving: this.lastGood.get(key)?.commit ?? null });
    }
    return out;
  }

  /** Resolves once no served commit's model is training. */
  async idle(): Promise<void> {
    while (this.store.training.length > 0) await new Promise((r) => setTimeout(r, 20));
    this.remember();
  }

  /** [key, content, language, version] of everything the snapshot serves. */
  private served(): [string, VersionContent, string, string][] {
    const snapshot = this.state?.snapshot;
    if (!snapshot) return [];
    const out: [string, VersionContent, string, string][] = [];
    for (const v of snapshot.versions.values())
      if (v.content) out.push([`version:${v.name}`, v.content, snapshot.language, v.name]);
    for (const e of snapshot.environments.values())
      if (e.content) out.push([`environment:${e.name}`, e.content, snapshot.language, e.version]);
    return out;
  }

  /** The model for `key` ("version:v1", "environment:production") serving `content`, or null while none is trained. */
  async modelFor(key: string, content: VersionContent, version: string): Promise<ModelChoice | null> {
    let choice: { commit: string; version: string } | undefined;
    if (this.store.has(content.commit)) {
      choice = { commit: content.commit, version };
      this.lastGood.set(key, choice);
    } else {
      if (content.bundle && this.state?.snapshot)
        this.store.ensure(content.commit, () => ({
          bundle: content.bundle!,
          language: this.state!.snapshot!.language,
        }));
      choice = this.lastGood.get(key);
    }
    if (!choice) return null;
    try {
      return { ...choice, model: await this.store.load(choice.commit) };
    } catch {
      // An unreadable cache file: it was dropped and the model is trained again meanwhile.
      this.lastGood.delete(key);
      if (content.bundle && this.state?.snapshot)
        this.store.ensure(content.commit, () => ({
          bundle: content.bundle!,
          language: this.state!.snapshot!.language,
        }));
      return null;
    }
  }

  /** Commits served now whose model is not ready yet. */
  training(): string[] {
    return this.store.training;
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
