// The source behind a citation: its whole document from /api/passages/{chunk}, with the cited
// chunk highlighted and scrolled into view.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from './api.js';
import { Dialog } from './dialog.jsx';
import { trimOverlaps } from './overlap.js';

const sameId = (a, b) => a != null && b != null && String(a) === String(b);

/** Citation text as the list shows it: "[n] file — heading". */
export function citationLabel(c) {
  const file = c.file || c.filename || 'source';
  return `[${c.number ?? '?'}] ${file}${c.heading ? ` — ${c.heading}` : ''}`;
}

export function PassageDialog({ citation, onClose }) {
  const [data, setData] = useState(null);
  const [error, setError] = useState('');
  const cited = useRef(null);
  const closeButton = useRef(null);

  useEffect(() => {
    const controller = new AbortController();
    api(`/api/passages/${encodeURIComponent(citation.chunk)}`, { signal: controller.signal })
      .then((body) => setData(body || {}))
      .catch((e) => {
        if (e.name !== 'AbortError') setError(e.message);
      });
    return () => controller.abort();
  }, [citation.chunk]);

  useEffect(() => {
    if (!data || !cited.current) return;
    const still = window.matchMedia?.('(prefers-reduced-motion: reduce)').matches;
    cited.current.scrollIntoView({ block: 'center', behavior: still ? 'auto' : 'smooth' });
  }, [data]);

  const chunk = data?.chunk && typeof data.chunk === 'object' ? data.chunk : null;
  const file = data?.file && typeof data.file === 'object' ? data.file : {};
  const citedId = chunk?.id ?? citation.chunk;
  let parts = Array.isArray(data?.document) ? data.document.filter((p) => p && typeof p === 'object') : [];
  // Without the document, or one that lacks the cited chunk, the chunk is shown on its own.
  if (chunk && !parts.some((p) => sameId(p.id, citedId))) parts = [...parts, chunk];
  parts = [...parts].sort((a, b) => (Number(a.ordinal) || 0) - (Number(b.ordinal) || 0));
  const shown = trimOverlaps(parts, parts.find((p) => sameId(p.id, citedId))?.id);

  const title = file.title || file.filename || citation.file || 'Source';
  let lastHeading = null;

  return (
    <Dialog title={title} onClose={onClose} testId="passage-dialog" initialFocus={closeButton} wide>
      <p class="passage-meta muted">
        {[
          file.filename && file.filename !== title ? file.filename : null,
          file.store || citation.store ? `store ${file.store || citation.store}` : null,
          chunk?.page ? `page ${chunk.page}` : null,
          `cited as [${citation.number ?? '?'}]`,
        ]
          .filter(Boolean)
          .join(' · ')}
      </p>
      {error && (
        <p class="inline-error" role="alert">
          Could not load this source: {error}
        </p>
      )}
      {error && citation.snippet && <blockquote class="snippet">{citation.snippet}</blockquote>}
      {!data && !error && <p class="muted">Loading the source…</p>}
      {data && (
        <div class="passage-doc" tabIndex={0} aria-label={`Text of ${title}`}>
          {shown.map((part) => {
            const isCited = sameId(part.id, citedId);
            const heading = part.heading && part.heading !== lastHeading ? part.heading : null;
            lastHeading = part.heading || lastHeading;
            // Cut overlaps leave stray whitespace at the edges, which pre-wrap would show.
            const text = (isCited ? part.display || citation.snippet || '' : part.display).trim();
            if (!isCited && !text && !heading) return null;
            return (
              <section
                key={part.id ?? part.ordinal}
                class={`chunk${isCited ? ' cited' : ''}`}
                aria-current={isCited ? 'true' : undefined}
                aria-label={isCited ? 'Cited passage' : undefined}
                data-testid={isCited ? 'passage-cited' : undefined}
                ref={isCited ? cited : undefined}
              >
                {heading && <h3>{heading}</h3>}
                {text && <p>{text}</p>}
              </section>
            );
          })}
        </div>
      )}
      <div class="row end">
        <button type="button" class="button" ref={closeButton} onClick={onClose}>
          Close
        </button>
      </div>
    </Dialog>
  );
}
