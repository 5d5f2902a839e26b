// The chat page (/): the conversation with streamed answers, citations, history with infinite
// scroll, the composer, and the "What I remember" panel.
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, streamChat } from './api.js';
import { ErrorAlert, mount } from './shell.jsx';
import { MemoryPanel } from './memory.jsx';
import { PassageDialog, citationLabel } from './passage.jsx';
import { renderMarkdown } from './markdown.js';
import { memo } from './memo.js';
import { assistantColor, DEFAULT_TITLES, formatPercent, humanize } from './format.js';

const PAGE_SIZE = 30;
const WIDE = '(min-width: 960px)';

let counter = 0;
const nextKey = (prefix) => `${prefix}${++counter}`;

const asObject = (v) => (v && typeof v === 'object' && !Array.isArray(v) ? v : null);
const asArray = (v) => (Array.isArray(v) ? v.filter((x) => x && typeof x === 'object') : []);

/** A history message as a conversation item; null for roles the conversation does not show. */
function fromHistory(m) {
  if (!m || (m.role !== 'user' && m.role !== 'assistant')) return null;
  const route = asObject(m.route);
  return {
    kind: 'message',
    key: m.seq != null ? `m${m.seq}` : nextKey('h'),
    role: m.role,
    text: typeof m.text === 'string' ? m.text : '',
    assistant: m.assistant || route?.assistant || null,
    route,
    citations: asArray(m.citations),
    seq: m.seq,
    session: m.session,
    streaming: false,
  };
}

function useMedia(query) {
  const list = useMemo(() => window.matchMedia(query), [query]);
  const [matches, setMatches] = useState(list.matches);
  useEffect(() => {
    const onChange = () => setMatches(list.matches);
    list.addEventListener('change', onChange);
    return () => list.removeEventListener('change', onChange);
  }, [list]);
  return matches;
}

function Badge({ assistant, route, titles }) {
  const id = assistant || route?.assistant;
  if (!id) return null;
  const title = titles[id] || humanize(id);
  const details = [];
  if (typeof route?.confidence === 'number') details.push(`routing confidence ${formatPercent(route.confidence, 0)}`);
  if (route?.method) details.push(`method ${route.method}`);
  if (route?.fallback) details.push('fallback');
  const detail = details.join(', ');
  return (
    <span
      class="badge"
      style={{ '--badge': assistantColor(id) }}
      title={detail ? `${title}: ${detail}` : title}
      data-assistant={id}
      data-testid="assistant-badge"
    >
      {title}
      {detail && <span class="visually-hidden"> ({detail})</span>}
    </span>
  );
}

const UserMessage = memo(function UserMessage({ item }) {
  return (
    <article class={`msg user${item.failed ? ' failed' : ''}`} aria-label="You" data-testid="message-user">
      <p class="bubble">{item.text}</p>
    </article>
  );
});

const AssistantMessage = memo(function AssistantMessage({ item, titles, onCite }) {
  // While streaming the text is shown as it comes (it only grows); the markdown is rendered once
  // the answer is complete, so half-written markup never flickers.
  const html = useMemo(() => (item.streaming ? '' : renderMarkdown(item.text)), [item.streaming, item.text]);
  const title = titles[item.assistant] || 'Coach';
  return (
    <article
      class={`msg assistant${item.failed ? ' failed' : ''}`}
      aria-label={title}
      aria-busy={item.streaming ? 'true' : 'false'}
      data-streaming={item.streaming ? 'true' : 'false'}
      data-testid="message-assistant"
    >
      <div class="msg-head">
        <Badge assistant={item.assistant} route={item.route} titles={titles} />
        {item.streaming && <span class="typing" aria-hidden="true" />}
      </div>
      {item.degraded && item.notice && <p class="notice">{item.notice}</p>}
      {item.streaming ? (
        <div class="md streaming">{item.text}</div>
      ) : (
        item.text && <div class="md" dangerouslySetInnerHTML={{ __html: html }} />
      )}
      {item.stopped && <p class="muted small">Stopped before the answer was finished.</p>}
      {item.failed && <p class="muted small">This answer was interrupted.</p>}
      {item.citations.length > 0 && (
        <div class="citations">
          <ul aria-label="Sources">
            {item.citations.map((c, i) => (
              <li key={`${c.number}-${c.chunk}-${i}`}>
                <button type="button" class="citation" onClick={() => onCite(c)} data-testid="citation">
                  {citationLabel(c)}
                </button>
              </li>
            ))}
          </ul>
        </div>
      )}
    </article>
  );
});

function Divider() {
  return (
    <div class="divider" role="separator" aria-label="New session">
      <span aria-hidden="true">New session</span>
    </div>
  );
}

function Composer({ draft, setDraft, onSend, onStop, streaming, disabled, loading, inputRef, product }) {
  // Grow with the text up to a few lines, then scroll inside.
  useLayoutEffect(() => {
    const el = inputRef.current;
    if (!el) return;
    el.style.height = 'auto';
    el.style.height = `${Math.min(el.scrollHeight + 2, 200)}px`;
  }, [draft]);

  const onKeyDown = (event) => {
    if (event.key !== 'Enter' || event.shiftKey || event.isComposing || event.altKey || event.ctrlKey || event.metaKey)
      return;
    event.preventDefault();
    onSend();
  };

  return (
    <form
      // Kept in its place but unseen until the conversation has loaded: typing before the history
      // is shown would put the new turn among messages still to arrive.
      class={`composer${loading ? ' loading' : ''}`}
      onSubmit={(e) => {
        e.preventDefault();
        onSend();
      }}
    >
      <label for="composer-input" class="visually-hidden">
        Message to {product}
      </label>
      <textarea
        id="composer-input"
        ref={inputRef}
        rows={1}
        value={draft}
        maxLength={32768}
        placeholder="Ask about your brand…"
        aria-describedby="composer-hint"
        disabled={disabled}
        onInput={(e) => setDraft(e.currentTarget.value)}
        onKeyDown={onKeyDown}
        data-testid="composer-input"
      />
      <div class="composer-actions">
        <p id="composer-hint" class="hint">
          Enter sends · Shift+Enter adds a line
        </p>
        {streaming && (
          <button type="button" class="button subtle" onClick={onStop}>
            Stop
          </button>
        )}
        <button type="submit" class="button primary" disabled={disabled || !draft.trim()} data-testid="composer-send">
          Send
        </button>
      </div>
    </form>
  );
}

function ChatPage({ config }) {
  const titles = useMemo(() => {
    const t = { ...DEFAULT_TITLES };
    for (const a of config.assistants) if (a.title) t[a.id] = a.title;
    return t;
  }, [config]);

  const [items, setItems] = useState([]);
  const [nextBefore, setNextBefore] = useState(null);
  const [historyReady, setHistoryReady] = useState(false);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const [streaming, setStreaming] = useState(false);
  const [draft, setDraft] = useState('');
  const [error, setError] = useState('');
  const [refreshKey, setRefreshKey] = useState(0);
  const [citation, setCitation] = useState(null);
  const wide = useMedia(WIDE);
  const [memoryOpen, setMemoryOpen] = useState(wide);

  const log = useRef(null);
  const input = useRef(null);
  const toggle = useRef(null);
  const stick = useRef(true); // keep the newest message in view while the user is at the bottom
  const prepend = useRef(null); // scroll position to restore after older messages are added above
  const olderBusy = useRef(false);
  const abort = useRef(null);
  const refocus = useRef(false);
  const era = useRef(0); // bumped when the conversation is erased: late pages of it are dropped

  // Crossing the breakpoint shows the side panel on wide screens and folds the drawer away.
  useEffect(() => setMemoryOpen(wide), [wide]);

  const fail = (e) => {
    // A 401 has already sent the user to the sign-in form; aborts are deliberate.
    if (e && e.status !== 401 && e.name !== 'AbortError') setError(e.message);
  };

  const loadPage = async (before) => {
    const query = before != null ? `?before=${before}&limit=${PAGE_SIZE}` : `?limit=${PAGE_SIZE}`;
    const data = await api(`/api/me/history${query}`);
    const messages = Array.isArray(data?.messages) ? data.messages : [];
    return {
      items: messages.map(fromHistory).filter(Boolean),
      next: Number.isInteger(data?.next_before) && data.next_before > 1 ? data.next_before : null,
    };
  };

  useEffect(() => {
    let live = true;
    loadPage(null)
      .then((page) => {
        if (!live) return;
        setItems(page.items);
        setNextBefore(page.next);
      })
      .catch((e) => live && fail(e))
      .finally(() => live && setHistoryReady(true));
    return () => {
      live = false;
      abort.current?.abort();
    };
  }, []);

  const loadOlder = async () => {
    if (olderBusy.current || nextBefore == null || !historyReady) return;
    olderBusy.current = true;
    setLoadingOlder(true);
    const mine = era.current;
    try {
      const page = await loadPage(nextBefore);
      if (mine !== era.current) return;
      const el = log.current;
      if (el) prepend.current = { height: el.scrollHeight, top: el.scrollTop };
      setItems((prev) => {
        const known = new Set(prev.map((it) => it.key));
        return [...page.items.filter((it) => !known.has(it.key)), ...prev];
      });
      setNextBefore(page.next);
    } catch (e) {
      fail(e);
    } finally {
      olderBusy.current = false;
      setLoadingOlder(false);
    }
  };

  // After each change: keep the reader's place when older messages went in above, else follow
  // the newest message if the reader was already at the bottom.
  useLayoutEffect(() => {
    const el = log.current;
    if (!el) return;
    if (prepend.current) {
      el.scrollTop = prepend.current.top + (el.scrollHeight - prepend.current.height);
      prepend.current = null;
    } else if (stick.current) {
      el.scrollTop = el.scrollHeight;
    }
  }, [items, nextBefore, historyReady]);

  // A first page too short to scroll could never reach "the top" by scrolling: fill the view.
  useEffect(() => {
    const el = log.current;
    if (el && historyReady && !loadingOlder && nextBefore != null && el.scrollHeight <= el.clientHeight + 8) {
      loadOlder();
    }
  }, [items, nextBefore, historyReady, loadingOlder]);

  const onScroll = () => {
    const el = log.current;
    // A scroll event can arrive after the log has gone (the user was signed out or erased).
    if (!el) return;
    stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 48;
    if (el.scrollTop < 120) loadOlder();
  };

  // Once the conversation is there, put the cursor in the composer, unless the user is already
  // somewhere else. Not on narrow (touch) screens, where it would pop up the keyboard unasked.
  useEffect(() => {
    const idle = !document.activeElement || document.activeElement === document.body;
    if (historyReady && wide && idle) input.current?.focus();
  }, [historyReady]);

  // Give the composer its focus back when an answer completes (it was disabled meanwhile).
  useEffect(() => {
    if (!streaming && refocus.current) {
      refocus.current = false;
      input.current?.focus();
    }
  }, [streaming]);

  const send = async () => {
    const message = draft.trim();
    if (!message || streaming || !historyReady) return;
    setError('');
    const userKey = nextKey('u');
    const botKey = nextKey('a');
    stick.current = true;
    setDraft('');
    setItems((prev) => [
      ...prev,
      { kind: 'message', key: userKey, role: 'user', text: message },
      { kind: 'message', key: botKey, role: 'assistant', text: '', streaming: true, citations: [], route: null },
    ]);
    refocus.current = true;
    setStreaming(true);
    const controller = new AbortController();
    abort.current = controller;
    const update = (key, change) => setItems((prev) => prev.map((it) => (it.key === key ? change(it) : it)));
    let streamed = false;

    try {
      await streamChat(
        message,
        {
          onRoute: (route) => update(botKey, (it) => ({ ...it, route: asObject(route), assistant: route?.assistant })),
          onDelta: (text) => {
            streamed = streamed || text.length > 0;
            update(botKey, (it) => ({ ...it, text: it.text + text }));
          },
          onCitation: (c) => c && update(botKey, (it) => ({ ...it, citations: [...it.citations, c] })),
          onDone: (turn) => {
            const thread = asObject(turn.thread) || {};
            setItems((prev) =>
              prev.map((it) => {
                if (it.key === userKey) return { ...it, seq: thread.message_seq, session: thread.session };
                if (it.key !== botKey) return it;
                const route = asObject(turn.route) || it.route;
                return {
                  ...it,
                  text: typeof turn.reply === 'string' ? turn.reply : it.text,
                  assistant: turn.assistant || route?.assistant || it.assistant,
                  route,
                  citations: Array.isArray(turn.citations) ? asArray(turn.citations) : it.citations,
                  degraded: Boolean(turn.degraded),
                  notice: typeof turn.notice === 'string' ? turn.notice : null,
                  seq: thread.reply_seq,
                  session: thread.session,
                  streaming: false,
                };
              }),
            );
          },
        },
        controller.signal,
      );
      setRefreshKey((k) => k + 1);
    } catch (e) {
      if (e.name === 'AbortError') {
        update(botKey, (it) => ({ ...it, streaming: false, stopped: true }));
      } else {
        // Nothing streamed: the turn did not happen, so it leaves the conversation and the text
        // goes back into the composer to try again. Part of an answer stays, marked interrupted.
        if (streamed) {
          update(botKey, (it) => ({ ...it, streaming: false, failed: true }));
        } else {
          setItems((prev) => prev.filter((it) => it.key !== botKey && it.key !== userKey));
          setDraft((d) => d || message);
        }
        fail(e);
      }
    } finally {
      if (abort.current === controller) abort.current = null;
      setStreaming(false);
    }
  };

  const newSession = async () => {
    try {
      await api('/api/me/session', { method: 'POST' });
      stick.current = true;
      setItems((prev) =>
        prev.length && prev[prev.length - 1].kind === 'divider' ? prev : [...prev, { kind: 'divider', key: nextKey('d') }],
      );
      input.current?.focus();
    } catch (e) {
      fail(e);
    }
  };

  const onErased = () => {
    era.current++;
    abort.current?.abort();
    setItems([]);
    setNextBefore(null);
  };

  const closeDrawer = () => {
    setMemoryOpen(false);
    toggle.current?.focus();
  };

  // Dividers where the server started a new session between two messages, unless one is there.
  const rows = [];
  let previous = null;
  for (const it of items) {
    if (
      it.kind === 'message' &&
      previous?.kind === 'message' &&
      it.session != null &&
      previous.session != null &&
      it.session !== previous.session
    ) {
      rows.push(<Divider key={`s${it.key}`} />);
    }
    if (it.kind === 'divider') rows.push(<Divider key={it.key} />);
    else if (it.role === 'user') rows.push(<UserMessage key={it.key} item={it} />);
    else rows.push(<AssistantMessage key={it.key} item={it} titles={titles} onCite={setCitation} />);
    previous = it;
  }

  return (
    <div class={`chat-layout${memoryOpen && wide ? ' with-panel' : ''}`}>
      <main id="main" class="chat-main" tabIndex={-1}>
        <h1 class="visually-hidden">Conversation with {config.product_name}</h1>
        <div class="toolbar">
          <button
            type="button"
            class="button"
            onClick={newSession}
            disabled={streaming || !historyReady}
            data-testid="new-session"
          >
            New session
          </button>
          <button
            type="button"
            class="button"
            ref={toggle}
            aria-expanded={memoryOpen ? 'true' : 'false'}
            aria-controls="memory-panel"
            onClick={() => setMemoryOpen((open) => !open)}
            data-testid="memory-toggle"
          >
            What I remember
          </button>
        </div>
        <ErrorAlert message={error} onDismiss={() => setError('')} />
        <div
          class="log"
          ref={log}
          onScroll={onScroll}
          role="log"
          aria-live="polite"
          aria-relevant="additions"
          aria-label="Conversation"
          tabIndex={0}
        >
          {nextBefore != null && (
            <div class="older">
              <button type="button" class="button subtle small" onClick={loadOlder} disabled={loadingOlder}>
                {loadingOlder ? 'Loading earlier messages…' : 'Load earlier messages'}
              </button>
            </div>
          )}
          {!historyReady && <p class="muted center">Loading the conversation…</p>}
          {historyReady && items.length === 0 && (
            <div class="welcome">
              <p>{config.welcome_message}</p>
            </div>
          )}
          {rows}
        </div>
        <Composer
          draft={draft}
          setDraft={setDraft}
          onSend={send}
          onStop={() => abort.current?.abort()}
          streaming={streaming}
          disabled={streaming || !historyReady}
          loading={!historyReady}
          inputRef={input}
          product={config.product_name}
        />
      </main>
      {memoryOpen && !wide && <div class="scrim" onClick={closeDrawer} aria-hidden="true" />}
      <MemoryPanel
        open={memoryOpen}
        narrow={!wide}
        onClose={closeDrawer}
        refreshKey={refreshKey}
        onError={setError}
        onErased={onErased}
      />
      {citation && <PassageDialog citation={citation} onClose={() => setCitation(null)} />}
    </div>
  );
}

mount(ChatPage);
