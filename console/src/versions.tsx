import { useEffect, useRef, useState } from 'preact/hooks';
import { type ApiError, enc, post } from './api';
import { useData } from './data';
import { DiffForm } from './diff';
import { short } from './format';
import { Page } from './page';
import { href } from './router';
import { reportsOf, TestReportView } from './report';
import type { TestReport } from './types';
import { ActionError, Empty, ErrorText, focusResult, Loading, StatusBadge, TableBox, TestsResult } from './ui';

// The versions (branches): what each is, where it runs, its tests; and the way to a diff.

export function VersionsPage() {
  const { versions, error, bot, version: shown, setVersion, refresh } = useData();
  const [running, setRunning] = useState<string | null>(null);
  const [result, setResult] = useState<{ version: string; reports: TestReport[] } | null>(null);
  const [runError, setRunError] = useState<ApiError | null>(null);
  /** Counts finished runs: each moves the focus to its report (or error), the button being disabled meanwhile. */
  const [finished, setFinished] = useState(0);
  const results = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (finished) focusResult(results.current);
  }, [finished]);

  const runTests = async (name: string) => {
    setRunning(name);
    setResult(null);
    setRunError(null);
    try {
      const answer = await post<unknown>(`/v1/versions/${enc(name)}/test`);
      setResult({ version: name, reports: reportsOf(answer) });
      void refresh();
    } catch (err) {
      const e = err as ApiError;
      // Failing tests are a report too, not only an error.
      if (e.report) setResult({ version: name, reports: reportsOf(e.report) });
      else setRunError(e);
    } finally {
      setRunning(null);
      setFinished((n) => n + 1);
    }
  };

  const rows = versions?.filter((v) => !shown || v.name === shown) ?? null;
  return (
    <Page title="Versions" bot={bot}>
      <ErrorText error={error} />
      {!versions && !error && <Loading what="versions" />}
      {shown && (
        <p class="notice">
          Showing version {shown} only.{' '}
          <button type="button" class="link" onClick={() => setVersion('')}>
            Show all versions
          </button>
        </p>
      )}
      {rows && rows.length === 0 && <Empty>No versions yet.</Empty>}
      {rows && rows.length > 0 && (
        <TableBox label="Versions table">
          <table>
            <caption>Versions of {bot || 'the bot'}</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                {/* Right after the name: on a phone the button shows without scrolling the table. */}
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
                <th scope="col">Head</th>
                <th scope="col">Description</th>
                <th scope="col">Created from</th>
                <th scope="col">Environments</th>
                <th scope="col">Status</th>
                <th scope="col">Tests</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((v) => (
                <tr key={v.name}>
                  <th scope="row">{v.name}</th>
                  <td>
                    <button
                      type="button"
                      aria-label={`Run tests of ${v.name}`}
                      disabled={running !== null}
                      onClick={() => runTests(v.name)}
                    >
                      {running === v.name ? 'Running…' : 'Run tests'}
                    </button>
                  </td>
                  <td>
                    <code>{short(v.head ?? v.commit)}</code>
                  </td>
                  <td class="wrap">{v.description ?? ''}</td>
                  <td>{v.createdFrom ?? '—'}</td>
                  <td>
                    {v.environments?.length
                      ? v.environments.map((e, i) => (
                          <span key={e}>
                            {i > 0 && ', '}
                            <a href={href('environments', e)}>{e}</a>
                          </span>
                        ))
                      : '—'}
                  </td>
                  <td>
                    <StatusBadge status={v.status} />
                    {(v.warnings ?? 0) > 0 && <span class="muted"> {v.warnings} warnings</span>}
                  </td>
                  <td>
                    <TestsResult tests={v.tests} commit />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableBox>
      )}
      <div ref={results}>
        <div aria-live="polite">
          {running && <p role="status">Running the tests of {running}…</p>}
          {result &&
            (result.reports.length ? (
              result.reports.map((r) => (
                <TestReportView
                  key={r.commit ?? r.ref}
                  report={r}
                  title={`Test report of ${r.ref ?? result.version}`}
                  level={2}
                />
              ))
            ) : (
              <p role="status" tabIndex={-1} data-focus="">
                The tests of {result.version} ran; the server sent no report.
              </p>
            ))}
        </div>
        <ActionError error={runError} level={2} />
      </div>
      <section aria-labelledby="compare-title">
        <h2 id="compare-title">Compare two versions</h2>
        <p class="muted">Any version or environment: see which intents, entities, skills and tests differ.</p>
        <DiffForm from={shown} to="" />
      </section>
    </Page>
  );
}
