import { useEffect, useState } from 'preact/hooks';
import { get, withQuery } from './api';
import { useData } from './data';
import { short } from './format';
import { Page } from './page';
import { go, href } from './router';
import type { ContentDiff, DiffSection } from './types';
import { Empty, ErrorText, Loading, TableBox } from './ui';

// The semantic diff of two versions or environments, side by side: what the left one has that
// the right one lacks (removed) next to what the right one adds.

/** Two labelled selects (versions and environments) that open #/diff?from=A&to=B. */
export function DiffForm({ from, to }: { from: string; to: string }) {
  const { versions, environments } = useData();
  const [a, setA] = useState(from);
  const [b, setB] = useState(to);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => setA(from), [from]);
  useEffect(() => setB(to), [to]);
  // A new choice: the complaint about the old one goes.
  useEffect(() => setProblem(null), [a, b]);
  const options = (
    <>
      <option value="">Choose…</option>
      <optgroup label="Versions">
        {versions?.map((v) => (
          <option key={v.name} value={v.name}>
            {v.name}
          </option>
        ))}
      </optgroup>
      <optgroup label="Environments">
        {environments?.map((e) => (
          <option key={e.name} value={e.name}>
            {e.name}
          </option>
        ))}
      </optgroup>
    </>
  );
  return (
    <form
      class="inline-form"
      aria-label="Compare"
      onSubmit={(e) => {
        e.preventDefault();
        if (a && a === b) setProblem('Choose two different ones.');
        else if (a && b) go('diff', '', { from: a, to: b });
      }}
    >
      <div class="field">
        <label for="diff-from">Compare from</label>
        <select id="diff-from" value={a} onChange={(e) => setA(e.currentTarget.value)}>
          {options}
        </select>
      </div>
      <div class="field">
        <label for="diff-to">Compare to</label>
        <select id="diff-to" value={b} onChange={(e) => setB(e.currentTarget.value)}>
          {options}
        </select>
      </div>
      <button type="submit" disabled={!a || !b}>
        Compare
      </button>
      {problem && (
        <p class="error compare-problem" role="alert">
          {problem}
        </p>
      )}
    </form>
  );
}

interface Row {
  label: string;
  removed: string[];
  added: string[];
  /** Changes in words that are neither side's. */
  notes: string[];
}

/** Unified diff lines ("-x", "+y") split to their side; headers and context lines dropped. */
function splitLines(lines: string[], row: Row): void {
  for (const line of lines) {
    if (line.startsWith('---') || line.startsWith('+++') || line.startsWith('@@') || line.startsWith(' ')) continue;
    if (line.startsWith('-')) row.removed.push(line.slice(1));
    else if (line.startsWith('+')) row.added.push(line.slice(1));
    else if (line.trim()) row.notes.push(line);
  }
}

function rowsOf(section: DiffSection | undefined, what: string): Row[] {
  if (!section) return [];
  const rows: Row[] = [];
  if (section.removed?.length || section.added?.length)
    rows.push({ label: `Whole ${what}`, removed: section.removed ?? [], added: section.added ?? [], notes: [] });
  for (const c of section.changed ?? []) {
    const row: Row = { label: c.slug, removed: [...(c.removed ?? [])], added: [...(c.added ?? [])], notes: [] };
    splitLines([...(c.other ?? []), ...(c.lines ?? []), ...(c.changes ?? [])], row);
    rows.push(row);
  }
  return rows;
}

const SECTIONS = [
  { key: 'intents', title: 'Intents', what: 'intents', detail: 'expressions' },
  { key: 'entities', title: 'Entities', what: 'entities', detail: 'lines' },
  { key: 'skills', title: 'Skills', what: 'skills', detail: 'lines' },
  { key: 'tests', title: 'Tests', what: 'test files', detail: 'lines' },
] as const;

function Lines({ items, sign }: { items: string[]; sign: '−' | '+' }) {
  if (!items.length) return null; // an empty cell: style.css draws a dash
  return (
    <ul class={`diff-lines ${sign === '+' ? 'plus' : 'minus'}`}>
      {items.map((x, i) => (
        <li key={i}>
          <span aria-hidden="true">{sign} </span>
          {x}
        </li>
      ))}
    </ul>
  );
}

export function DiffPage({ from, to }: { from: string; to: string }) {
  const { bot } = useData();
  const [diff, setDiff] = useState<ContentDiff | null>(null);
  const [error, setError] = useState<Error | null>(null);

  useEffect(() => {
    setDiff(null);
    setError(null);
    if (!from || !to) return;
    let live = true;
    get<ContentDiff>(withQuery('/v1/diff', { from, to })).then(
      (d) => live && setDiff(d),
      (e) => live && setError(e as Error),
    );
    return () => {
      live = false;
    };
  }, [from, to]);

  const sections = diff ? SECTIONS.map((s) => ({ ...s, rows: rowsOf(diff[s.key], s.what) })) : [];
  const same = diff && sections.every((s) => s.rows.length === 0);
  const left = diff?.a?.name ?? from;
  const right = diff?.b?.name ?? to;

  return (
    <Page title={from && to ? `Diff of ${from} and ${to}` : 'Diff'} bot={bot}>
      <p>
        <a href={href('versions')}>Back to versions</a>
      </p>
      <DiffForm from={from} to={to} />
      {(!from || !to) && <p>Choose two versions or environments to compare.</p>}
      <ErrorText error={error} />
      {from && to && !diff && !error && <Loading what="the diff" />}
      {diff && (
        <p>
          From <strong>{left}</strong> <code>{short(diff.a?.commit)}</code> to <strong>{right}</strong>{' '}
          <code>{short(diff.b?.commit)}</code>: on the left what {left} has and {right} has not (removed), on the right
          what {right} adds.
        </p>
      )}
      {same && <Empty>No differences.</Empty>}
      {sections
        .filter((s) => s.rows.length)
        .map((s) => (
          <section key={s.key} aria-labelledby={`diff-${s.key}`}>
            <h2 id={`diff-${s.key}`}>{s.title}</h2>
            <TableBox label={`${s.title} differences`}>
              <table class="diff">
                <thead>
                  <tr>
                    <th scope="col">{s.title.replace(/s$/, '')}</th>
                    <th scope="col">Removed (in {left} only)</th>
                    <th scope="col">Added (in {right} only)</th>
                  </tr>
                </thead>
                <tbody>
                  {s.rows.map((r) => (
                    <tr key={r.label}>
                      <th scope="row">{r.label}</th>
                      <td>
                        <Lines items={r.removed} sign="−" />
                      </td>
                      <td>
                        <Lines items={r.added} sign="+" />
                        {r.notes.length > 0 && (
                          <ul class="diff-lines">
                            {r.notes.map((n) => (
                              <li key={n}>{n}</li>
                            ))}
                          </ul>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableBox>
          </section>
        ))}
    </Page>
  );
}
