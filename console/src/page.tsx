import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

// A page's frame: its <h1>, the document title, and focus on the heading after a navigation
// (so a screen reader announces the new page instead of staying on the link).

let firstPage = true;

export function Page({ title, bot, children }: { title: string; bot?: string; children: ComponentChildren }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title}${bot ? ` · ${bot}` : ''} · botver console`;
  }, [title, bot]);
  useEffect(() => {
    if (!firstPage) heading.current?.focus();
    firstPage = false;
  }, [title]);
  return (
    <>
      <h1 ref={heading} tabIndex={-1}>
        {title}
      </h1>
      {children}
    </>
  );
}
