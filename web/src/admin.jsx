// The admin page (/admin): analytics, knowledge stores (create, delete, re-index, files, upload,
// search) and users. Every section loads on its own; a 403 from any of them means the caller is
// not an admin, and the page says so instead.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, seg, uploadFiles } from './api.js';
import { ErrorAlert, mount } from './shell.jsx';
import { createChart, dayLabel, doughnutConfig, lineConfig, stackedBarConfig } from './charts.js';
import {
  assistantColor,
  DASH,
  DEFAULT_TITLES,
  formatBytes,
  formatDate,
  formatMs,
  formatNumber,
  formatPercent,
  formatUsd,
  humanize,
} from './format.js';

const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const obj = (v) => (v && typeof v === 'object' && !Array.isArray(v) ? v : {});
const list = (v) => (Array.isArray(v) ? v.filter((x) => x && typeof x === 'object') : []);
/** A list endpoint's items, whichever key the server wraps them in. */
const items = (body, ...keys) => {
  for (const key of ['data', ...keys]) if (Array.isArray(body?.[key])) return list(body[key]);
  return Array.isArray(body) ? list(body) : [];
};

// ---- analytics ----

function Card({ name, label, value, detail }) {
  return (
    <div class="stat" data-testid={`card-${name}`}>
      <h3>{label}</h3>
      <p class="stat-value">{value}</p>
      {detail && <p class="stat-detail">{detail}</p>}
    </div>
  );
}

/** A canvas chart with a text summary for screen readers and its numbers as a hidden table. */
function ChartFigure({ testId, title, summary, config, table }) {
  const canvas = useRef(null);
  useEffect(() => {
    const chart = createChart(canvas.current, config);
    return () => chart.destroy();
  }, [config]);
  return (
    <figure class="chart card">
      <figcaption>{title}</figcaption>
      <div class="chart-box">
        <canvas ref={canvas} role="img" aria-label={summary} data-testid={testId} />
      </div>
      {/* A table cannot be shrunk to nothing itself, so a hidden box holds it. */}
      <div class="visually-hidden">
        <table>
          <caption>{title}</caption>
          <thead>
            <tr>
              {table.head.map((h) => (
                <th scope="col" key={h}>
                  {h}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {table.rows.map((row, i) => (
              <tr key={i}>
                {row.map((cell, j) => (j === 0 ? <th scope="row" key={j}>{cell}</th> : <td key={j}>{cell}</td>))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </figure>
  );
}

const SEVERITY = { critical: 'Critical', warning: 'Warning', info: 'Info' };

function Alerts({ alerts }) {
  return (
    <ul class="alerts" data-testid="alerts" aria-label="Alerts">
      {alerts.length === 0 && <li class="alert-item ok">No alerts.</li>}
      {alerts.map((a, i) => {
        const severity = SEVERITY[a.severity] ? a.severity : 'info';
        return (
          <li key={i} class={`alert-item ${severity}`}>
            <strong>
              {SEVERITY[severity]}: {a.name || 'Alert'}
            </strong>{' '}
            {a.message}
          </li>
        );
      })}
    </ul>
  );
}

function ErrorsTable({ errors }) {
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-labelledby="errors-title">
      <table data-testid="errors-table">
        <caption id="errors-title">Recent errors</caption>
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Status</th>
            <th scope="col">Route</th>
            <th scope="col">Message</th>
            <th scope="col">Request id</th>
          </tr>
        </thead>
        <tbody>
          {errors.length === 0 && (
            <tr>
              <td colSpan={5} class="muted">
                No errors recorded.
              </td>
            </tr>
          )}
          {errors.map((e, i) => (
            <tr key={e.request_id || i}>
              <td>
                <time dateTime={e.at}>{formatDate(e.at)}</time>
              </td>
              <td>{e.status ?? DASH}</td>
              <td>
                <code>{e.route || DASH}</code>
              </td>
              <td>{e.message || DASH}</td>
              <td>
                <code>{e.request_id || DASH}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Chart configurations, summaries and fallback tables from the analytics answer. */
function buildCharts(data, titles) {
  const series = list(data.series);
  const labels = series.map((s) => dayLabel(s.day));
  // A day without turns has no latency: a gap in the line, not a zero.
  const latencyOf = (s, key) => (num(s.turns) === 0 ? null : num(s[key]));
  const p = ['p50', 'p95', 'p99'];
  const latencyColors = ['#1d4ed8', '#b45309', '#be123c'];
  const latency = lineConfig(
    labels,
    p.map((name, i) => ({
      label: name,
      data: series.map((s) => latencyOf(s, `latency_${name}_ms`)),
      borderColor: latencyColors[i],
      backgroundColor: latencyColors[i],
      borderDash: [[], [6, 4], [2, 3]][i],
      pointStyle: ['circle', 'rect', 'triangle'][i],
      tension: 0.2,
    })),
    { yTitle: 'ms' },
  );
  const withLatency = series.filter((s) => latencyOf(s, 'latency_p95_ms') != null);
  const worst = withLatency.reduce((a, s) => (a && a.latency_p95_ms >= s.latency_p95_ms ? a : s), null);
  const latencySummary =
    withLatency.length === 0
      ? `Latency percentiles over ${series.length} days: no turns yet.`
      : `Latency percentiles over ${series.length} days. Highest p95 was ${formatMs(worst.latency_p95_ms)} on ${dayLabel(worst.day)}; last day with turns, ${dayLabel(withLatency[withLatency.length - 1].day)}: p50 ${formatMs(withLatency[withLatency.length - 1].latency_p50_ms)}, p95 ${formatMs(withLatency[withLatency.length - 1].latency_p95_ms)}, p99 ${formatMs(withLatency[withLatency.length - 1].latency_p99_ms)}.`;

  const distribution = Object.entries(obj(data.assistant_distribution)).filter(([, n]) => num(n) != null);
  const totalTurns = distribution.reduce((a, [, n]) => a + n, 0);
  const name = (id) => titles[id] || humanize(id);
  const assistants = doughnutConfig(
    distribution.map(([id]) => name(id)),
    distribution.map(([, n]) => n),
    distribution.map(([id], i) => assistantColor(id, i)),
  );
  const assistantsSummary =
    totalTurns === 0
      ? 'Turns by assistant: no turns yet.'
      : `Turns by assistant: ${distribution.map(([id, n]) => `${name(id)} ${formatPercent(n / totalTurns, 0)} (${n})`).join(', ')}.`;

  const costIds = [...new Set(series.flatMap((s) => Object.keys(obj(s.cost_by_assistant_usd))))];
  const cost = stackedBarConfig(
    labels,
    costIds.map((id, i) => ({
      label: name(id),
      data: series.map((s) => num(obj(s.cost_by_assistant_usd)[id]) ?? 0),
      backgroundColor: assistantColor(id, i),
    })),
    { yTitle: 'USD' },
  );
  const dayCost = series.map((s) => Object.values(obj(s.cost_by_assistant_usd)).reduce((a, v) => a + (num(v) ?? 0), 0));
  const totalCost = dayCost.reduce((a, v) => a + v, 0);
  const peak = dayCost.indexOf(Math.max(0, ...dayCost));
  const costSummary =
    totalCost === 0
      ? `Cost per assistant per day over ${series.length} days: no cost recorded.`
      : `Cost per assistant per day over ${series.length} days: ${formatUsd(totalCost)} in all; highest on ${labels[peak]} at ${formatUsd(dayCost[peak])}.`;

  const cacheValues = series.map((s) => (num(s.cache_hit_rate) == null ? null : s.cache_hit_rate * 100));
  const cache = lineConfig(
    labels,
    [{ label: 'Cache hit rate (%)', data: cacheValues, borderColor: '#047857', backgroundColor: '#047857', tension: 0.2 }],
    { yTitle: '%', max: 100 },
  );
  const known = series.filter((s) => num(s.cache_hit_rate) != null);
  const cacheSummary =
    known.length === 0
      ? `Cache hit rate over ${series.length} days: not measured.`
      : `Cache hit rate over ${series.length} days; latest ${formatPercent(known[known.length - 1].cache_hit_rate)} on ${dayLabel(known[known.length - 1].day)}.`;

  return {
    latency: {
      config: latency,
      summary: latencySummary,
      table: {
        head: ['Day', 'p50', 'p95', 'p99'],
        rows: series.map((s) => [
          dayLabel(s.day),
          ...p.map((n) => (latencyOf(s, `latency_${n}_ms`) == null ? DASH : formatMs(s[`latency_${n}_ms`]))),
        ]),
      },
    },
    assistants: {
      config: assistants,
      summary: assistantsSummary,
      table: {
        head: ['Assistant', 'Turns', 'Share'],
        rows: distribution.map(([id, n]) => [name(id), formatNumber(n), totalTurns ? formatPercent(n / totalTurns) : DASH]),
      },
    },
    cost: {
      config: cost,
      summary: costSummary,
      table: {
        head: ['Day', ...costIds.map(name), 'Total'],
        rows: series.map((s, i) => [
          dayLabel(s.day),
          ...costIds.map((id) => formatUsd(num(obj(s.cost_by_assistant_usd)[id]) ?? 0)),
          formatUsd(dayCost[i]),
        ]),
      },
    },
    cache: {
      config: cache,
      summary: cacheSummary,
      table: {
        head: ['Day', 'Cache hit rate'],
        rows: series.map((s) => [dayLabel(s.day), formatPercent(num(s.cache_hit_rate))]),
      },
    },
  };
}

function Analytics({ titles, onForbidden }) {
  const [data, setData] = useState(null);
  const [error, setError] = useState('');
  const [loading, setLoading] = useState(false);

  const load = async () => {
    setLoading(true);
    try {
      setData(obj(await api('/api/admin/analytics?days=14')));
      setError('');
    } catch (e) {
      if (e.status === 403) onForbidden();
      else if (e.status !== 401) setError(e.message);
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    load();
  }, []);

  const charts = useMemo(() => (data ? buildCharts(data, titles) : null), [data, titles]);
  const o = obj(data?.overview);
  const latency = obj(o.latency_ms);

  return (
    <section id="overview" class="admin-section" aria-labelledby="overview-title">
      <div class="section-head">
        <h2 id="overview-title">Overview</h2>
        <button type="button" class="button small" onClick={load} disabled={loading}>
          {loading ? 'Refreshing…' : 'Refresh'}
        </button>
      </div>
      {error && <p class="inline-error">Could not load the analytics: {error}</p>}
      {!data && !error && <p class="muted">Loading…</p>}
      {data && (
        <>
          <div class="stats" data-testid="admin-overview">
            <Card
              name="active-users"
              label="Active users today"
              value={formatNumber(num(o.active_users_today))}
              detail={`${formatNumber(num(o.active_users_7d))} in 7 days · ${formatNumber(num(o.users_total))} in all`}
            />
            <Card
              name="turns-today"
              label="Turns today"
              value={formatNumber(num(o.turns_today))}
              detail={`${formatNumber(num(o.conversations_today))} conversations`}
            />
            <Card
              name="latency"
              label="Latency today (p50)"
              value={formatMs(num(latency.p50))}
              detail={`p95 ${formatMs(num(latency.p95))} · p99 ${formatMs(num(latency.p99))}`}
            />
            <Card
              name="error-rate"
              label="Error rate"
              value={formatPercent(num(o.error_rate), 2)}
              detail={`of ${formatNumber(num(o.requests_total))} requests`}
            />
            <Card
              name="tokens-per-conversation"
              label="Tokens per conversation"
              value={formatNumber(num(o.tokens_per_conversation))}
            />
            <Card
              name="cost-per-conversation"
              label="Cost per conversation"
              value={formatUsd(num(o.cost_per_conversation_usd))}
              detail={`${formatUsd(num(o.cost_today_usd))} today`}
            />
            <Card name="memory-retention" label="Memory retention" value={formatPercent(num(o.memory_retention_rate))} />
            <Card name="cache-hit-rate" label="Cache hit rate" value={formatPercent(num(o.cache_hit_rate))} />
          </div>
          <h3>Alerts</h3>
          <Alerts alerts={list(data.alerts)} />
          <div class="charts">
            <ChartFigure testId="chart-latency" title="Latency percentiles (ms)" {...charts.latency} />
            <ChartFigure testId="chart-assistants" title="Turns by assistant" {...charts.assistants} />
            <ChartFigure testId="chart-cost" title="Cost per assistant per day (USD)" {...charts.cost} />
            <ChartFigure testId="chart-cache" title="Cache hit rate (%)" {...charts.cache} />
          </div>
          <ErrorsTable errors={list(data.errors)} />
        </>
      )}
    </section>
  );
}

// ---- knowledge stores ----

function UploadResult({ report }) {
  const failures = list(report.failures);
  const counts = ['added', 'updated', 'unchanged', 'duplicates']
    .filter((k) => num(report[k]) != null)
    .map((k) => `${report[k]} ${k}`)
    .join(', ');
  return (
    <div class="upload-result" data-testid="upload-result" role="status">
      <p>
        {counts || 'Upload finished'}
        {num(report.chunks) != null && ` · ${formatNumber(report.chunks)} chunks`}
        {num(report.bytes) != null && ` · ${formatBytes(report.bytes)}`}
      </p>
      {failures.length > 0 && (
        <>
          <p class="inline-error">
            {failures.length === 1 ? '1 file could not be read:' : `${failures.length} files could not be read:`}
          </p>
          <ul>
            {failures.map((f, i) => (
              <li key={i}>
                <strong>{f.file || 'file'}</strong>: {f.reason || 'unreadable'}
              </li>
            ))}
          </ul>
        </>
      )}
      <pre class="json">{JSON.stringify(report, null, 2)}</pre>
    </div>
  );
}

/** Text of a search hit, whether the server gives `text` or the /v1 search shape with `content` parts. */
function hitText(hit) {
  if (typeof hit.text === 'string') return hit.text;
  if (Array.isArray(hit.content)) return hit.content.map((c) => (typeof c?.text === 'string' ? c.text : '')).join(' ');
  return '';
}

function StoreDetail({ store, onChanged, onForbidden, onError }) {
  const path = `/api/admin/stores/${seg(store.name ?? store.id)}`;
  const [files, setFiles] = useState(null);
  const [chosen, setChosen] = useState([]);
  const [progress, setProgress] = useState(null);
  const [uploading, setUploading] = useState(false);
  const [report, setReport] = useState(null);
  const [query, setQuery] = useState('');
  const [results, setResults] = useState(null);
  const [searching, setSearching] = useState(false);
  const fileInput = useRef(null);

  const handle = (e) => {
    if (e.status === 403) onForbidden();
    else if (e.status !== 401) onError(e.message);
  };

  const loadFiles = async () => {
    try {
      setFiles(items(await api(`${path}/files`), 'files'));
    } catch (e) {
      setFiles([]);
      handle(e);
    }
  };
  useEffect(() => {
    loadFiles();
  }, [path]);

  const upload = async (event) => {
    event.preventDefault();
    const picked = [...(fileInput.current?.files || [])];
    if (picked.length === 0) {
      onError('Choose one or more files to upload first.');
      return;
    }
    setUploading(true);
    setReport(null);
    setProgress(0);
    try {
      const { body } = await uploadFiles(`${path}/files`, picked, (loaded, total) =>
        setProgress(Math.round((loaded / total) * 100)),
      );
      setProgress(100);
      setReport(obj(body));
      if (fileInput.current) fileInput.current.value = '';
      setChosen([]);
      loadFiles();
      onChanged();
    } catch (e) {
      handle(e);
    } finally {
      setUploading(false);
    }
  };

  const search = async (event) => {
    event.preventDefault();
    const q = query.trim();
    if (!q) return;
    setSearching(true);
    try {
      const body = await api(`${path}/search`, { method: 'POST', body: { query: q, max_num_results: 5 } });
      setResults(items(body, 'results'));
    } catch (e) {
      handle(e);
    } finally {
      setSearching(false);
    }
  };

  return (
    <section class="store-detail card" aria-labelledby="store-detail-title">
      <h3 id="store-detail-title">
        Store <code>{store.name}</code>
      </h3>

      <h4>Files</h4>
      {files === null ? (
        <p class="muted">Loading…</p>
      ) : (
        <div class="table-wrap" tabIndex={0} role="region" aria-label={`Files in ${store.name}`}>
          <table>
            <thead>
              <tr>
                <th scope="col">File</th>
                <th scope="col">Title</th>
                <th scope="col">Format</th>
                <th scope="col" class="num">
                  Size
                </th>
                <th scope="col" class="num">
                  Chunks
                </th>
                <th scope="col">Added</th>
              </tr>
            </thead>
            <tbody>
              {files.length === 0 && (
                <tr>
                  <td colSpan={6} class="muted">
                    No files yet.
                  </td>
                </tr>
              )}
              {files.map((f, i) => (
                <tr key={f.id ?? i}>
                  <th scope="row">{f.filename || f.id}</th>
                  <td>{f.title || DASH}</td>
                  <td>{f.format || DASH}</td>
                  <td class="num">{formatBytes(num(f.bytes))}</td>
                  <td class="num">{formatNumber(num(f.chunks))}</td>
                  <td>{formatDate(f.created_at, false)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <h4>Add files</h4>
      <form class="stack" onSubmit={upload}>
        <label for="upload-input">Files (Markdown, text, HTML, PDF, DOCX, JSON)</label>
        <input
          id="upload-input"
          ref={fileInput}
          type="file"
          multiple
          onChange={(e) => setChosen([...(e.currentTarget.files || [])].map((f) => f.name))}
          data-testid="upload-input"
        />
        {chosen.length > 1 && <p class="hint">{chosen.length} files chosen</p>}
        <div class="row">
          <button type="submit" class="button primary" disabled={uploading} data-testid="upload-submit">
            {uploading ? 'Uploading…' : 'Upload'}
          </button>
          {progress !== null && (
            <progress
              max={100}
              value={progress}
              aria-label="Upload progress"
              aria-valuetext={`${progress}%`}
              data-testid="upload-progress"
            >
              {progress}%
            </progress>
          )}
        </div>
      </form>
      {report && <UploadResult report={report} />}

      <h4>Search</h4>
      <form class="row wrap" role="search" onSubmit={search}>
        <label for="store-search" class="visually-hidden">
          Search {store.name}
        </label>
        <input
          id="store-search"
          type="search"
          value={query}
          placeholder={`Search ${store.name}…`}
          onInput={(e) => setQuery(e.currentTarget.value)}
          data-testid="store-search-input"
        />
        <button type="submit" class="button" disabled={searching} data-testid="store-search-submit">
          {searching ? 'Searching…' : 'Search'}
        </button>
      </form>
      {results && (
        <div role="status">
          {results.length === 0 ? (
            <p class="muted">No passage matches.</p>
          ) : (
            <ol class="results">
              {results.map((r, i) => {
                const text = hitText(r);
                return (
                  <li key={i} data-testid="search-result">
                    <p>
                      <strong>{r.file || r.filename || r.file_id || 'file'}</strong>
                      {r.heading && <> — {r.heading}</>}
                      {num(r.score) != null && <span class="muted"> · score {r.score.toFixed(3)}</span>}
                    </p>
                    <p class="snippet">{text.length > 400 ? `${text.slice(0, 400)}…` : text}</p>
                  </li>
                );
              })}
            </ol>
          )}
        </div>
      )}
    </section>
  );
}

function Stores({ onForbidden, onError }) {
  const [stores, setStores] = useState(null);
  const [selected, setSelected] = useState(null);
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(null);
  const [status, setStatus] = useState('');

  const handle = (e) => {
    if (e.status === 403) onForbidden();
    else if (e.status !== 401) onError(e.message);
  };

  const load = async (select) => {
    try {
      const found = items(await api('/api/admin/stores'), 'stores');
      setStores(found);
      setSelected((current) => {
        const want = select ?? current;
        if (want != null && found.some((s) => s.name === want)) return want;
        return found[0]?.name ?? null;
      });
    } catch (e) {
      setStores((s) => s || []);
      handle(e);
    }
  };
  useEffect(() => {
    load();
  }, []);

  const create = async (event) => {
    event.preventDefault();
    const wanted = name.trim();
    if (!wanted) return;
    setBusy('create');
    try {
      const created = await api('/api/admin/stores', { method: 'POST', body: { name: wanted } });
      setName('');
      setStatus(`Created ${created?.name || wanted}.`);
      await load(created?.name || wanted);
    } catch (e) {
      handle(e);
    } finally {
      setBusy(null);
    }
  };

  const reindex = async (store) => {
    setBusy(`reindex:${store.name}`);
    setStatus(`Re-indexing ${store.name}…`);
    try {
      const body = obj(await api(`/api/admin/stores/${seg(store.name)}/reindex`, { method: 'POST' }));
      setStatus(`Re-indexed ${body.store || store.name}: ${formatNumber(num(body.chunks))} chunks.`);
      await load();
    } catch (e) {
      setStatus('');
      handle(e);
    } finally {
      setBusy(null);
    }
  };

  const remove = async (store) => {
    if (!window.confirm(`Delete the knowledge store “${store.name}” and all its files? This cannot be undone.`)) return;
    setBusy(`delete:${store.name}`);
    try {
      await api(`/api/admin/stores/${seg(store.name)}`, { method: 'DELETE' });
      setStatus(`Deleted ${store.name}.`);
      await load(selected === store.name ? null : selected);
    } catch (e) {
      handle(e);
    } finally {
      setBusy(null);
    }
  };

  const current = stores?.find((s) => s.name === selected) || null;

  return (
    <section id="stores" class="admin-section" aria-labelledby="stores-title">
      <div class="section-head">
        <h2 id="stores-title">Knowledge stores</h2>
      </div>
      <form class="row wrap" onSubmit={create}>
        <label for="store-create-name">New store</label>
        <input
          id="store-create-name"
          type="text"
          value={name}
          onInput={(e) => setName(e.currentTarget.value)}
          pattern="[a-z0-9_\-]{1,64}"
          title="1 to 64 characters: a to z, 0 to 9, - and _"
          placeholder="pricing-notes"
          autocomplete="off"
          aria-describedby="store-name-hint"
          data-testid="store-create-name"
        />
        <button type="submit" class="button primary" disabled={busy === 'create'} data-testid="store-create-submit">
          Create
        </button>
        <span id="store-name-hint" class="hint">
          Lower-case letters, digits, - and _
        </span>
      </form>
      <p role="status" class="status-line">
        {status}
      </p>
      {stores === null ? (
        <p class="muted">Loading…</p>
      ) : (
        <div class="table-wrap" tabIndex={0} role="region" aria-labelledby="stores-caption">
          <table data-testid="stores-table">
            <caption id="stores-caption" class="visually-hidden">
              All knowledge stores
            </caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col" class="num">
                  Files
                </th>
                <th scope="col" class="num">
                  Chunks
                </th>
                <th scope="col" class="num">
                  Size
                </th>
                <th scope="col">Embedder</th>
                <th scope="col" class="num">
                  Version
                </th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {stores.length === 0 && (
                <tr>
                  <td colSpan={8} class="muted">
                    No knowledge stores.
                  </td>
                </tr>
              )}
              {stores.map((s) => (
                <tr
                  key={s.id ?? s.name}
                  class={s.name === selected ? 'selected' : undefined}
                  aria-selected={s.name === selected ? 'true' : undefined}
                  data-testid="store-row"
                  data-store-name={s.name}
                  onClick={() => setSelected(s.name)}
                >
                  <th scope="row">
                    <button
                      type="button"
                      class="link-button"
                      aria-pressed={s.name === selected ? 'true' : 'false'}
                      onClick={() => setSelected(s.name)}
                    >
                      {s.name}
                    </button>
                  </th>
                  <td class="num">{formatNumber(num(s.files))}</td>
                  <td class="num">{formatNumber(num(s.chunks))}</td>
                  <td class="num">{formatBytes(num(s.bytes))}</td>
                  <td>{s.embedder || DASH}</td>
                  <td class="num">{formatNumber(num(s.version))}</td>
                  <td>{formatDate(s.created_at, false)}</td>
                  <td class="actions">
                    <button
                      type="button"
                      class="button small"
                      disabled={busy != null}
                      onClick={() => reindex(s)}
                      data-testid="reindex"
                    >
                      Re-index<span class="visually-hidden"> {s.name}</span>
                    </button>
                    <button
                      type="button"
                      class="button small danger"
                      disabled={busy != null}
                      onClick={() => remove(s)}
                      data-testid="store-delete"
                    >
                      Delete<span class="visually-hidden"> {s.name}</span>
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {current && (
        <StoreDetail
          key={current.name}
          store={current}
          onChanged={() => load()}
          onForbidden={onForbidden}
          onError={onError}
        />
      )}
    </section>
  );
}

// ---- users ----

function Users({ onForbidden, onError }) {
  const [users, setUsers] = useState(null);
  const [after, setAfter] = useState(null);
  const [more, setMore] = useState(false);
  const [loading, setLoading] = useState(false);

  const load = async (from) => {
    setLoading(true);
    try {
      const body = await api(`/api/admin/users?limit=50&after=${from ? encodeURIComponent(from) : ''}`);
      const page = items(body, 'users');
      setUsers((prev) => (from ? [...(prev || []), ...page] : page));
      setMore(Boolean(body?.has_more));
      setAfter(body?.last_user ?? page[page.length - 1]?.user ?? null);
    } catch (e) {
      setUsers((u) => u || []);
      if (e.status === 403) onForbidden();
      else if (e.status !== 401) onError(e.message);
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    load(null);
  }, []);

  return (
    <section id="users" class="admin-section" aria-labelledby="users-title">
      <div class="section-head">
        <h2 id="users-title">Users</h2>
      </div>
      {users === null ? (
        <p class="muted">Loading…</p>
      ) : (
        <div class="table-wrap" tabIndex={0} role="region" aria-labelledby="users-caption">
          <table data-testid="users-table">
            <caption id="users-caption" class="visually-hidden">
              Users with their activity and usage
            </caption>
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Name</th>
                <th scope="col" class="num">
                  Messages
                </th>
                <th scope="col" class="num">
                  Facts
                </th>
                <th scope="col">Last active</th>
                <th scope="col" class="num">
                  Tokens
                </th>
                <th scope="col" class="num">
                  Cost
                </th>
              </tr>
            </thead>
            <tbody>
              {users.length === 0 && (
                <tr>
                  <td colSpan={7} class="muted">
                    No users yet.
                  </td>
                </tr>
              )}
              {users.map((u, i) => (
                <tr key={u.user ?? i}>
                  <th scope="row">{u.user ?? DASH}</th>
                  <td>{u.display_name || DASH}</td>
                  <td class="num">{formatNumber(num(u.messages))}</td>
                  <td class="num">{formatNumber(num(u.active_facts))}</td>
                  <td>{u.last_active_at ? <time dateTime={u.last_active_at}>{formatDate(u.last_active_at)}</time> : DASH}</td>
                  <td class="num">{formatNumber(num(u.tokens))}</td>
                  <td class="num">{formatUsd(num(u.cost_usd))}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {more && (
        <button type="button" class="button" onClick={() => load(after)} disabled={loading}>
          {loading ? 'Loading…' : 'Load more'}
        </button>
      )}
    </section>
  );
}

// ---- page ----

function AdminPage({ config }) {
  const titles = useMemo(() => {
    const t = { ...DEFAULT_TITLES };
    for (const a of config.assistants) if (a.title) t[a.id] = a.title;
    return t;
  }, [config]);
  const [forbidden, setForbidden] = useState(false);
  const [error, setError] = useState('');
  const onForbidden = () => setForbidden(true);

  if (forbidden) {
    return (
      <main id="main" class="admin">
        <h1>Administration</h1>
        <ErrorAlert message="This page needs the admin role. Sign in with an admin API key or token." />
        <p>
          <a href="/">Back to the coach</a>
        </p>
      </main>
    );
  }

  return (
    <main id="main" class="admin">
      <h1>Administration</h1>
      <nav aria-label="Sections" class="section-nav">
        <a href="#overview">Overview</a>
        <a href="#stores">Knowledge stores</a>
        <a href="#users">Users</a>
      </nav>
      <ErrorAlert message={error} onDismiss={() => setError('')} />
      <Analytics titles={titles} onForbidden={onForbidden} />
      <Stores onForbidden={onForbidden} onError={setError} />
      <Users onForbidden={onForbidden} onError={setError} />
    </main>
  );
}

mount(AdminPage, {
  title: 'Admin',
  headerLinks: (
    <a class="button subtle" href="/">
      Chat
    </a>
  ),
});
