import type { RefObject } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { type ApiError, del, enc, get, post, put, withQuery } from './api';
import { useData } from './data';
import { linkText, short, when } from './format';
import { Page } from './page';
import { reportsOf, TestReportView } from './report';
import { go, href } from './router';
import type { ActionResult, CommitInfo, CreateResult, Environment, HistoryChange, TestReport } from './types';
import {
  ActionError,
  Committed,
  ConfirmButton,
  commitOf,
  Empty,
  ErrorText,
  Loading,
  focusResult,
  SecretBox,
  StatusBadge,
  TableBox,
} from './ui';

// Environments: the list, and for the chosen one its history and every change an operator
// makes from the CLI (link, promote, roll back, rotate the token, channels, create, delete).
// Each change is one commit on the control branch; the page says which.

interface Outcome {
  commit?: CommitInfo | null;
  warnings?: string[];
  reports?: TestReport[];
  /**
   * A new token or channel secret: kept here until dismissed, nowhere else. `origin`: the id of
   * the control to focus after Dismiss (else the page's heading).
   */
  secret?: { title: string; value: string; kind: 'token' | 'secret'; origin?: string };
  error?: ApiError;
}

const NAME_PATTERN = '[a-z0-9][a-z0-9._\\-]{0,62}';

export function EnvironmentsPage({ name }: { name: string }) {
  const { environments, versions, error, bot, refresh } = useData();
  const [busy, setBusy] = useState<string | null>(null);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  /** Re-reads the shown environment's history (set by History). */
  const reloadHistory = useRef<() => Promise<unknown>>(async () => {});
  const outcomeBox = useRef<HTMLDivElement>(null);
  /** Counts the actions that finished: each moves the focus to its result once. */
  const [finished, setFinished] = useState(0);

  const selected = environments?.find((e) => e.name === name) ?? (name ? undefined : environments?.[0]);

  // Bring the result of an action into view and focus it (the button that was pressed is
  // disabled or gone meanwhile); it is announced (role=status/alert) as well.
  useEffect(() => {
    if (!finished) return;
    outcomeBox.current?.scrollIntoView?.({ block: 'nearest' });
    focusResult(outcomeBox.current);
  }, [finished]);

  // The secret's value leaves the page; the focus goes back to what produced it, or the heading.
  const dismissSecret = () => {
    const origin = outcome?.secret?.origin ? document.getElementById(outcome.secret.origin) : null;
    const target = origin && !(origin as HTMLButtonElement).disabled ? origin : document.querySelector('main h1');
    (target as HTMLElement | null)?.focus();
    setOutcome((o) => o && { ...o, secret: undefined });
  };

  /**
   * Runs one action: a busy message meanwhile, then fresh data and history, then its commit (or
   * error), so that what the page says happened is already on it.
   */
  const act = async (
    busyText: string,
    call: () => Promise<ActionResult>,
    then: (r: ActionResult) => Partial<Outcome> = () => ({}),
  ) => {
    setBusy(busyText);
    setOutcome(null);
    let next: Outcome;
    try {
      const result = await call();
      next = { commit: commitOf(result), warnings: result.warnings, ...then(result) };
    } catch (err) {
      const e = err as ApiError;
      next = { error: e, reports: e.report ? reportsOf(e.report) : undefined };
    }
    await Promise.all([refresh(), reloadHistory.current()]);
    setBusy(null);
    setOutcome(next);
    setFinished((n) => n + 1);
  };

  return (
    <Page title="Environments" bot={bot}>
      <ErrorText error={error} />
      {!environments && !error && <Loading what="environments" />}
      <div ref={outcomeBox} class="outcome">
        <div aria-live="polite">
          {busy && (
            <p class="notice" role="status">
              {busy}
            </p>
          )}
          {outcome && <OutcomeView outcome={outcome} />}
        </div>
        {/* Outside the live region: a screen reader must not read the value out. */}
        {outcome?.secret && (
          <SecretBox title={outcome.secret.title} value={outcome.secret.value} onDismiss={dismissSecret} level={2} />
        )}
      </div>
      {environments && <EnvironmentTable environments={environments} selected={selected?.name ?? ''} />}
      {name && environments && !selected && <ErrorText error={`There is no environment “${name}”.`} />}
      {selected && versions && environments && (
        <EnvironmentDetail
          env={selected}
          environments={environments}
          versionNames={versions.map((v) => v.name)}
          busy={busy !== null}
          act={act}
          reloadHistory={reloadHistory}
        />
      )}
      {versions && (
        <CreateEnvironment
          versionNames={versions.map((v) => v.name)}
          busy={busy !== null}
          onCreate={(body) =>
            act(
              `Creating environment ${body.name}…`,
              () => post<CreateResult>('/v1/environments', body),
              (r) => {
                go('environments', body.name);
                return r.token
                  ? { secret: { title: `Token of environment ${body.name}`, value: String(r.token), kind: 'token' } }
                  : {};
              },
            )
          }
        />
      )}
    </Page>
  );
}

/** What is announced of an action's outcome (the secret itself is not: only that it is shown). */
function OutcomeView({ outcome }: { outcome: Outcome }) {
  return (
    <>
      {outcome.error ? <ActionError error={outcome.error} level={2} /> : <Committed commit={outcome.commit ?? null} />}
      {outcome.warnings?.map((w) => (
        <p key={w} class="notice warn">
          {w}
        </p>
      ))}
      {outcome.reports?.map((r) => (
        <TestReportView
          key={r.commit ?? r.ref}
          report={r}
          title={`Test report of ${r.ref ?? 'the source'}`}
          level={2}
        />
      ))}
      {outcome.secret && <p class="visually-hidden">A new {outcome.secret.kind} is shown below, once.</p>}
    </>
  );
}

/** Said before the click when the resolver follows a remote repository (the 409 then gives the commands). */
function RemoteNote() {
  return useData().writable ? null : (
    <p class="remote-note">Remote repository: gives the commands to run instead of committing.</p>
  );
}

function EnvironmentTable({ environments, selected }: { environments: Environment[]; selected: string }) {
  if (!environments.length) return <Empty>No environments yet.</Empty>;
  return (
    <TableBox label="Environments table">
      <table>
        <caption>All environments</caption>
        <thead>
          <tr>
            <th scope="col">Environment</th>
            <th scope="col">Version</th>
            <th scope="col">Link</th>
            <th scope="col">Serves</th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          {environments.map((e) => (
            <tr key={e.name} class={e.name === selected ? 'selected' : undefined}>
              <th scope="row">
                <a href={href('environments', e.name)} aria-current={e.name === selected ? 'true' : undefined}>
                  {e.name}
                </a>
              </th>
              <td>{e.version}</td>
              <td>{e.pin || e.pinned ? `pinned to ${short(e.pin ?? e.commit)}` : 'follows branch'}</td>
              <td>
                <code>{short(e.commit)}</code>
              </td>
              <td>
                <StatusBadge status={e.status} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableBox>
  );
}

type Act = (
  busy: string,
  call: () => Promise<ActionResult>,
  then?: (r: ActionResult) => Partial<Outcome>,
) => Promise<void>;

function EnvironmentDetail({
  env,
  environments,
  versionNames,
  busy,
  act,
  reloadHistory,
}: {
  env: Environment;
  environments: Environment[];
  versionNames: string[];
  busy: boolean;
  act: Act;
  reloadHistory: RefObject<() => Promise<unknown>>;
}) {
  const path = `/v1/environments/${enc(env.name)}`;
  const [linkTo, setLinkTo] = useState(env.version);
  const [pin, setPin] = useState(false);
  const sources = [
    ...environments.filter((e) => e.name !== env.name).map((e) => ({ name: e.name, kind: 'environment' })),
    ...versionNames.map((v) => ({ name: v, kind: 'version' })),
  ];
  const [from, setFrom] = useState(sources[0]?.name ?? '');
  const [skipTests, setSkipTests] = useState(false);
  const [channel, setChannel] = useState('');

  // Another environment chosen: its own defaults.
  useEffect(() => {
    setPin(false);
    setFrom(environments.find((e) => e.name !== env.name)?.name ?? versionNames[0] ?? '');
    setSkipTests(false);
  }, [env.name]);
  // The link choice starts at what the environment is linked to now, also after a promotion.
  useEffect(() => setLinkTo(env.version), [env.name, env.version]);

  const id = (s: string) => `env-${s}`;
  return (
    <section aria-labelledby="env-title" class="detail">
      <h2 id="env-title">Environment {env.name}</h2>
      {env.description && <p>{env.description}</p>}
      <dl class="facts">
        <dt>Version</dt>
        <dd>{env.version}</dd>
        <dt>Link</dt>
        <dd>{env.pin || env.pinned ? `pinned to ${short(env.pin ?? env.commit)}` : 'follows branch'}</dd>
        <dt>Serves</dt>
        <dd>
          <code>{short(env.commit)}</code>
        </dd>
        <dt>Status</dt>
        <dd>
          <StatusBadge status={env.status} />
          {(env.problems?.length ?? 0) > 0 && (
            <ul class="problems">
              {env.problems!.map((p) => (
                <li key={p}>{p}</li>
              ))}
            </ul>
          )}
        </dd>
      </dl>

      <div class="actions">
        <form
          class="action"
          aria-labelledby={id('link')}
          onSubmit={(e) => {
            e.preventDefault();
            void act(`Linking ${env.name} to ${linkTo}…`, () => put(`${path}/link`, { version: linkTo, pin }));
          }}
        >
          <h3 id={id('link')}>Link to a version</h3>
          <RemoteNote />
          <label for="link-version">Version to link</label>
          <select id="link-version" value={linkTo} onChange={(e) => setLinkTo(e.currentTarget.value)}>
            {versionNames.map((v) => (
              <option key={v} value={v}>
                {v}
              </option>
            ))}
          </select>
          <label class="check">
            <input type="checkbox" checked={pin} onChange={(e) => setPin(e.currentTarget.checked)} /> Pin to the
            version's current commit
          </label>
          <button type="submit" disabled={busy || !linkTo}>
            Link
          </button>
        </form>

        <form
          class="action"
          aria-labelledby={id('promote')}
          onSubmit={(e) => {
            e.preventDefault();
            void act(
              skipTests ? `Promoting ${from} to ${env.name}…` : `Running the tests of ${from}…`,
              () => post(`${path}/promote`, { from, ...(skipTests ? { skipTests: true } : {}) }),
              (r) => ({ reports: reportsOf(r.tests) }),
            );
          }}
        >
          <h3 id={id('promote')}>Promote</h3>
          <RemoteNote />
          <p class="muted">
            Links {env.name} to exactly the commit the source serves now, pinned, after its tests pass.
          </p>
          <label for="promote-from">Promote from</label>
          <select id="promote-from" value={from} onChange={(e) => setFrom(e.currentTarget.value)}>
            <optgroup label="Environments">
              {sources
                .filter((s) => s.kind === 'environment')
                .map((s) => (
                  <option key={`e:${s.name}`} value={s.name}>
                    {s.name}
                  </option>
                ))}
            </optgroup>
            <optgroup label="Versions">
              {versionNames.map((v) => (
                <option key={`v:${v}`} value={v}>
                  {v}
                </option>
              ))}
            </optgroup>
          </select>
          <label class="check">
            <input type="checkbox" checked={skipTests} onChange={(e) => setSkipTests(e.currentTarget.checked)} /> Skip
            the tests
          </label>
          <button type="submit" disabled={busy || !from}>
            Promote
          </button>
        </form>

        <section class="action" aria-labelledby={id('rollback')}>
          <h3 id={id('rollback')}>Roll back</h3>
          <RemoteNote />
          <p class="muted">Restores the link {env.name} had before its latest change, as a new commit.</p>
          <button
            type="button"
            disabled={busy}
            onClick={() => act(`Rolling back ${env.name}…`, () => post(`${path}/rollback`, {}))}
          >
            Roll back
          </button>
        </section>

        <section class="action" aria-labelledby={id('token')}>
          <h3 id={id('token')}>Token</h3>
          <RemoteNote />
          <p class="muted">A new request token; the old one stops working at once.</p>
          <ConfirmButton
            id="rotate-token"
            label="Rotate token"
            confirmLabel="Yes, rotate the token"
            question={`Rotate the token of ${env.name}? Bots using the old token are refused until they get the new one.`}
            disabled={busy}
            onConfirm={() =>
              act(
                `Rotating the token of ${env.name}…`,
                () => post(`${path}/token`, {}),
                (r) =>
                  r.token
                    ? {
                        secret: {
                          title: `New token of environment ${env.name}`,
                          value: String(r.token),
                          kind: 'token',
                          origin: 'rotate-token',
                        },
                      }
                    : {},
              )
            }
          />
        </section>

        <section class="action wide" aria-labelledby={id('channels')}>
          <h3 id={id('channels')}>Channels</h3>
          <RemoteNote />
          {(env.channels?.length ?? 0) === 0 ? (
            <p class="muted">No channels.</p>
          ) : (
            <ul class="channel-list" aria-label={`Channels of ${env.name}`}>
              {env.channels!.map((c) => (
                <li key={c.name}>
                  <span>
                    {c.name} <span class="muted">({c.type})</span>
                  </span>
                  <ConfirmButton
                    label={`Remove channel ${c.name}`}
                    confirmLabel={`Yes, remove ${c.name}`}
                    question={`Remove channel ${c.name}? Its secret stops working.`}
                    disabled={busy}
                    onConfirm={() => act(`Removing channel ${c.name}…`, () => del(`/v1/channels/${enc(c.name)}`))}
                  />
                </li>
              ))}
            </ul>
          )}
          <form
            class="inline-form"
            aria-label="Add a channel"
            onSubmit={(e) => {
              e.preventDefault();
              const n = channel.trim();
              void act(
                `Adding channel ${n}…`,
                () => post(`${path}/channels`, { name: n, type: 'webhook' }),
                (r) => {
                  setChannel('');
                  return r.secret
                    ? {
                        secret: {
                          title: `Secret of channel ${n}`,
                          value: String(r.secret),
                          kind: 'secret',
                          origin: 'channel-name',
                        },
                      }
                    : {};
                },
              );
            }}
          >
            <div class="field">
              <label for="channel-name">Channel name</label>
              <input
                id="channel-name"
                required
                pattern={NAME_PATTERN}
                aria-describedby="name-rule"
                value={channel}
                onInput={(e) => setChannel(e.currentTarget.value)}
              />
            </div>
            <div class="field">
              <label for="channel-type">Channel type</label>
              <select id="channel-type">
                <option value="webhook">webhook</option>
              </select>
            </div>
            <button type="submit" disabled={busy || !channel.trim()}>
              Add channel
            </button>
          </form>
          <p id="name-rule" class="muted">
            Names: lower-case letters, digits, “.”, “_” and “-”, starting with a letter or digit; unique across the bot.
          </p>
        </section>

        {env.name !== 'production' && (
          <section class="action" aria-labelledby={id('delete')}>
            <h3 id={id('delete')}>Delete</h3>
            <RemoteNote />
            <p class="muted">Removes {env.name} from the manifest; its token and channels stop working.</p>
            <ConfirmButton
              label="Delete environment"
              confirmLabel={`Yes, delete ${env.name}`}
              question={`Delete environment ${env.name}?`}
              disabled={busy}
              onConfirm={() =>
                act(
                  `Deleting ${env.name}…`,
                  () => del(path),
                  () => {
                    go('environments');
                    return {};
                  },
                )
              }
            />
          </section>
        )}
      </div>

      <History name={env.name} reloader={reloadHistory} />
    </section>
  );
}

function History({ name, reloader }: { name: string; reloader: RefObject<() => Promise<unknown>> }) {
  const [changes, setChanges] = useState<HistoryChange[] | null>(null);
  const [error, setError] = useState<Error | null>(null);
  useEffect(() => {
    let live = true;
    const load = () =>
      get<{ changes: HistoryChange[] }>(withQuery(`/v1/environments/${enc(name)}/history`, { limit: 50 })).then(
        (h) => {
          if (!live) return;
          setChanges(h.changes ?? []);
          setError(null);
        },
        (e) => live && setError(e as Error),
      );
    reloader.current = load;
    void load();
    return () => {
      live = false;
    };
  }, [name]);
  return (
    <section aria-labelledby="history-title">
      <h3 id="history-title">History of {name}</h3>
      <p class="muted">
        Changes of the link (version or pin) of {name}, newest first. Token and channel changes are not link changes and
        are not listed (as in botver history).
      </p>
      <ErrorText error={error} />
      {!changes && !error && <Loading what="history" />}
      {changes?.length === 0 && <Empty>No changes yet.</Empty>}
      {changes && changes.length > 0 && (
        <TableBox label="History table">
          <table>
            <caption class="visually-hidden">History of {name}, newest first</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">From → to</th>
                <th scope="col">Commit</th>
                <th scope="col">Message</th>
              </tr>
            </thead>
            <tbody>
              {changes.map((c) => (
                <tr key={c.commit}>
                  <td>
                    <time dateTime={c.date}>{when(c.date)}</time>
                  </td>
                  <td class="author">{c.author}</td>
                  <td>
                    {linkText(c.from)} → {linkText(c.to)}
                  </td>
                  <td>
                    <code>{short(c.commit)}</code>
                  </td>
                  <td class="wrap">{c.message}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableBox>
      )}
    </section>
  );
}

function CreateEnvironment({
  versionNames,
  busy,
  onCreate,
}: {
  versionNames: string[];
  busy: boolean;
  onCreate: (body: { name: string; version: string; pin?: boolean }) => void;
}) {
  const [name, setName] = useState('');
  const [version, setVersion] = useState(versionNames[0] ?? '');
  const [pin, setPin] = useState(false);
  useEffect(() => {
    if (!versionNames.includes(version)) setVersion(versionNames[0] ?? '');
  }, [versionNames.join(' ')]);
  return (
    <section aria-labelledby="create-title">
      <h2 id="create-title">Create an environment</h2>
      <RemoteNote />
      <form
        class="inline-form"
        aria-labelledby="create-title"
        onSubmit={(e) => {
          e.preventDefault();
          onCreate({ name: name.trim(), version, ...(pin ? { pin: true } : {}) });
          setName('');
        }}
      >
        <div class="field">
          <label for="create-name">New environment name</label>
          <input
            id="create-name"
            required
            pattern={NAME_PATTERN}
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="create-version">Version of the new environment</label>
          <select id="create-version" value={version} onChange={(e) => setVersion(e.currentTarget.value)}>
            {versionNames.map((v) => (
              <option key={v} value={v}>
                {v}
              </option>
            ))}
          </select>
        </div>
        <label class="check">
          <input type="checkbox" checked={pin} onChange={(e) => setPin(e.currentTarget.checked)} /> Pin the new
          environment to its version's current commit
        </label>
        <button type="submit" disabled={busy || !name.trim() || !version}>
          Create environment
        </button>
      </form>
    </section>
  );
}
