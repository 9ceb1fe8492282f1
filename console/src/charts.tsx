import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { TableBox } from './ui';

// Per-day line charts (uPlot on a canvas) with their text alternatives: a one-sentence summary
// as the chart's accessible name, and the numbers in a table under "Show the data".

/** Line colours, each at least 3:1 against the white background (WCAG non-text contrast). */
export const COLORS = ['#1f5fbf', '#b3261e', '#1b7a3b', '#7b3fa8', '#9a5700', '#00707a', '#5c5c5c', '#c2185b'];

export interface Series {
  label: string;
  values: (number | null)[];
}

const dayLabel = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', timeZone: 'UTC' });

/** Seconds since the epoch of a "YYYY-MM-DD" day's UTC midnight: uPlot's time axis unit. */
function daySeconds(day: string): number {
  return Date.parse(`${day}T00:00:00Z`) / 1000;
}

export function LineChart({
  id,
  title,
  days,
  series,
  format,
  summary,
}: {
  id: string;
  title: string;
  days: string[];
  series: Series[];
  format: (n: number) => string;
  summary: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el || !days.length) return;
    const width = () => Math.max(260, el.clientWidth);
    const xs = days.map(daySeconds);
    const plot = new uPlot(
      {
        width: width(),
        height: 220,
        // Days are UTC days: axis ticks fall on UTC midnights whatever the browser's zone.
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
        legend: { show: false }, // the legend is HTML below, readable without the canvas
        cursor: { drag: { x: false, y: false } },
        scales: {
          // Half a day on each side: one day alone would otherwise get a range of years.
          x: { time: true, auto: false, range: [xs[0]! - 43_200, xs[xs.length - 1]! + 43_200] },
          // From 0, a tenth above the highest value: counts, rates and latencies are never negative,
          // and a series of zeros (no fallback at all) still gets a readable axis.
          y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
        },
        axes: [
          {
            stroke: '#333',
            grid: { stroke: '#e4e4e4' },
            // Ticks on whole days only: the data is per day, hours would mean nothing.
            incrs: [1, 2, 7, 14, 30, 61, 91, 182, 365].map((d) => d * 86_400),
            values: (_u, ticks) => ticks.map((t) => dayLabel.format(t * 1000)),
          },
          { stroke: '#333', grid: { stroke: '#e4e4e4' }, values: (_u, ticks) => ticks.map(format), size: 72 },
        ],
        series: [
          {},
          ...series.map((s, i) => ({
            label: s.label,
            stroke: COLORS[i % COLORS.length],
            width: 2,
            points: { show: days.length < 40 },
            spanGaps: false,
          })),
        ],
      },
      [xs, ...series.map((s) => s.values)] as uPlot.AlignedData,
      el,
    );
    // Follows its box's width: cards stack on a phone, the window is resized.
    const resize = new ResizeObserver(() => plot.setSize({ width: width(), height: 220 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [days.join(), JSON.stringify(series)]);

  return (
    <figure class="chart" aria-labelledby={`${id}-title`}>
      <figcaption>
        <h3 id={`${id}-title`}>{title}</h3>
        <p class="muted">{summary}</p>
      </figcaption>
      <div ref={box} class="plot" role="img" aria-label={`${title}: ${summary}`} />
      {series.length > 1 && (
        <ul class="legend" aria-label={`${title}: legend`}>
          {series.map((s, i) => (
            <li key={s.label}>
              <span class="swatch" aria-hidden="true" style={{ background: COLORS[i % COLORS.length] }} />
              {s.label}
            </li>
          ))}
        </ul>
      )}
      <details>
        <summary>Show the data of “{title}”</summary>
        <TableBox label={`${title}: data`}>
          <table>
            <thead>
              <tr>
                <th scope="col">Day</th>
                {series.map((s) => (
                  <th key={s.label} scope="col">
                    {s.label}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {days.map((d, i) => (
                <tr key={d}>
                  <th scope="row">{d}</th>
                  {series.map((s) => {
                    const v = s.values[i];
                    return <td key={s.label}>{v == null ? '—' : format(v)}</td>;
                  })}
                </tr>
              ))}
            </tbody>
          </table>
        </TableBox>
      </details>
    </figure>
  );
}

/** A horizontal bar list: plain HTML, so it needs no separate text alternative. */
export function BarList({
  title,
  items,
  id,
  empty = 'No intents detected yet.',
  note,
}: {
  title: string;
  items: { label: string; value: number }[];
  id: string;
  /** Said when there are no items. */
  empty?: string;
  /** A short remark under the heading, e.g. what the counts leave out. */
  note?: string;
}) {
  const max = Math.max(1, ...items.map((i) => i.value));
  return (
    <section class="chart" aria-labelledby={`${id}-title`}>
      <h3 id={`${id}-title`}>{title}</h3>
      {note && <p class="muted chart-note">{note}</p>}
      {items.length === 0 ? (
        <p class="empty">{empty}</p>
      ) : (
        <ol class="bars" aria-labelledby={`${id}-title`}>
          {items.map((i) => (
            <li key={i.label} class="bar-row">
              <span class="bar-label">{i.label}</span>
              <span class="bar-track" aria-hidden="true">
                <span class="bar" style={{ width: `${(i.value / max) * 100}%` }} />
              </span>
              <span class="bar-value">{i.value.toLocaleString('en-US')}</span>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
