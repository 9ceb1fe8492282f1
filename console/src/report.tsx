import { percent, plural, short } from './format';
import type { TestReport } from './types';
import { TableBox } from './ui';

// A tests report: counts, then the failed (and missed) checks with what was expected. Used
// by "Run tests" (Versions) and by a promotion (Environments), whether it passed or not.

/** The reports in whatever the server sent: one report, `{reports: [...]}` or a list. */
export function reportsOf(value: unknown): TestReport[] {
  if (!value || typeof value !== 'object') return [];
  if (Array.isArray(value)) return value.flatMap(reportsOf);
  const v = value as { reports?: unknown; checks?: unknown; passed?: unknown };
  if (Array.isArray(v.reports)) return v.reports.flatMap(reportsOf);
  if (Array.isArray(v.checks) || v.passed !== undefined) return [value as TestReport];
  return [];
}

function counts(r: TestReport) {
  const checks = r.checks ?? [];
  const failed = r.failed ?? checks.filter((c) => !c.passed).length;
  const passed = typeof r.passed === 'number' ? r.passed : checks.filter((c) => c.passed).length;
  const total = r.total ?? (checks.length || passed + failed);
  return { passed, failed, total };
}

export function TestReportView({ report, title, level = 3 }: { report: TestReport; title: string; level?: 2 | 3 }) {
  const H = level === 2 ? 'h2' : 'h3';
  const { passed, failed, total } = counts(report);
  const problems = (report.checks ?? []).filter((c) => !c.passed || c.missed);
  const ok = failed === 0;
  return (
    <section class={`report ${ok ? 'ok' : 'bad'}`} aria-label={title}>
      {/* Focused when it is the result of "Run tests" (focusResult). */}
      <H tabIndex={-1} data-focus="">
        {title}
      </H>
      <p>
        <strong>{ok ? 'Passed' : 'Failed'}:</strong> {plural(passed, 'check')} passed, {failed} failed
        {total ? ` of ${total}` : ''}
        {report.commit ? ` at ${short(report.commit)}` : ''}.
        {report.intentAccuracy != null && ` Intent accuracy ${percent(report.intentAccuracy)}.`}
      </p>
      {report.summary && <p>{report.summary}</p>}
      {total === 0 && <p>Nothing was checked: this version has no tests (tests/*.yaml).</p>}
      {problems.length > 0 && (
        <TableBox label={`${title}: failed checks`}>
          <table>
            <caption>{ok ? 'Checks to look at' : 'Failed checks'}</caption>
            <thead>
              <tr>
                <th scope="col">File</th>
                <th scope="col">Check</th>
                <th scope="col">Result</th>
                <th scope="col">Detail</th>
              </tr>
            </thead>
            <tbody>
              {problems.map((c) => (
                <tr key={`${c.file}:${c.name}`}>
                  <td>{c.file}</td>
                  <td>{c.name}</td>
                  <td>{c.passed ? 'missed intent' : 'failed'}</td>
                  <td class="wrap">{c.detail ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableBox>
      )}
      {(report.confusions?.length ?? 0) > 0 && (
        <details>
          <summary>Intents taken for others ({report.confusions!.length})</summary>
          <ul>
            {report.confusions!.map((c) => (
              <li key={`${c.expected}>${c.got}`}>
                {c.expected} taken for {c.got} ({c.count}×): {c.texts.slice(0, 3).join(' · ')}
              </li>
            ))}
          </ul>
        </details>
      )}
    </section>
  );
}
