// Small formatting helpers shared by the pages.

/** The 7-character form of a commit id, as git shows it; "—" for none. */
export function short(commit: string | null | undefined): string {
  return commit ? commit.slice(0, 7) : '—';
}

/** "7 Dec 2026, 05:37:09 CET": with the zone's short name, so that a time is never ambiguous. */
const dateTime = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'long' });
const timeOnly = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit' });

/** A date and time in the operator's time zone, named; the raw text when it does not parse. */
export function when(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dateTime.format(d);
}

export function clock(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : timeOnly.format(d);
}

export function count(n: number | undefined | null): string {
  return n == null ? '—' : n.toLocaleString('en-US');
}

export function ms(n: number | undefined | null): string {
  if (n == null || !Number.isFinite(n)) return '—';
  return n < 10 ? `${n.toFixed(1)} ms` : `${Math.round(n)} ms`;
}

export function percent(x: number | null | undefined): string {
  return x == null || !Number.isFinite(x) ? '—' : `${(x * 100).toFixed(1)} %`;
}

/** "production → v2 @abc1234"-style link text. */
export function linkText(link: { version: string; commit?: string } | null): string {
  if (!link) return '(none)';
  return link.commit ? `${link.version} @${short(link.commit)}` : link.version;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}
