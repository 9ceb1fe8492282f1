// The library API: everything the CLI does, importable and typed.
export * from './errors.js';
export {
  openBotRepo,
  resolveOpenOptions,
  BotRepo,
  type OpenOptions,
  type ResolvedOpenOptions,
  type Env,
  type ManifestAt,
} from './ops/bot-repo.js';
export { initBotRepo, type InitOptions, type InitResult } from './ops/init.js';
export { listVersions, showVersion, createVersion, deleteVersion, type VersionInfo } from './ops/versions.js';
export {
  listEnvironments,
  showEnvironment,
  createEnvironment,
  setEnvironment,
  deleteEnvironment,
  promote,
  describeLink,
  type EnvironmentInfo,
  type Link,
  type PinChoice,
} from './ops/environments.js';
export { environmentHistory, rollbackEnvironment, type LinkChange } from './ops/history.js';
export { rotateToken, addChannel, removeChannel, type TokenOwner } from './ops/credentials.js';
export { validate, type ValidationReport, type ValidationTarget } from './ops/validate.js';
export { commitFiles, type CommittedFiles } from './ops/content-commit.js';
export { diffContent, diffBundles, isEmptyDiff, type ContentDiff } from './ops/diff.js';
export { loadBundle, type Bundle, type ContentFile } from './content/bundle.js';
export { BUILTIN_ENTITIES } from './content/rules.js';
export { DEFAULT_LIMITS, resolveLimits, type ContentLimits } from './content/limits.js';
export { ManifestDoc, MANIFEST_FILE, PRODUCTION } from './manifest/manifest.js';
export { GitRepo } from './git/repo.js';
export { generateToken, sha256Hex, matchesHash } from './model/tokens.js';
export type * from './content/types.js';
export { startResolver, type RunningResolver } from './resolver/server.js';
export { resolveResolverOptions, type ResolverOptions, type ResolvedResolverOptions } from './resolver/options.js';
export { createResolverApp, type ResolverAppDeps } from './resolver/app.js';
export type {
  Snapshot,
  ReadinessProblem,
  ServingStatus,
  ResolverState,
  SnapshotSource,
} from './resolver/snapshot.js';
export type { Monitoring } from './resolver/monitoring/index.js';
export type { BundleData, VersionContent } from './content/version-content.js';
export {
  createResolverClient,
  ResolverClientError,
  type ResolverClient,
  type ResolverClientOptions,
  type Resolved,
  type ResolveResult,
} from './client/resolver-client.js';
export { testVersion, type TestReport, type TestCheck } from './ops/test-version.js';
export { testRefs, type TestRun, type TestPolicy } from './ops/test-gate.js';
export { promotionSource, type PromoteOptions, type PromoteResult } from './ops/environments.js';
export {
  MemoryConversationStore,
  DEFAULT_CONVERSATION_BYTES,
  type ConversationStore,
  type ConversationStoreStats,
  type Conversation,
} from './dialog/store.js';
export { MAX_MEMORY_BYTES, MAX_MEMORY_DEPTH } from './dialog/limits.js';
export { runTurn, emptyState, type DialogState, type NlpResults, type Turn } from './dialog/engine.js';
export { trainModel, NluModel, type Analysis, type EntityMatch } from './nlu/engine.js';
export {
  NluService,
  type NluProvider,
  type Analyser,
  type ModelChoice,
  type FailedModel,
  type ModelWarning,
  type ServedContents,
} from './nlu/nlu-service.js';
export { DEFAULT_TRAINING_MEMORY_MB, DEFAULT_TRAINING_TIMEOUT_MS } from './nlu/train-runner.js';
