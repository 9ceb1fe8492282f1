// The shapes the admin API answers (see /work/console-contract.md). Fields the server may not
// send yet are optional: the pages render what is there.

export interface ServerInfo {
  bot?: string;
  controlBranch?: string;
  manifestCommit?: string;
  writable?: boolean;
  remote?: string | null;
}

export interface Channel {
  name: string;
  type: string;
}

export interface Environment {
  name: string;
  description?: string | null;
  version: string;
  /** The pinned commit; null: follows its version's branch. */
  pin?: string | null;
  pinned?: boolean;
  /** The commit served now. */
  commit?: string | null;
  status?: string;
  problems?: string[];
  channels?: Channel[];
  requestsLastHour?: number;
  /** The count stopped at the log's capacity: there were at least that many. */
  requestsLastHourCapped?: boolean;
  /** The latest test result known for the commit it serves; null: none. */
  tests?: TestSummary | null;
}

export interface EnvironmentList {
  bot?: string;
  manifestCommit?: string;
  environments: Environment[];
}

export interface TestSummary {
  ref?: string;
  commit?: string;
  passed: boolean;
  total?: number;
  failed?: number;
  intentAccuracy?: number | null;
  summary?: string;
  at?: string;
}

export interface Version {
  name: string;
  description?: string | null;
  createdFrom?: string | null;
  head?: string | null;
  commit?: string | null;
  status?: string;
  environments?: string[];
  warnings?: number;
  tests?: TestSummary | null;
}

export interface VersionList {
  bot?: string;
  manifestCommit?: string;
  versions: Version[];
}

export interface TestCheck {
  file: string;
  name: string;
  passed: boolean;
  detail?: string;
  missed?: boolean;
}

/** `botver test`'s report; `passed` is a count there, a boolean in the /test route's summary. */
export interface TestReport {
  ref?: string;
  commit?: string;
  checks?: TestCheck[];
  passed?: number | boolean;
  failed?: number;
  total?: number;
  summary?: string;
  utterances?: number;
  intentAccuracy?: number | null;
  intents?: { intent: string; expected: number; predicted: number; right: number }[];
  confusions?: { expected: string; got: string; count: number; texts: string[] }[];
}

export interface CommitInfo {
  id: string;
  message: string;
  author?: string;
}

/** What every action answers, besides its own fields. */
export interface ActionResult {
  commit?: CommitInfo | string | null;
  manifestCommit?: string | null;
  token?: string;
  secret?: string;
  tests?: unknown;
  warnings?: string[];
  [key: string]: unknown;
}

/** POST /v1/environments: `commit` is the commit made, `pin` the pinned commit (null: follows its branch). */
export interface CreateResult extends ActionResult {
  name?: string;
  version?: string;
  pin?: string | null;
}

export interface Link {
  version: string;
  commit?: string;
}

export interface HistoryChange {
  commit: string;
  date: string;
  author: string;
  from: Link | null;
  to: Link | null;
  message: string;
}

export interface LogEntry {
  time: string;
  environment: string | null;
  version: string | null;
  commit: string | null;
  method: string;
  route: string;
  status: number;
  latencyMs: number;
  intent?: string | null;
  confidence?: number;
  skill?: string | null;
}

export interface LogAnswer {
  entries: LogEntry[];
  scope?: string;
  warning?: string;
}

export interface UsageDay {
  day: string;
  total: number;
  byRoute?: Record<string, number>;
  byStatus?: Record<string, number>;
  byIntent?: Record<string, number>;
  nlu?: number;
  fallbacks?: number;
  latency?: { p50?: number; p95?: number; p99?: number };
  byEnvironment?: Record<string, number>;
  byVersion?: Record<string, number>;
}

export interface UsageAnswer {
  days: UsageDay[];
  scope?: string;
  warning?: string;
}

/** A diff section; `changed` holds expression changes (intents) or item changes (the others). */
export interface DiffSection {
  added?: string[];
  removed?: string[];
  changed?: {
    slug: string;
    added?: string[];
    removed?: string[];
    other?: string[];
    lines?: string[];
    changes?: string[];
  }[];
}

export interface ContentDiff {
  a?: { name: string; commit?: string; kind?: string };
  b?: { name: string; commit?: string; kind?: string };
  intents?: DiffSection;
  entities?: DiffSection;
  skills?: DiffSection;
  tests?: DiffSection;
}
