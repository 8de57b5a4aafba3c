// The operator console (/ops): reads /api/ops/*, polls the migration every 2 s while the page is open, and starts the
// two actions (daily job, validation) in the background on the server, showing their progress until they finish.
import { api, ApiError, loadSession, signOut, el, $, say, fmtNumber, fmtDate, fmtDuration, badge, confirmDialog, table } from './common.js';
import { horizontalBars, columns } from './charts.js';

const status = $('#status');
const report = e => say(status, e instanceof ApiError ? e.describe() : String(e.message || e), true);

async function start() {
  const session = await loadSession();
  if (!session) { location.assign('/?next=ops'); return; }
  $('#who').textContent = session.email || session.userId;
  $('#sign-out').addEventListener('click', async () => { try { await signOut(); location.assign('/'); } catch (e) { report(e); } });
  $('#run-daily').addEventListener('click', () => startAction('daily-maintenance'));
  $('#validate').addEventListener('click', () => startAction('validate-migration'));

  await Promise.all([loadMigration(), loadMaintenance(), loadHealth(), loadPartitions(), loadIndexes(),
    optionalPanel('/api/ops/replication', $('#replication-body'), 'replication (standbys)', replicationView),
    optionalPanel('/api/ops/citus', $('#citus-body'), 'Citus', citusView)].map(p => p.catch(report)));
  // Actions started before a reload (or by another operator) keep showing their progress.
  for (const action of await api('GET', '/api/ops/actions')) if (action.state === 'running') follow(action);

  setInterval(() => loadMigration().catch(report), 2000);
  setInterval(() => Promise.all([loadHealth(), loadPartitions(), loadMaintenance()]).catch(report), 30000);
}

async function loadMigration() {
  const live = await api('GET', '/api/ops/migration/live');
  const s = live.status || {};
  $('#migration-state').textContent = s.state || 'unknown';
  $('#migration-updated').textContent = `updated ${new Date().toISOString().slice(11, 19)} UTC`;
  const bar = $('#migration-progress');
  bar.value = live.percent ?? 0;
  bar.textContent = `${live.percent ?? 0} %`;
  bar.setAttribute('aria-valuetext', `${fmtNumber(live.percent, 1)} percent of the rows copied`);
  const figures = [
    ['Rows copied', fmtNumber(s.rows_moved)], ['Rows remaining', fmtNumber(s.rows_remaining)], ['Legacy rows', fmtNumber(s.legacy_rows)],
    ['Progress', live.percent === null ? '–' : `${fmtNumber(live.percent, 1)} %`], ['Rows/s', fmtNumber(live.rowsPerSecond)],
    ['ETA', s.state === 'migrating' ? fmtDuration(live.etaSeconds) : '–'], ['Batches', fmtNumber(s.batches)],
  ];
  $('#migration-figures').replaceChildren(...figures.map(([k, v]) => el('div', { dataset: { figure: k } }, el('dt', {}, k), el('dd', {}, v))));
  $('#batches').replaceChildren(live.batches.length ? table(live.batches, [
    { label: 'Step', render: r => r.step }, { label: 'Status', render: r => badge(r.status) },
    { key: 'rows_moved', label: 'Rows', num: true }, { label: 'Started', render: r => fmtDate(r.start_time) },
    { label: 'ms', num: true, render: r => r.end_time ? fmtNumber(new Date(r.end_time) - new Date(r.start_time)) : '' },
    { key: 'detail', label: 'Detail' },
  ]) : el('p', { class: 'muted' }, 'No batches yet.'));
  if (live.lastValidation && !validationShown) showValidation(live.lastValidation);
}

let validationShown = false;
function showValidation(action) {
  validationShown = true;
  const rows = Array.isArray(action.result) ? action.result : [];
  $('#validation').replaceChildren(
    el('p', {}, 'Validation ', badge(action.state), ` finished ${fmtDate(action.finishedAt)} after ${fmtDuration(action.elapsedMs / 1000)}`),
    action.error ? el('p', { class: 'message error' }, action.error) : '',
    rows.length ? table(rows, [{ key: 'check', label: 'Check' }, { key: 'expected', label: 'Expected' }, { key: 'actual', label: 'Actual' },
      { label: 'Status', render: r => badge(r.status) }], 'validate_migration()') : '');
}

async function loadMaintenance() {
  const runs = await api('GET', '/api/ops/maintenance/runs');
  $('#maintenance-runs').replaceChildren(runs.length
    ? el('ul', { class: 'runs' }, runs.map(run => el('li', {}, el('details', {},
      el('summary', {}, `#${run.id} ${run.job} `, badge(run.status), ` ${fmtDate(run.started_at)} · ${run.steps.length} steps`),
      run.summary ? el('p', { class: 'muted' }, run.summary) : '',
      table(run.steps, [{ key: 'step', label: 'Step' }, { label: 'Status', render: r => badge(r.status) },
        { key: 'rows_affected', label: 'Rows', num: true }, { key: 'duration_ms', label: 'ms', num: true }, { key: 'detail', label: 'Detail' }])))))
    : el('p', { class: 'muted' }, 'No maintenance run recorded yet.'));
}

async function loadHealth() {
  const checks = await api('GET', '/api/ops/health');
  $('#health-checks').replaceChildren(table(checks, [
    { key: 'check_name', label: 'Check' }, { label: 'Status', render: r => badge(r.status) }, { key: 'detail', label: 'Detail' },
  ]));
}

async function loadPartitions() {
  const rows = await api('GET', '/api/ops/partitions');
  const active = rows.filter(r => r.parent_table === 'todos_active')
    .sort((a, b) => Number(a.partition_name.split('_').pop()) - Number(b.partition_name.split('_').pop()));
  $('#active-chart').replaceChildren($('#active-chart figcaption'), horizontalBars(active.map(r => ({
    label: r.partition_name.replace('todos_active_', ''), value: r.row_estimate, valueText: `${fmtNumber(r.row_estimate)} rows`,
    second: Number(r.size_mb), secondText: `${fmtNumber(r.size_mb, 2)} MB`,
  })), { label: 'rows per todos_active partition', secondLabel: 'size in MB' }));
  const months = rows.filter(r => /^todos_archived_\d{4}_\d{2}$/.test(r.partition_name))
    .sort((a, b) => a.partition_name.localeCompare(b.partition_name));
  $('#archive-chart').replaceChildren($('#archive-chart figcaption'), columns(months.map(r => ({
    label: r.partition_name.slice(-7).replace('_', '-'), value: r.row_estimate, valueText: fmtNumber(r.row_estimate),
  })), { label: 'rows per todos_archived month' }));
  $('#partition-table').replaceChildren(table(rows, [
    { key: 'partition_name', label: 'Partition' }, { key: 'parent_table', label: 'Parent' }, { key: 'row_estimate', label: 'Rows', num: true },
    { key: 'dead_rows', label: 'Dead rows', num: true }, { key: 'size_mb', label: 'MB', num: true, digits: 2 },
    { label: 'Last vacuum', render: r => fmtDate(r.last_vacuum) }, { label: 'Last analyze', render: r => fmtDate(r.last_analyze) },
  ]));
}

async function loadIndexes() {
  const rows = await api('GET', '/api/ops/indexes');
  const columns = [
    { key: 'index_name', label: 'Index' }, { key: 'table_name', label: 'Table' }, { key: 'index_scans', label: 'Scans', num: true },
    { key: 'tuples_read', label: 'Tuples read', num: true }, { key: 'size_mb', label: 'MB', num: true, digits: 2 },
  ];
  // Each index of each of the 16 partitions is a row: the most used first, the rest (often the unused ones) folded away.
  const unused = rows.filter(r => r.index_scans === 0).length;
  $('#index-table').replaceChildren(
    el('p', {}, `${fmtNumber(rows.length)} indexes, ${fmtNumber(unused)} never scanned since the statistics were reset.`),
    table(rows.slice(0, 12), columns, 'The 12 most used'),
    rows.length > 12 ? el('details', {}, el('summary', {}, `All ${rows.length} indexes`), table(rows, columns)) : '');
}

// Panels for features other parts of TodoScale add (standbys, Citus): a server without them answers 404.
async function optionalPanel(path, body, what, render = generic) {
  try {
    const data = await api('GET', path);
    body.classList.remove('notconfigured');
    body.replaceChildren(render(data));
  } catch (e) {
    if (e instanceof ApiError && (e.status === 404 || e.status === 503)) {
      body.classList.add('notconfigured');
      body.textContent = `Not configured: this server reports no ${what}.`;
    } else throw e;
  }
}

// GET /api/ops/replication: the primary's replication_status() rows and this API instance's view of each standby.
function replicationView(data) {
  const standbys = data.primary || [];
  const routing = data.routing || [];
  if (standbys.length === 0 && routing.length === 0) {
    return el('p', { class: 'muted' }, 'No standbys: the primary streams to none, and this API instance reads from the primary.');
  }
  return el('div', {},
    standbys.length ? el('h3', {}, 'Standbys as the primary sees them (replication_status())') : null,
    standbys.length ? generic(standbys) : null,
    routing.length ? el('h3', {}, `Reads of this API instance (a standby lagging over ${data.maxLagSeconds} s gets none)`) : null,
    routing.length ? table(routing, [
      { label: 'Standby', render: r => r.node },
      { label: 'Serves reads', render: r => r.servesReads ? 'yes' : 'no' },
      { label: 'Lag (s)', num: true, render: r => r.lagSeconds == null ? '' : fmtNumber(r.lagSeconds, 2) },
      { label: 'Lag (bytes)', num: true, render: r => fmtNumber(r.lagBytes) },
      { label: 'Replay', render: r => r.replayPaused ? 'paused' : (r.reachable ? 'running' : 'unreachable') },
      { label: 'Error', render: r => r.error || '' },
    ]) : null);
}

// GET /api/ops/citus: every node of the Citus cluster with its shards and their size, as bars and as a table.
function citusView(nodes) {
  if (nodes.length === 0) return el('p', { class: 'muted' }, 'Citus is installed, but no node is registered.');
  return el('div', {},
    horizontalBars(nodes.map(n => ({ label: `${n.kind} ${n.port}`, value: Number(n.shards), valueText: `${fmtNumber(n.shards)} shards, ${fmtNumber(n.size_mb, 1)} MB` })),
      { label: 'Shards per Citus node' }),
    table(nodes, [
      { label: 'Node', render: n => `${n.node}:${n.port}` },
      { label: 'Role', render: n => n.kind },
      { label: 'Active', render: n => badge(n.active ? 'OK' : 'CRITICAL') },
      { label: 'Shards', key: 'shards', num: true },
      { label: 'Size (MB)', key: 'size_mb', num: true, digits: 1 },
    ]));
}

function generic(data) {
  if (Array.isArray(data)) {
    if (data.length === 0) return el('p', { class: 'muted' }, 'None.');
    if (typeof data[0] !== 'object') return el('p', {}, data.join(', '));
    return table(data, Object.keys(data[0]).map(k => ({ label: k, render: r => typeof r[k] === 'object' && r[k] !== null ? JSON.stringify(r[k]) : (r[k] ?? '') })));
  }
  if (data && typeof data === 'object') {
    return el('dl', {}, Object.entries(data).flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, typeof v === 'object' && v !== null ? generic(v) : String(v ?? ''))]));
  }
  return el('p', {}, String(data));
}

const ACTIONS = {
  'daily-maintenance': {
    button: '#run-daily', progress: '#daily-progress', title: 'Run the daily maintenance job now?',
    text: 'It archives done todos older than the retention, creates partitions ahead and ANALYZEs what changed, as the 02:00 run does. '
      + 'A run already in progress elsewhere makes this one SKIPPED.', confirm: 'Run daily job', running: 'Running the daily job',
  },
  'validate-migration': {
    button: '#validate', progress: '#validate-progress', title: 'Validate the migration now?',
    text: 'validate_migration() compares the legacy table with the new tables row by row: it reads both tables in full.', confirm: 'Validate', running: 'Validating',
  },
};

async function startAction(kind) {
  const a = ACTIONS[kind];
  if (!await confirmDialog(a.title, a.text, a.confirm)) return;
  try {
    const started = await api('POST', `/api/ops/actions/${kind}`);
    if (started.alreadyRunning) say(status, `${a.running}: already running (started ${fmtDate(started.action.startedAt)}).`);
    follow(started.action);
  } catch (e) { report(e); }
}

// Polls one action until it finishes, with a progress element and the elapsed time, then shows its result.
function follow(action) {
  const a = ACTIONS[action.kind];
  if (!a) return;
  const button = $(a.button);
  const box = $(a.progress);
  button.disabled = true;
  const render = current => box.replaceChildren(
    el('p', {}, `${a.running} … ${fmtDuration(current.elapsedMs / 1000)}`),
    el('progress', { 'aria-label': `${a.running}, in progress` }));
  render(action);
  const timer = setInterval(async () => {
    let current;
    try { current = await api('GET', `/api/ops/actions/${action.id}`); } catch (e) { clearInterval(timer); button.disabled = false; report(e); return; }
    if (current.state === 'running') { render(current); return; }
    clearInterval(timer);
    button.disabled = false;
    if (current.kind === 'validate-migration') {
      box.replaceChildren(el('p', {}, 'Validation finished: ', badge(current.state)));
      showValidation(current);
    } else {
      const result = current.result || {};
      box.replaceChildren(el('p', {}, `Daily job finished (${current.state}) after ${fmtDuration(current.elapsedMs / 1000)}`,
        result.runId ? `: run #${result.runId}` : '', result.skipped ? ' – SKIPPED, another run held the lock' : '', result.failed ? ' – a step FAILED' : ''),
        current.error ? el('p', { class: 'message error' }, current.error) : '');
      await Promise.all([loadMaintenance(), loadHealth(), loadPartitions()]).catch(report);
    }
  }, 1000);
}

start().catch(report);
