import type { ComponentChildren } from 'preact';
import { useEffect, useId, useRef, useState } from 'preact/hooks';
import type { ApiError } from './api';
import { short, when } from './format';
import type { CommitInfo, TestSummary } from './types';

// Building blocks shared by the pages: loading/empty/error states, a scrolling table box, the
// "committed" notice, the once-shown secret box and the commands box for a remote repository.

export function Loading({ what = '' }: { what?: string }) {
  return (
    <p class="muted" role="status">
      Loading{what ? ` ${what}` : ''}…
    </p>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

/**
 * Focus on an action's result inside `box`, so a keyboard user continues from there: the
 * once-shown secret's heading if there is one, else the first result (status, error, report).
 */
export function focusResult(box: HTMLElement | null): void {
  const target =
    box?.querySelector<HTMLElement>('[data-focus="first"]') ?? box?.querySelector<HTMLElement>('[data-focus]');
  target?.focus();
}

/** `result`: an action's outcome, which takes the focus (see focusResult). */
export function ErrorText({ error, result }: { error: unknown; result?: boolean }) {
  if (!error) return null;
  const message = error instanceof Error ? error.message : String(error);
  return (
    <p class="error" role="alert" tabIndex={result ? -1 : undefined} data-focus={result ? '' : undefined}>
      {message}
    </p>
  );
}

/** A table's box: scrolls sideways inside itself on a phone; focusable so keys can scroll it. */
export function TableBox({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard
    <section class="table-box" aria-label={label} tabIndex={0}>
      {children}
    </section>
  );
}

export function commitOf(result: { commit?: CommitInfo | string | null; manifestCommit?: string | null }) {
  const c = result.commit ?? result.manifestCommit ?? null;
  if (!c) return null;
  return typeof c === 'string' ? { id: c, message: '' } : c;
}

/** "Committed abc1234: <message>", or that nothing needed a commit. */
export function Committed({ commit }: { commit: CommitInfo | null }) {
  return (
    <p class="notice" role="status" tabIndex={-1} data-focus="">
      {commit ? (
        <>
          Committed <code>{short(commit.id)}</code>
          {commit.message ? `: ${commit.message}` : ''}
        </>
      ) : (
        'Nothing to commit: it was already so.'
      )}
    </p>
  );
}

/**
 * A new token or channel secret, shown once. The value lives only in the parent's state until
 * "Dismiss" drops it; it is never stored.
 */
export function SecretBox({
  title,
  value,
  onDismiss,
  level = 3,
}: {
  title: string;
  value: string;
  onDismiss: () => void;
  level?: 2 | 3;
}) {
  const H = level === 2 ? 'h2' : 'h3';
  const [copied, setCopied] = useState<string | null>(null);
  const id = useId();
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied('Copied.');
    } catch {
      setCopied('Copying failed: select the text and copy it yourself.');
    }
  };
  return (
    <section class="secret" aria-labelledby={id}>
      <H id={id} tabIndex={-1} data-focus="first">
        {title} (shown once)
      </H>
      <p>This is shown once: copy it now and keep it safe. botver stores only its SHA-256.</p>
      <p>
        <code class="secret-value">{value}</code>
      </p>
      <div class="row">
        <button type="button" onClick={copy}>
          Copy
        </button>
        <button type="button" class="secondary" onClick={onDismiss}>
          Dismiss
        </button>
        {copied && <span role="status">{copied}</span>}
      </div>
    </section>
  );
}

/** The repository is followed from a Git host: the change is made with the CLI, then pushed. */
export function Commands({ commands, intro, level = 3 }: { commands: string[]; intro?: string; level?: 2 | 3 }) {
  const id = useId();
  const H = level === 2 ? 'h2' : 'h3';
  return (
    <section class="commands" aria-labelledby={id}>
      <H id={id} tabIndex={-1} data-focus="">
        Commands to run
      </H>
      <p>
        {intro ??
          'This resolver follows a remote Git repository, so the console cannot commit. Run these commands in a clone, then push:'}
      </p>
      <pre>{commands.join('\n')}</pre>
    </section>
  );
}

/** A remote-repository refusal shows its commands; any other error, its message. */
export function ActionError({ error, level }: { error: ApiError | Error | null; level?: 2 | 3 }) {
  if (!error) return null;
  const commands = (error as ApiError).commands;
  if (commands?.length) return <Commands commands={commands} level={level} />;
  return <ErrorText error={error} result />;
}

/** A button that asks once more, in the page, before a destructive action. */
export function ConfirmButton({
  id,
  label,
  confirmLabel,
  question,
  disabled,
  onConfirm,
}: {
  /** The first button's id (to bring the focus back to it later). */
  id?: string;
  label: string;
  confirmLabel: string;
  question: string;
  disabled?: boolean;
  onConfirm: () => void;
}) {
  const [asking, setAsking] = useState(false);
  const yes = useRef<HTMLButtonElement>(null);
  const first = useRef<HTMLButtonElement>(null);
  const asked = useRef(false);
  // Focus follows the question and comes back after it, so the keyboard user never loses it.
  useEffect(() => {
    if (asking) yes.current?.focus();
    else if (asked.current) first.current?.focus();
    asked.current = asking;
  }, [asking]);
  if (!asking)
    return (
      <button ref={first} id={id} type="button" class="danger" disabled={disabled} onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  return (
    <fieldset class="confirm">
      <legend>{question}</legend>
      <button
        type="button"
        class="danger"
        ref={yes}
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
      >
        {confirmLabel}
      </button>
      <button type="button" class="secondary" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </fieldset>
  );
}

export function StatusBadge({ status }: { status?: string }) {
  const s = status ?? 'unknown';
  const tone = s === 'ok' ? 'ok' : s === 'unavailable' || s === 'failed' ? 'bad' : 'warn';
  return <span class={`badge ${tone}`}>{s}</span>;
}

/** "passed (N)", "failed F of N" or "not run"; with `commit`, "… at abc1234". */
export function TestsResult({ tests: t, commit }: { tests?: TestSummary | null; commit?: boolean }) {
  if (!t) return <span class="muted">not run</span>;
  const text = t.passed
    ? `passed${t.total != null ? ` (${t.total})` : ''}`
    : `failed ${t.failed ?? 0}${t.total != null ? ` of ${t.total}` : ''}`;
  return (
    <span class={t.passed ? 'good' : 'bad'} title={t.at ? `at ${when(t.at)}` : undefined}>
      {text}
      {commit && t.commit ? ` at ${short(t.commit)}` : ''}
    </span>
  );
}
