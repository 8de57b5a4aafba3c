// The todo application (/): dashboard, list with filters and keyset pages, edit dialog with subtasks, projects.
// Every change goes through the same /api endpoints as curl; this script only renders and sends.
import { api, ApiError, loadSession, signIn, signOut, el, $, show, say, fmtDay, badge, confirmDialog } from './common.js';

const PRIORITIES = ['0 none', '1 low', '2 medium', '3 high', '4 urgent'];
const status = $('#status');
const dialogStatus = $('#dialog-status');
let projects = [];
// Keyset pages: the cursors of the pages seen so far, so "Previous" goes back without offsets.
let pages = [null];
let pageIndex = 0;
let openTodo = null;

function report(e) {
  say(status, e instanceof ApiError ? e.describe() : String(e.message || e), true);
}

// The day a date input names, due at its end (UTC), so a todo due today is not overdue this morning.
const dueFromInput = value => (value ? `${value}T23:59:59Z` : null);

async function start() {
  for (const select of ['#new-priority', '#edit-priority']) {
    $(select).replaceChildren(...PRIORITIES.map((p, i) => el('option', { value: i }, p)));
  }

  const params = new URLSearchParams(location.search);
  const code = new URLSearchParams(location.hash.slice(1)).get('code');
  if (code) {
    // Off the address bar and out of the history before anything else: the code is for this one exchange.
    history.replaceState(null, '', '/' + location.search);
    try {
      await signIn({ code });
    } catch (e) {
      report(e);
    }
  }

  const session = await loadSession();
  if (!session) {
    show($('#sign-in'), true);
    return;
  }

  if (params.get('next') === 'ops' && session.operator) {
    location.assign('/ops');
    return;
  }

  show($('#sign-in'), false);
  show($('#app'), true);
  show($('#nav'), true);
  show($('#sign-out'), true);
  show($('#ops-link'), session.operator);
  $('#who').textContent = session.email || session.userId;
  await refreshAll();
}

async function refreshAll() {
  await loadProjects();
  await Promise.all([loadDashboard(), loadPage()]);
}

async function loadDashboard() {
  const d = await api('GET', '/api/dashboard');
  const cards = [
    ['Open', d.byStatus.todo], ['In progress', d.byStatus.inProgress], ['Done', d.byStatus.done],
    ['Overdue', d.overdue], ['Due today', d.dueToday], ['Due this week', d.dueThisWeek], ['Completed this week', d.completedThisWeek],
  ];
  $('#dashboard-cards').replaceChildren(...cards.map(([label, value]) =>
    el('div', { dataset: { card: label } }, el('dt', {}, label), el('dd', {}, value))));
  $('#top-open').replaceChildren(...(d.topOpen.length
    ? d.topOpen.map(t => el('li', {}, el('button', { type: 'button', class: 'linkish', onclick: () => openDialog(t.id) }, t.title),
      ' ', el('span', { class: 'muted' }, `priority ${t.priority}${t.dueDate ? ', due ' + fmtDay(t.dueDate) : ''}`)))
    : [el('li', { class: 'muted' }, 'Nothing open.')]));
}

async function loadProjects() {
  projects = await api('GET', '/api/projects');
  for (const select of document.querySelectorAll('.project-select')) {
    const value = select.value;
    select.replaceChildren(el('option', { value: '' }, select.id === 'filter-project' ? 'any' : 'none'),
      ...projects.map(p => el('option', { value: p.id }, p.name)));
    select.value = projects.some(p => p.id === value) ? value : '';
  }
  if (projects.length === 0) {
    $('#project-table tbody').replaceChildren(el('tr', {}, el('td', { colspan: 4, class: 'muted' }, 'No projects yet.')));
    return;
  }
  $('#project-table tbody').replaceChildren(...projects.map(p => el('tr', {},
    el('td', {}, p.name), el('td', { class: 'num' }, p.openCount), el('td', { class: 'num' }, p.doneCount),
    el('td', { class: 'actions' },
      el('button', { type: 'button', onclick: () => renameProject(p), 'aria-label': `Rename project ${p.name}` }, 'Rename'),
      el('button', { type: 'button', class: 'danger', onclick: () => deleteProject(p), 'aria-label': `Delete project ${p.name}` }, 'Delete')))));
}

function listQuery() {
  const f = $('#filters');
  const q = new URLSearchParams();
  if (f.elements.status.value) q.set('status', f.elements.status.value);
  if (f.elements.project.value) q.set('project_id', f.elements.project.value);
  if (f.elements.dueAfter.value) q.set('due_after', `${f.elements.dueAfter.value}T00:00:00Z`);
  if (f.elements.dueBefore.value) q.set('due_before', `${f.elements.dueBefore.value}T00:00:00Z`);
  if (f.elements.archived.checked) q.set('include_archived', 'true');
  q.set('limit', f.elements.limit.value);
  if (pages[pageIndex]) q.set('cursor', pages[pageIndex]);
  return q;
}

async function loadPage() {
  const page = await api('GET', '/api/todos?' + listQuery());
  const names = new Map(projects.map(p => [p.id, p.name]));
  $('#todo-table tbody').replaceChildren(...(page.items.length ? page.items.map(t => el('tr', { dataset: { id: t.id } },
    el('td', {}, el('button', { type: 'button', class: 'linkish', onclick: () => openDialog(t.id), 'aria-label': `Open ${t.title}` }, t.title),
      t.parentTodoId ? el('span', { class: 'muted' }, ' (subtask)') : null),
    el('td', {}, badge(t.status), t.archived ? el('span', { class: 'muted' }, ' archived') : null),
    el('td', { class: 'num' }, t.priority),
    el('td', {}, fmtDay(t.dueDate)),
    el('td', {}, names.get(t.projectId) || ''),
    el('td', { class: 'actions' },
      t.status === 'done' || t.archived
        ? el('button', { type: 'button', onclick: () => act('reopen', t), 'aria-label': `Reopen ${t.title}` }, 'Reopen')
        : el('button', { type: 'button', onclick: () => act('complete', t), 'aria-label': `Complete ${t.title}` }, 'Complete'),
      el('button', { type: 'button', class: 'danger', onclick: () => deleteTodo(t), 'aria-label': `Delete ${t.title}` }, 'Delete'))))
    : [el('tr', {}, el('td', { colspan: 6, class: 'muted' }, 'No todos match.'))]));
  if (page.nextCursor) pages[pageIndex + 1] = page.nextCursor; else pages.length = pageIndex + 1;
  $('#prev-page').disabled = pageIndex === 0;
  $('#next-page').disabled = !page.nextCursor;
  $('#page-info').textContent = `Page ${pageIndex + 1}`;
}

async function act(verb, todo) {
  try {
    await api('POST', `/api/todos/${todo.id}/${verb}`);
    say(status, `${verb === 'complete' ? 'Completed' : 'Reopened'} “${todo.title}”.`);
    await refreshAll();
  } catch (e) { report(e); }
}

async function deleteTodo(todo) {
  if (!await confirmDialog('Delete todo?', `“${todo.title}” and all its subtasks will be deleted.`, 'Delete')) return;
  try {
    await api('DELETE', `/api/todos/${todo.id}`);
    say(status, `Deleted “${todo.title}”.`);
    if (openTodo?.id === todo.id) $('#todo-dialog').close();
    await refreshAll();
  } catch (e) { report(e); }
}

async function renameProject(p) {
  const dialog = el('dialog', { 'aria-labelledby': 'rename-title' });
  const input = el('input', { id: 'rename-name', value: p.name, required: true, maxlength: 500 });
  const form = el('form', { class: 'stack' }, el('h2', { id: 'rename-title' }, `Rename ${p.name}`),
    el('label', { for: 'rename-name' }, 'New name', input),
    el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'primary' }, 'Rename'),
      el('button', { type: 'button', onclick: () => { dialog.close(); dialog.remove(); } }, 'Cancel')));
  form.addEventListener('submit', async e => {
    e.preventDefault();
    try {
      await api('PUT', `/api/projects/${p.id}`, { name: input.value, description: p.description });
      dialog.close(); dialog.remove();
      say(status, `Renamed to “${input.value}”.`);
      await refreshAll();
    } catch (err) { report(err); }
  });
  dialog.append(form);
  document.body.append(dialog);
  dialog.showModal();
  input.focus();
}

async function deleteProject(p) {
  if (!await confirmDialog('Delete project?', `“${p.name}” will be deleted; its todos stay, without a project.`, 'Delete')) return;
  try {
    await api('DELETE', `/api/projects/${p.id}`);
    say(status, `Deleted project “${p.name}”.`);
    await refreshAll();
  } catch (e) { report(e); }
}

async function openDialog(id) {
  try {
    openTodo = await api('GET', `/api/todos/${id}`);
  } catch (e) { report(e); return; }
  const f = $('#edit-todo');
  f.elements.title.value = openTodo.title;
  f.elements.description.value = openTodo.description || '';
  f.elements.priority.value = openTodo.priority;
  f.elements.status.value = openTodo.status;
  f.elements.due.value = fmtDay(openTodo.dueDate);
  f.elements.project.value = openTodo.projectId || '';
  for (const input of f.elements) if (input.type !== 'button') input.disabled = openTodo.archived;
  show($('#todo-archived-note'), openTodo.archived);
  $('#todo-dialog-title').textContent = openTodo.title;
  say(dialogStatus, '');
  await loadSubtasks();
  const dialog = $('#todo-dialog');
  if (!dialog.open) dialog.showModal();
  f.elements.title.focus();
}

async function loadSubtasks() {
  const subtasks = await api('GET', `/api/todos/${openTodo.id}/subtasks`);
  $('#subtasks').replaceChildren(...(subtasks.length
    ? subtasks.map(s => el('li', {}, badge(s.status), ' ', s.title, s.aiGenerated ? el('span', { class: 'muted' }, ' (suggested)') : null))
    : [el('li', { class: 'muted' }, 'No subtasks.')]));
}

function wire() {
  $('#token-form').addEventListener('submit', async e => {
    e.preventDefault();
    try {
      await signIn({ token: $('#token').value });
      $('#token').value = '';
      location.assign(new URLSearchParams(location.search).get('next') === 'ops' ? '/ops' : '/');
    } catch (err) { report(err); }
  });
  $('#sign-out').addEventListener('click', async () => {
    try { await signOut(); } catch (e) { report(e); return; }
    location.assign('/');
  });
  $('#new-todo').addEventListener('submit', async e => {
    e.preventDefault();
    const f = e.target;
    try {
      const todo = await api('POST', '/api/todos', {
        title: f.elements.title.value, priority: Number(f.elements.priority.value), dueDate: dueFromInput(f.elements.due.value), projectId: f.elements.project.value || null,
      });
      f.elements.title.value = '';
      say(status, `Added “${todo.title}”.`);
      await refreshAll();
      f.elements.title.focus();
    } catch (err) { report(err); }
  });
  $('#filters').addEventListener('submit', async e => {
    e.preventDefault();
    pages = [null]; pageIndex = 0;
    try { await loadPage(); } catch (err) { report(err); }
  });
  $('#next-page').addEventListener('click', async () => { pageIndex++; try { await loadPage(); } catch (e) { report(e); } });
  $('#prev-page').addEventListener('click', async () => { pageIndex = Math.max(0, pageIndex - 1); try { await loadPage(); } catch (e) { report(e); } });
  $('#new-project').addEventListener('submit', async e => {
    e.preventDefault();
    try {
      const p = await api('POST', '/api/projects', { name: e.target.elements.name.value });
      e.target.elements.name.value = '';
      say(status, `Added project “${p.name}”.`);
      await refreshAll();
    } catch (err) { report(err); }
  });
  $('#edit-todo').addEventListener('submit', async e => {
    e.preventDefault();
    const f = e.target;
    try {
      openTodo = await api('PUT', `/api/todos/${openTodo.id}`, {
        title: f.elements.title.value, description: f.elements.description.value || null, priority: Number(f.elements.priority.value),
        status: f.elements.status.value, dueDate: dueFromInput(f.elements.due.value), projectId: f.elements.project.value || null,
      });
      say(dialogStatus, 'Saved.');
      $('#todo-dialog-title').textContent = openTodo.title;
      await refreshAll();
    } catch (err) { say(dialogStatus, err instanceof ApiError ? err.describe() : String(err), true); }
  });
  $('#close-dialog').addEventListener('click', () => $('#todo-dialog').close());
  $('#new-subtask').addEventListener('submit', async e => {
    e.preventDefault();
    try {
      await api('POST', '/api/todos', { title: e.target.elements.title.value, parentTodoId: openTodo.id, projectId: openTodo.projectId });
      e.target.elements.title.value = '';
      say(dialogStatus, 'Subtask added.');
      await loadSubtasks();
      await refreshAll();
    } catch (err) { say(dialogStatus, err instanceof ApiError ? err.describe() : String(err), true); }
  });
  $('#suggest').addEventListener('click', async () => {
    const button = $('#suggest');
    button.disabled = true;
    say(dialogStatus, 'Asking the model for subtasks …');
    try {
      const created = await api('POST', `/api/todos/${openTodo.id}/suggest-subtasks`);
      say(dialogStatus, `${created.length} subtasks suggested and added.`);
      await loadSubtasks();
      await refreshAll();
    } catch (err) {
      say(dialogStatus, err instanceof ApiError && err.status === 503
        ? 'No AI model is configured on this server, so subtasks cannot be suggested. The operator sets Ai__Endpoint, Ai__Model and Ai__ApiKey for todoscale serve.'
        : (err instanceof ApiError ? err.describe() : String(err)), true);
    } finally { button.disabled = false; }
  });
}

wire();
start().catch(report);
