// "What I remember": the facts the coach keeps about the user, grouped by category, each one
// confirmable, correctable and deletable, with its earlier values; plus export and erasure.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, download } from './api.js';
import { Dialog } from './dialog.jsx';
import { formatDate, humanize } from './format.js';

// The server's categories in the order a person would read them; any others follow.
const CATEGORY_ORDER = ['personal', 'business', 'brand', 'preferences', 'decisions', 'context'];

/** The profile's facts as [category, facts[]] pairs, from `facts` or else from `by_category`. */
export function groupFacts(profile) {
  let facts = Array.isArray(profile?.facts) ? profile.facts : null;
  if (!facts) {
    facts = [];
    const groups = profile?.by_category;
    if (groups && typeof groups === 'object') {
      for (const [category, list] of Object.entries(groups)) {
        if (Array.isArray(list)) for (const f of list) facts.push({ category, ...f });
      }
    }
  }
  const groups = new Map();
  for (const fact of facts) {
    if (!fact || typeof fact !== 'object' || fact.id == null) continue;
    const category = typeof fact.category === 'string' && fact.category ? fact.category : 'other';
    if (!groups.has(category)) groups.set(category, []);
    groups.get(category).push(fact);
  }
  const rank = (c) => {
    const i = CATEGORY_ORDER.indexOf(c);
    return i < 0 ? CATEGORY_ORDER.length : i;
  };
  return [...groups.entries()].sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
}

const slug = (text) => String(text).replace(/[^a-z0-9_-]+/gi, '-');
const isPending = (fact) => fact.status === 'pending_confirmation' || fact.status === 'pending';
const valueText = (v) => (v == null ? '' : typeof v === 'string' ? v : JSON.stringify(v));

/** Where a fact came from, whatever shape the server gives it: an object, a string, or nothing. */
function sourceOf(fact) {
  const s = fact.source;
  if (typeof s === 'string' && s.trim()) return { text: s, at: null };
  if (s && typeof s === 'object') {
    const text = typeof s.text === 'string' ? s.text : typeof s.message === 'string' ? s.message : '';
    const at = s.created_at || s.at || s.date || null;
    if (text || at) return { text, at };
  }
  return null;
}

function FactHistory({ history }) {
  const earlier = Array.isArray(history) ? history.filter((h) => h && h.value != null) : [];
  if (earlier.length === 0) return null;
  return (
    <details class="fact-history">
      <summary>
        Earlier values <span class="count">({earlier.length})</span>
      </summary>
      <ol>
        {earlier.map((h, i) => (
          <li key={h.id ?? i}>
            <span class="old-value">{valueText(h.value)}</span>
            {(h.created_at || h.date) && (
              <>
                {' '}
                <span class="muted">
                  since <time dateTime={h.created_at || h.date}>{formatDate(h.created_at || h.date, false)}</time>
                </span>
              </>
            )}
          </li>
        ))}
      </ol>
    </details>
  );
}

function Fact({ fact, busy, onChange }) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState('');
  const input = useRef(null);
  const correctButton = useRef(null);
  const pending = isPending(fact);
  const label = fact.label || humanize(fact.key) || 'Fact';
  const source = sourceOf(fact);
  const inputId = `fact-${fact.id}-value`;

  useEffect(() => {
    if (editing) input.current?.select();
  }, [editing]);

  const stopEditing = () => {
    setEditing(false);
    // Back to the button that opened the editor, so keyboard users keep their place.
    requestAnimationFrame(() => correctButton.current?.focus());
  };

  const save = async (event) => {
    event.preventDefault();
    const value = draft.trim();
    if (!value || value === valueText(fact.value)) return stopEditing();
    if (await onChange(fact, { action: 'correct', value })) stopEditing();
  };

  return (
    <li
      class={`fact${pending ? ' pending' : ''}`}
      data-testid="fact"
      data-key={fact.key}
      data-fact-id={String(fact.id)}
      aria-busy={busy ? 'true' : undefined}
    >
      <div class="fact-main">
        <span class="fact-label">{label}</span>
        <span class="fact-value" data-testid="fact-value">
          {valueText(fact.value)}
        </span>
      </div>
      {pending && <p class="pending-note">Needs your confirmation</p>}
      {source && (
        <p class="fact-source muted">
          {source.text ? <>You said “{source.text}”</> : 'Noted'}
          {source.at && (
            <>
              {' on '}
              <time dateTime={source.at}>{formatDate(source.at, false)}</time>
            </>
          )}
        </p>
      )}
      {editing ? (
        <form class="fact-edit" onSubmit={save}>
          <label class="visually-hidden" for={inputId}>
            New value for {label}
          </label>
          <input
            id={inputId}
            ref={input}
            type="text"
            value={draft}
            onInput={(e) => setDraft(e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === 'Escape') {
                e.preventDefault();
                stopEditing();
              }
            }}
            maxLength={2000}
            data-testid="fact-correct-input"
          />
          <button type="submit" class="button primary small" disabled={busy} data-testid="fact-correct-save">
            Save
          </button>
          <button type="button" class="button subtle small" onClick={stopEditing}>
            Cancel
          </button>
        </form>
      ) : (
        <div class="fact-actions">
          {pending && (
            <button
              type="button"
              class="button primary small"
              disabled={busy}
              onClick={() => onChange(fact, { action: 'confirm' })}
              data-testid="fact-confirm"
            >
              Confirm<span class="visually-hidden"> {label}</span>
            </button>
          )}
          <button
            type="button"
            class="button small"
            ref={correctButton}
            disabled={busy}
            onClick={() => {
              setDraft(valueText(fact.value));
              setEditing(true);
            }}
            data-testid="fact-correct"
          >
            Correct<span class="visually-hidden"> {label}</span>
          </button>
          <button
            type="button"
            class="button small danger"
            disabled={busy}
            onClick={() => onChange(fact, { action: 'reject' })}
            data-testid="fact-delete"
          >
            Delete<span class="visually-hidden"> {label}</span>
          </button>
        </div>
      )}
      <FactHistory history={fact.history} />
    </li>
  );
}

function EraseDialog({ onClose, onErased, onError }) {
  const [typed, setTyped] = useState('');
  const [working, setWorking] = useState(false);
  const input = useRef(null);
  const ready = typed === 'DELETE';
  const submit = async (event) => {
    event.preventDefault();
    if (!ready || working) return;
    setWorking(true);
    try {
      await api('/api/me', { method: 'DELETE' });
      onErased();
      onClose();
    } catch (error) {
      setWorking(false);
      if (error.name !== 'AbortError') onError(error.message);
    }
  };
  return (
    <Dialog title="Delete all my data" onClose={onClose} initialFocus={input}>
      <form onSubmit={submit} class="stack">
        <p>
          This erases your whole conversation, everything remembered about you and your usage records. It cannot be
          undone.
        </p>
        <label for="erase-confirm">
          Type <strong>DELETE</strong> to confirm
        </label>
        <input
          id="erase-confirm"
          ref={input}
          type="text"
          autocomplete="off"
          value={typed}
          onInput={(e) => setTyped(e.currentTarget.value)}
          data-testid="delete-confirm-input"
        />
        <div class="row">
          <button type="submit" class="button danger-solid" disabled={!ready || working} data-testid="delete-confirm-submit">
            {working ? 'Deleting…' : 'Delete everything'}
          </button>
          <button type="button" class="button subtle" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}

/**
 * open: whether the panel shows; narrow: shown as a drawer over the page (with its own close
 * button); refreshKey: changes after each chat turn to reload; onErased: the user's data is gone.
 */
export function MemoryPanel({ open, narrow, onClose, refreshKey, onError, onErased }) {
  const [profile, setProfile] = useState(null);
  const [loadError, setLoadError] = useState('');
  const [busy, setBusy] = useState(null);
  const [erasing, setErasing] = useState(false);
  const [status, setStatus] = useState('');
  const generation = useRef(0);
  const heading = useRef(null);

  const load = async () => {
    // Only the newest request may write its answer: a slow early one must not overwrite it.
    const mine = ++generation.current;
    try {
      const data = await api('/api/me/profile');
      if (mine === generation.current) {
        setProfile(data || {});
        setLoadError('');
      }
    } catch (error) {
      if (mine === generation.current && error.status !== 401) setLoadError(error.message);
    }
  };

  useEffect(() => {
    load();
  }, [refreshKey]);

  // A drawer takes focus when it opens, so keyboard users land in it.
  useEffect(() => {
    if (open && narrow) heading.current?.focus();
  }, [open, narrow]);

  const change = async (fact, body) => {
    setBusy(fact.id);
    try {
      await api(`/api/me/facts/${encodeURIComponent(fact.id)}`, { method: 'PATCH', body });
      const label = fact.label || humanize(fact.key);
      setStatus(
        body.action === 'confirm'
          ? `${label} confirmed.`
          : body.action === 'correct'
            ? `${label} corrected.`
            : `${label} deleted.`,
      );
      await load();
      return true;
    } catch (error) {
      onError(error.message);
      return false;
    } finally {
      setBusy(null);
    }
  };

  const exportAs = async (format) => {
    try {
      await download(`/api/me/export?format=${format}`, `brandcoach-export.${format}`);
    } catch (error) {
      onError(error.message);
    }
  };

  const groups = groupFacts(profile);
  const pendingCount = groups.reduce((n, [, facts]) => n + facts.filter(isPending).length, 0);

  return (
    <aside
      id="memory-panel"
      class={`memory${narrow ? ' drawer' : ''}`}
      aria-labelledby="memory-title"
      hidden={!open}
      data-testid="memory-panel"
      onKeyDown={(e) => {
        if (narrow && e.key === 'Escape' && !e.defaultPrevented) onClose();
      }}
    >
      <div class="memory-head">
        <h2 id="memory-title" tabIndex={-1} ref={heading}>
          What I remember
        </h2>
        {narrow && (
          <button type="button" class="button subtle icon" onClick={onClose} aria-label="Close the memory panel">
            ×
          </button>
        )}
      </div>
      <p class="visually-hidden" role="status">
        {status}
      </p>
      {loadError && <p class="inline-error">Could not load what I remember: {loadError}</p>}
      {!profile && !loadError && <p class="muted">Loading…</p>}
      {profile && groups.length === 0 && (
        <p class="muted">Nothing yet. Tell me about yourself and your business, and I will keep it here.</p>
      )}
      {pendingCount > 0 && (
        <p class="pending-summary">
          {pendingCount === 1 ? '1 fact needs' : `${pendingCount} facts need`} your confirmation.
        </p>
      )}
      {groups.map(([category, facts]) => (
        <section key={category} class="fact-group" aria-labelledby={`cat-${slug(category)}`}>
          <h3 id={`cat-${slug(category)}`}>{humanize(category)}</h3>
          <ul class="facts">
            {facts.map((fact) => (
              <Fact key={fact.id} fact={fact} busy={busy === fact.id} onChange={change} />
            ))}
          </ul>
        </section>
      ))}
      <div class="memory-foot">
        <h3>Your data</h3>
        <div class="row wrap">
          <button type="button" class="button small" onClick={() => exportAs('json')} data-testid="export-json">
            Export JSON
          </button>
          <button type="button" class="button small" onClick={() => exportAs('md')} data-testid="export-md">
            Export Markdown
          </button>
          <button type="button" class="button small danger" onClick={() => setErasing(true)} data-testid="delete-data">
            Delete all my data
          </button>
        </div>
      </div>
      {erasing && (
        <EraseDialog
          onClose={() => setErasing(false)}
          onError={onError}
          onErased={() => {
            setStatus('All your data was deleted.');
            setProfile({ facts: [] });
            onErased();
            load();
          }}
        />
      )}
    </aside>
  );
}
