import { useData } from './data';
import { count, short } from './format';
import { Page } from './page';
import { href } from './router';
import { Empty, ErrorText, Loading, StatusBadge, TestsResult } from './ui';

// One card per environment: what it serves, whether that is healthy, and how busy it is.

export function OverviewPage() {
  const { environments, error, bot } = useData();
  return (
    <Page title="Overview" bot={bot}>
      <ErrorText error={error} />
      {!environments && !error && <Loading what="environments" />}
      {environments?.length === 0 && <Empty>No environments yet.</Empty>}
      {environments && environments.length > 0 && (
        <ul class="cards" aria-label="Environments">
          {environments.map((e) => {
            const pin = e.pin ?? (e.pinned ? e.commit : null);
            const channels = e.channels ?? [];
            return (
              <li key={e.name} class="card">
                <article aria-labelledby={`card-${e.name}`}>
                  <h2 id={`card-${e.name}`}>
                    <a href={href('environments', e.name)}>{e.name}</a>
                  </h2>
                  {e.description && <p class="muted">{e.description}</p>}
                  <dl class="facts">
                    <dt>Version</dt>
                    <dd>{e.version}</dd>
                    <dt>Link</dt>
                    <dd>{pin || e.pinned ? `pinned to ${short(pin)}` : 'follows branch'}</dd>
                    <dt>Serves</dt>
                    <dd>
                      <code>{short(e.commit)}</code>
                    </dd>
                    <dt>Status</dt>
                    <dd>
                      <StatusBadge status={e.status} />
                    </dd>
                    <dt>Tests</dt>
                    <dd>
                      <TestsResult tests={e.tests} />
                    </dd>
                    <dt>Channels</dt>
                    <dd>{channels.length ? channels.map((c) => `${c.name} (${c.type})`).join(', ') : 'none'}</dd>
                    <dt>Requests, last hour</dt>
                    <dd>
                      {e.requestsLastHourCapped ? 'at least ' : ''}
                      {count(e.requestsLastHour)}
                    </dd>
                  </dl>
                  {(e.problems?.length ?? 0) > 0 && (
                    <ul class="problems" aria-label={`Problems of ${e.name}`}>
                      {e.problems!.map((p) => (
                        <li key={p}>{p}</li>
                      ))}
                    </ul>
                  )}
                </article>
              </li>
            );
          })}
        </ul>
      )}
    </Page>
  );
}
