// Shared by the todo app (/) and the operator console (/ops): calls to /api with the page session, DOM helpers.
// The session cookie is HttpOnly: scripts never see it. Unsafe requests carry the session's CSRF token, which only
// a page of this origin can read (GET /api/session); the server refuses a cookie request without it.

let csrfToken = null;

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
  // "title: detail" plus the field errors of a 400, readable as one sentence.
  describe() {
    const errors = this.problem.errors ? Object.entries(this.problem.errors).map(([f, m]) => `${f} ${[].concat(m).join(', ')}`) : [];
    return [this.problem.title, this.problem.detail, ...errors].filter(Boolean).join(': ') || this.message;
  }
}

export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  const response = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { detail: text }; }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// The signed-in user, or null. Keeps the CSRF token for later unsafe requests.
export async function loadSession() {
  try {
    const session = await api('GET', '/api/session');
    csrfToken = session.csrfToken;
    return session;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return null;
    throw e;
  }
}

export async function signIn(body) {
  const session = await api('POST', '/api/session', body);
  csrfToken = session.csrfToken;
  return session;
}

export async function signOut() {
  await api('DELETE', '/api/session');
  csrfToken = null;
}

// el('td', { class: 'num' }, 'text', childNode): text children are text nodes, never HTML.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export const $ = (selector, root = document) => root.querySelector(selector);

export function show(node, visible) { node.classList.toggle('hidden', !visible); }

// Messages in an aria-live region, so screen readers hear what an action did.
export function say(node, text, isError = false) {
  node.textContent = text || '';
  node.classList.toggle('error', !!isError);
}

export function fmtNumber(n, digits = 0) {
  return n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function fmtDate(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
}

export function fmtDay(iso) { return iso ? new Date(iso).toISOString().slice(0, 10) : ''; }

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export function badge(status) { return el('span', { class: `badge s-${status}` }, status); }

// A modal confirmation (<dialog>): resolves true on confirm. Focus starts on Cancel, so Enter does not confirm by accident.
export function confirmDialog(title, text, confirmLabel) {
  return new Promise(resolve => {
    const dialog = el('dialog', { 'aria-labelledby': 'confirm-title' },
      el('h2', { id: 'confirm-title' }, title),
      el('p', {}, text));
    const cancel = el('button', { type: 'button' }, 'Cancel');
    const ok = el('button', { type: 'button', class: 'primary' }, confirmLabel);
    dialog.append(el('div', { class: 'actions' }, cancel, ok));
    const done = value => { dialog.close(); dialog.remove(); resolve(value); };
    cancel.addEventListener('click', () => done(false));
    ok.addEventListener('click', () => done(true));
    dialog.addEventListener('cancel', e => { e.preventDefault(); done(false); });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}

// A table from rows (objects) and columns [{ key, label, num, render }].
export function table(rows, columns, caption) {
  return el('table', {},
    caption ? el('caption', { class: 'muted' }, caption) : null,
    el('thead', {}, el('tr', {}, columns.map(c => el('th', { scope: 'col', class: c.num ? 'num' : null }, c.label)))),
    el('tbody', {}, rows.map(r => el('tr', {}, columns.map(c => el('td', { class: c.num ? 'num' : null },
      c.render ? c.render(r) : (c.num ? fmtNumber(r[c.key], c.digits || 0) : (r[c.key] ?? '')))))))
  );
}
