// Checks the Grafana dashboard (deploy/grafana/brandcoach.json) and, given a saved /metrics
// exposition, that every metric the dashboard and the alerting rules query exists in it.
//
// Usage: node check_dashboard.mjs DASHBOARD_JSON [--rules ALERTS_YML] [--metrics METRICS_FILE]
//                                 [--emit-rules OUT_YML]
//
// Structure: valid JSON; title, uid and schemaVersion; the ${datasource} variable (a Prometheus data
// source); unique panel ids; every panel a known type with a title and an integer gridPos inside the
// 24 columns, no two overlapping; every non-row panel on the ${datasource} variable with targets
// that each have an expr and a refId unique within the panel.
// --metrics: every metric name in a panel expr and in an expr of --rules must be in the exposition
// (a histogram's or summary's _bucket, _sum and _count series count as present with its TYPE line).
// --emit-rules: writes each panel expr as a recording rule (Grafana's interval variables replaced by
// durations), for promtool check rules to parse the PromQL.
// Prints one line per problem, naming the panel, and exits 1 when there is any.
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';

const usage = 'usage: check_dashboard.mjs DASHBOARD_JSON [--rules ALERTS_YML] [--metrics METRICS_FILE] [--emit-rules OUT_YML]';

function parseArgs(argv) {
  const args = { dashboard: null, rules: null, metrics: null, emitRules: null };
  const flags = { '--rules': 'rules', '--metrics': 'metrics', '--emit-rules': 'emitRules' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg in flags) {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value\n${usage}`);
      args[flags[arg]] = argv[++i];
    } else if (arg.startsWith('-') || args.dashboard !== null) {
      throw new Error(`unexpected argument ${arg}\n${usage}`);
    } else {
      args.dashboard = arg;
    }
  }
  if (args.dashboard === null) throw new Error(usage);
  return args;
}

// Grafana's core panel types; a misspelt type renders as an error panel.
const PANEL_TYPES = new Set([
  'alertlist', 'annolist', 'barchart', 'bargauge', 'candlestick', 'canvas', 'dashlist', 'datagrid',
  'flamegraph', 'gauge', 'geomap', 'heatmap', 'histogram', 'logs', 'news', 'nodeGraph', 'piechart',
  'row', 'stat', 'state-timeline', 'status-history', 'table', 'text', 'timeseries', 'traces',
  'trend', 'xychart',
]);
// Panels that show no query results.
const NO_QUERY_TYPES = new Set(['row', 'text', 'news', 'dashlist', 'alertlist', 'annolist']);
const GRID_COLUMNS = 24;

// Grafana's built-in interval variables and a duration or number that stands for each in PromQL.
const BUILTIN_VARIABLES = {
  __rate_interval: '5m',
  __interval: '1m',
  __range: '6h',
  __range_s: '21600',
  __range_ms: '21600000',
  __interval_ms: '60000',
};

// Series Prometheus adds to every scrape or evaluation, never in a target's exposition.
const PROMETHEUS_SERIES = new Set([
  'up', 'scrape_duration_seconds', 'scrape_samples_scraped', 'scrape_samples_post_metric_relabeling',
  'scrape_series_added', 'ALERTS', 'ALERTS_FOR_STATE',
]);

const PROMQL_KEYWORDS = new Set([
  'and', 'or', 'unless', 'bool', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right',
  'offset', 'inf', 'nan',
]);

function panelName(panel) {
  const title = typeof panel?.title === 'string' && panel.title !== '' ? ` "${panel.title}"` : '';
  return `panel ${panel?.id ?? '(no id)'}${title}`;
}

function isInt(value) {
  return Number.isInteger(value);
}

// A panel's or target's datasource refers to the variable: {uid: "${datasource}"} or the legacy
// string form.
function refersToVariable(datasource, variable) {
  const forms = new Set([`$${variable}`, `\${${variable}}`]);
  if (typeof datasource === 'string') return forms.has(datasource);
  return datasource !== null && typeof datasource === 'object' && forms.has(datasource.uid);
}

// Replaces Grafana variables in a PromQL expression with values PromQL parses; reports unknown ones.
function substituteVariables(expr, problem) {
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (match, braced, bare) => {
    const name = braced ?? bare;
    if (name in BUILTIN_VARIABLES) return BUILTIN_VARIABLES[name];
    problem(`uses variable ${match}, which the checker does not know (only ${Object.keys(BUILTIN_VARIABLES).map((v) => '$' + v).join(', ')})`);
    return '5m';
  });
}

// The metric names a PromQL expression selects: identifiers left after removing strings, label
// matchers, range and subquery brackets, by/without/on/ignoring/group_* label lists, offset
// durations, numbers, function and aggregation names (an identifier before "(") and keywords.
function metricNames(expr) {
  let s = expr;
  s = s.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ');
  s = s.replace(/\$\{[^}]*\}|\$\w+/g, ' ');
  s = s.replace(/\{[^}]*\}/g, ' ');
  s = s.replace(/\[[^\]]*\]/g, ' ');
  s = s.replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, ' ');
  s = s.replace(/\boffset\s+-?[\w.]+/gi, ' ');
  s = s.replace(/@\s*(?:start\(\)|end\(\)|[\d.]+)/g, ' ');
  s = s.replace(/(?<![\w:.])(?:0x[0-9a-f]+|\d[\d.]*(?:e[+-]?\d+)?[a-z]*|\.\d+(?:e[+-]?\d+)?)/gi, ' ');
  const names = new Set();
  for (const match of s.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const name = match[0];
    const rest = s.slice(match.index + name.length);
    if (/^\s*\(/.test(rest)) continue;  // a function or an aggregation
    if (PROMQL_KEYWORDS.has(name.toLowerCase())) continue;
    names.add(name);
  }
  return names;
}

// The names a text exposition defines: sample names, and the names of HELP and TYPE lines, with a
// histogram's or summary's _bucket, _sum and _count series.
function expositionNames(text) {
  const names = new Set();
  for (const line of text.split('\n')) {
    const meta = line.match(/^#\s*(HELP|TYPE)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\s+(\S+))?/);
    if (meta) {
      const [, kind, name, type] = meta;
      names.add(name);
      if (kind === 'TYPE' && type === 'histogram') {
        for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
      } else if (kind === 'TYPE' && type === 'summary') {
        for (const suffix of ['_sum', '_count']) names.add(name + suffix);
      }
      continue;
    }
    if (line.startsWith('#')) continue;
    const sample = line.match(/^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)/);
    if (sample) names.add(sample[1]);
  }
  return names;
}

// The expr of every rule in a Prometheus rules file, with the rule's name. Handles what rules files
// use: `expr: one line`, quoted scalars, plain scalars continued on more indented lines, and block
// scalars (`expr: |`, `expr: >-`). Enough for alerts.yml; not a general YAML parser.
function ruleExprs(text) {
  const lines = text.split('\n');
  const indentOf = (line) => line.match(/^ */)[0].length;
  const exprs = [];
  let rule = '(unnamed rule)';
  for (let i = 0; i < lines.length; i++) {
    const named = lines[i].match(/^\s*(?:-\s+)?(?:alert|record):\s*(.+?)\s*$/);
    if (named) rule = named[1].replace(/^["']|["']$/g, '');
    const keyed = lines[i].match(/^(\s*(?:-\s+)?)expr:(.*)$/);
    if (!keyed) continue;
    const keyColumn = keyed[1].length;
    const line = i + 1;
    let value = keyed[2].trim();
    const continuation = [];
    while (i + 1 < lines.length && (lines[i + 1].trim() === '' || indentOf(lines[i + 1]) > keyColumn)) {
      continuation.push(lines[++i]);
    }
    while (continuation.length > 0 && continuation[continuation.length - 1].trim() === '') continuation.pop();
    if (/^[|>][+-]?\d*(\s+#.*)?$/.test(value)) {
      exprs.push({ rule, line, expr: continuation.join('\n') });
    } else if (value.startsWith('"')) {
      if (continuation.length > 0) throw new Error(`line ${line}: multi-line quoted expr is not supported; use a block scalar (expr: |)`);
      exprs.push({ rule, line, expr: JSON.parse(value.replace(/\s+#.*$/, '')) });
    } else if (value.startsWith("'")) {
      if (continuation.length > 0) throw new Error(`line ${line}: multi-line quoted expr is not supported; use a block scalar (expr: |)`);
      const quoted = value.match(/^'((?:[^']|'')*)'/);
      if (!quoted) throw new Error(`line ${line}: unterminated single-quoted expr`);
      exprs.push({ rule, line, expr: quoted[1].replace(/''/g, "'") });
    } else {
      value = [value, ...continuation.map((l) => l.trim())].join(' ').replace(/\s+#.*$/, '');
      exprs.push({ rule, line, expr: value });
    }
  }
  return exprs;
}

// Structural checks; returns the panels' queries. Problems are pushed prefixed with the file name.
function checkDashboard(file, dashboard, allProblems) {
  const problems = { push: (message) => allProblems.push(`${file}: ${message}`) };
  const top = (message) => problems.push(message);
  if (dashboard === null || typeof dashboard !== 'object' || Array.isArray(dashboard)) {
    top('the dashboard is not a JSON object');
    return [];
  }
  for (const key of ['title', 'uid']) {
    if (typeof dashboard[key] !== 'string' || dashboard[key] === '') top(`dashboard ${key} is missing or empty`);
  }
  if (!isInt(dashboard.schemaVersion)) top('dashboard schemaVersion is missing or not an integer');

  const variables = dashboard.templating?.list;
  const datasourceVariable = Array.isArray(variables)
    ? variables.find((v) => v?.type === 'datasource')
    : undefined;
  let variable = 'datasource';
  if (!datasourceVariable) {
    top('templating.list has no variable of type datasource (the ${datasource} the panels use)');
  } else {
    variable = datasourceVariable.name;
    if (variable !== 'datasource') top(`the datasource variable is named "${variable}", expected "datasource"`);
    if (datasourceVariable.query !== 'prometheus') top(`the datasource variable queries "${datasourceVariable.query}", expected "prometheus"`);
  }

  if (!Array.isArray(dashboard.panels) || dashboard.panels.length === 0) {
    top('the dashboard has no panels');
    return [];
  }

  const ids = new Map();
  const queries = [];
  // Panels laid out together: the top level, and the panels kept inside each collapsed row.
  const layers = [{ where: 'the dashboard', panels: dashboard.panels }];
  for (const panel of dashboard.panels) {
    if (panel?.type === 'row' && Array.isArray(panel.panels) && panel.panels.length > 0) {
      layers.push({ where: `collapsed row ${panelName(panel)}`, panels: panel.panels });
    }
  }

  for (const { panels } of layers) {
    const placed = [];
    for (const panel of panels) {
      const name = panelName(panel);
      const problem = (message) => problems.push(`${name}: ${message}`);
      if (panel === null || typeof panel !== 'object') {
        top(`a panel is not an object: ${JSON.stringify(panel)}`);
        continue;
      }
      if (!isInt(panel.id)) problem('id is missing or not an integer');
      else if (ids.has(panel.id)) problem(`id ${panel.id} is also the id of ${ids.get(panel.id)}`);
      else ids.set(panel.id, name);

      const isRow = panel.type === 'row';
      if (typeof panel.type !== 'string' || panel.type === '') problem('type is missing');
      else if (!PANEL_TYPES.has(panel.type)) problem(`type "${panel.type}" is not a Grafana panel type`);
      if (typeof panel.title !== 'string' || panel.title === '') problem('title is missing');

      const grid = panel.gridPos;
      if (grid === undefined && isRow) {
        // A row without a position gets one from Grafana.
      } else if (grid === null || typeof grid !== 'object') {
        problem('gridPos is missing');
      } else {
        const bad = ['h', 'w', 'x', 'y'].filter((k) => !isInt(grid[k]) || grid[k] < 0);
        if (bad.length > 0) {
          problem(`gridPos ${bad.join(', ')}: not an integer >= 0 (gridPos ${JSON.stringify(grid)})`);
        } else if (grid.h < 1 || grid.w < 1) {
          problem(`gridPos h and w must be at least 1 (gridPos ${JSON.stringify(grid)})`);
        } else if (grid.w > GRID_COLUMNS || grid.x + grid.w > GRID_COLUMNS) {
          problem(`gridPos reaches past column ${GRID_COLUMNS}: x ${grid.x} + w ${grid.w}`);
        } else {
          for (const other of placed) {
            const g = other.grid;
            if (grid.x < g.x + g.w && g.x < grid.x + grid.w && grid.y < g.y + g.h && g.y < grid.y + grid.h) {
              problem(`gridPos ${JSON.stringify(grid)} overlaps ${other.name} at ${JSON.stringify(g)}`);
            }
          }
          placed.push({ name, grid });
        }
      }

      if (isRow || NO_QUERY_TYPES.has(panel.type)) continue;
      if (!refersToVariable(panel.datasource, variable)) {
        problem(`datasource ${JSON.stringify(panel.datasource)} does not refer to the \${${variable}} variable`);
      }
      if (!Array.isArray(panel.targets) || panel.targets.length === 0) {
        problem('has no targets');
        continue;
      }
      const refIds = new Set();
      panel.targets.forEach((target, index) => {
        const which = `target ${index + 1}${typeof target?.refId === 'string' ? ` (refId ${target.refId})` : ''}`;
        if (target === null || typeof target !== 'object') {
          problem(`${which} is not an object`);
          return;
        }
        if (typeof target.refId !== 'string' || target.refId === '') problem(`${which} has no refId`);
        else if (refIds.has(target.refId)) problem(`${which}: refId ${target.refId} is used twice in the panel`);
        else refIds.add(target.refId);
        if (target.datasource !== undefined && !refersToVariable(target.datasource, variable)) {
          problem(`${which}: datasource ${JSON.stringify(target.datasource)} does not refer to the \${${variable}} variable`);
        }
        if (typeof target.expr !== 'string' || target.expr.trim() === '') {
          problem(`${which} has no expr`);
          return;
        }
        queries.push({ panel, refId: target.refId, expr: target.expr, problem: (m) => problem(`${which}: ${m}`) });
      });
    }
  }
  return queries;
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const problems = [];

  let dashboard;
  try {
    dashboard = JSON.parse(readFileSync(args.dashboard, 'utf8'));
  } catch (error) {
    console.error(`${args.dashboard}: not valid JSON: ${error.message}`);
    process.exit(1);
  }
  const queries = checkDashboard(args.dashboard, dashboard, problems);

  // PromQL with Grafana's variables replaced, as recording rules for promtool check rules.
  const recorded = [];
  for (const query of queries) {
    const promql = substituteVariables(query.expr, query.problem);
    const ref = String(query.refId ?? 'X').replace(/[^a-zA-Z0-9_]/g, '_');
    recorded.push({ record: `dashboard:panel_${query.panel.id}:${ref}`, expr: promql });
  }
  if (args.emitRules) {
    const body = recorded
      .map((r) => `      - record: ${r.record}\n        expr: ${JSON.stringify(r.expr)}\n`)
      .join('');
    writeFileSync(args.emitRules, `# Generated by check_dashboard.mjs from ${basename(args.dashboard)}.\ngroups:\n  - name: dashboard\n    rules:\n${body}`);
  }

  let rules = [];
  if (args.rules) {
    try {
      rules = ruleExprs(readFileSync(args.rules, 'utf8'));
      if (rules.length === 0) problems.push(`${args.rules}: no rule has an expr`);
    } catch (error) {
      problems.push(`${args.rules}: ${error.message}`);
    }
  }

  let checkedNames = 0;
  if (args.metrics) {
    const known = expositionNames(readFileSync(args.metrics, 'utf8'));
    if (known.size === 0) {
      problems.push(`${args.metrics}: no metrics in the exposition`);
    } else {
      const checkNames = (expr, report) => {
        for (const name of metricNames(expr)) {
          checkedNames++;
          if (!known.has(name) && !PROMETHEUS_SERIES.has(name)) report(name);
        }
      };
      for (const query of queries) {
        checkNames(query.expr, (metric) => query.problem(`metric ${metric} is not in ${args.metrics}`));
      }
      for (const { rule, line, expr } of rules) {
        checkNames(expr, (metric) => problems.push(`${args.rules}:${line}: rule ${rule}: metric ${metric} is not in ${args.metrics}`));
      }
    }
  }

  if (problems.length > 0) {
    for (const message of problems) console.error(message);
    console.error(`${problems.length} problem${problems.length === 1 ? '' : 's'}`);
    process.exit(1);
  }
  const panels = dashboard.panels.length;
  const names = args.metrics ? `, ${checkedNames} metric references found in ${basename(args.metrics)}` : '';
  console.log(`${args.dashboard}: OK (${panels} panels, ${queries.length} queries${names})`);
}

try {
  main();
} catch (error) {
  console.error(`check_dashboard: ${error.message}`);
  process.exit(2);
}
