// llmux dashboard: polls /status, /v1/models and /activity once a second, follows /logs/stream, and sends
// load/unload through the admin routes. Every request carries the key kept in sessionStorage (if any) as
// `Authorization: Bearer`; data from the daemon is only ever inserted as text.
'use strict';

const $ = (id) => document.getElementById(id);
const KEY = 'llmux.key';
const WINDOW_MS = 15 * 60 * 1000;  // the timeline's span
let needKey = false;
let logsRunning = false;

function headers(extra) {
  const h = Object.assign({}, extra || {});
  const key = sessionStorage.getItem(KEY);
  if (key) h['Authorization'] = 'Bearer ' + key;
  return h;
}

// fetch with the key; a 401/403 shows the key form and the daemon's reason.
async function call(path, options) {
  const o = Object.assign({}, options || {});
  o.headers = headers(o.headers);
  const res = await fetch(path, o);
  if (res.status === 401 || res.status === 403) {
    let why = res.status + '';
    try { why = (await res.json()).error.message; } catch (e) { /* not JSON */ }
    needKey = true;
    showKeyForm(true);
    throw new Error(why);
  }
  return res;
}

async function getJson(path) {
  const res = await call(path);
  if (!res.ok) throw new Error(path + ': HTTP ' + res.status);
  return res.json();
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function bytes(n) {
  if (n === null || n === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + ' ' + units[i];
}

function secs(s) {
  if (s === null || s === undefined) return '–';
  if (s < 1) return Math.round(s * 1000) + ' ms';
  if (s < 120) return s.toFixed(1) + ' s';
  if (s < 7200) return Math.round(s / 60) + ' min';
  return (s / 3600).toFixed(1) + ' h';
}

function banner(text) {
  $('banner').textContent = text || '';
  $('banner').classList.toggle('hidden', !text);
}

function showKeyForm(show) { $('key-form').classList.toggle('hidden', !show); }

// Every resident engine, in start order: `workers` (an llmux from before co-residency has only `worker`).
function residents(st) {
  if (Array.isArray(st.workers)) return st.workers;
  return st.worker ? [st.worker] : [];
}

function workerFacts(w, st) {
  const facts = [['pid', w.pid], ['port', w.port], ['in flight', w.inFlight],
    ['queued', w.queued === undefined ? st.queue.length : w.queued],
    ['loaded in', secs(w.loadSeconds)], ['up', secs(w.uptimeSeconds)],
    ['idle', w.idleSeconds === null ? 'busy' : secs(w.idleSeconds)],
    ['unloads in', w.pinned ? 'never (pinned)' : w.ttlRemainingSeconds === null ? '–' : secs(w.ttlRemainingSeconds)]];
  if (w.lastUsedSeconds !== undefined && w.lastUsedSeconds !== null) facts.push(['last used', secs(w.lastUsedSeconds) + ' ago']);
  if (w.memory) facts.push(['memory', bytes(w.memory.rssBytes) + ' of ~' + bytes(w.memory.estimateBytes) + ' estimated']);
  return facts;
}

// One resident: its model, state, pin, unload button, facts and (while it starts) the engine's last line.
function workerBlock(w, st) {
  const div = el('div', null, 'worker');
  div.dataset.model = w.model;
  const head = el('div', null, 'worker-head');
  head.append(el('strong', w.model, 'worker-model'), el('span', w.state, 'state worker-state ' + w.state));
  if (w.pinned) head.append(el('span', 'pinned', 'pin'));
  const unload = el('button', 'unload', 'unload-btn');
  unload.type = 'button';
  unload.dataset.model = w.model;
  head.append(unload);
  const dl = el('dl', null, 'worker-facts');
  for (const [k, v] of workerFacts(w, st)) dl.append(el('dt', k), el('dd', v));
  div.append(head, dl, el('div', w.lastLine || '', 'worker-line muted'));
  return div;
}

function renderWorkers(st) {
  const list = residents(st);
  $('worker-none').classList.toggle('hidden', list.length > 0);
  $('workers').replaceChildren(...list.map((w) => workerBlock(w, st)));
  const max = st.system ? st.system.maxResident : undefined;
  $('resident-count').textContent = max === undefined ? '' :
    '(' + list.length + (max === 0 ? ', bounded by memory)' : ' of at most ' + max + ')');
  const f = st.lastStartFailure;
  $('failure').classList.toggle('hidden', !f);
  if (f) $('failure').textContent = 'last failed start: ' + f.model + ': ' + f.reason;
}

function renderMemory(st) {
  const s = st.system || {};
  const p = $('pressure');
  p.textContent = 'pressure: ' + (s.pressure || '?');
  p.className = 'pressure ' + (s.pressure || '');
  $('gauge-budget').classList.toggle('hidden', !s.totalBytes);
  if (!s.totalBytes) { $('gauge-legend').textContent = 'system memory unknown'; return; }
  const total = s.totalBytes;
  const used = total - s.availableBytes;
  const list = residents(st);
  let engine = 0;  // every resident's measured memory, or its estimate before the first sample
  for (const w of list) if (w.memory) engine += w.memory.rssBytes || w.memory.estimateBytes;
  const pct = (n) => Math.max(0, Math.min(100, 100 * n / total)) + '%';
  $('gauge-used').style.width = pct(used);
  $('gauge-engine').style.width = pct(engine);
  $('gauge-budget').style.left = pct(s.budgetBytes);
  $('gauge-legend').textContent = 'in use ' + bytes(used) + ' of ' + bytes(total) + ' · engines ' + bytes(engine) + ' (' + list.length + ' resident)' +
    ' · budget ' + bytes(s.budgetBytes) + ' (red mark) · reserve ' + bytes(s.reserveBytes);
}

function renderModels(list) {
  const body = $('models').tBodies[0];
  body.replaceChildren();
  for (const m of list.data) {
    if (m.alias_of) continue;
    const tr = el('tr');
    tr.dataset.model = m.id;
    const name = m.id + (m.aliases && m.aliases.length ? ' (' + m.aliases.join(', ') + ')' : '');
    const fit = m.footprint ? m.footprint.estimate + (m.footprint.fitsBudget ? '' : ' · over budget') : '–';
    tr.append(el('td', name), el('td', m.state, 'state-cell'), el('td', fit));
    const td = el('td');
    const b = el('button', 'load', 'load-btn');
    b.type = 'button';
    b.dataset.model = m.id;
    b.disabled = m.state !== 'stopped';
    td.append(b);
    tr.append(td);
    body.append(tr);
  }
}

function eventText(e) {
  const when = new Date(e.at).toLocaleTimeString();
  if (e.kind === 'load') return when + '  loaded ' + e.model + ' in ' + secs(e.seconds);
  if (e.kind === 'load_failed') return when + '  failed to load ' + e.model;
  return when + '  unloaded ' + e.model + ' (' + e.reason + ')';
}

function renderActivity(a) {
  const now = new Date(a.now).getTime();
  const tl = $('timeline');
  tl.querySelectorAll('.dot').forEach((d) => d.remove());
  const list = $('events');
  list.replaceChildren();
  for (const e of a.events) {
    const t = new Date(e.at).getTime();
    if (now - t <= WINDOW_MS) {
      const d = el('div', null, 'dot ' + e.kind + (e.reason ? ' ' + e.reason : ''));
      d.style.left = (100 - 100 * (now - t) / WINDOW_MS) + '%';
      d.title = eventText(e);
      tl.append(d);
    }
  }
  for (const e of a.events.slice(-20).reverse()) list.append(el('li', eventText(e)));
  const body = $('requests').tBodies[0];
  body.replaceChildren();
  for (const r of a.requests.slice(-20).reverse()) {
    const tr = el('tr');
    tr.append(el('td', new Date(r.at).toLocaleTimeString()), el('td', r.model || '–'),
      el('td', r.status, r.status >= 400 ? 'status-bad' : ''), el('td', secs(r.ttft)), el('td', secs(r.seconds)),
      el('td', r.completionTokens === null ? '–' : r.completionTokens),
      el('td', r.tokensPerSecond === null ? '–' : r.tokensPerSecond.toFixed(1)));
    body.append(tr);
  }
}

async function refresh() {
  try {
    const [st, models, activity] = await Promise.all([getJson('/status'), getJson('/v1/models'), getJson('/activity')]);
    $('daemon').textContent = 'llmux ' + st.version + ' · ' + st.listen + ' · up ' + secs(st.uptimeSeconds) +
      (st.config.error ? ' · config edit refused: ' + st.config.error.message : '');
    renderWorkers(st);
    renderMemory(st);
    renderModels(models);
    renderActivity(activity);
    if (!needKey) banner('');
    if (!logsRunning) followLogs();
  } catch (e) {
    banner(needKey ? 'llmux needs a key: ' + e.message : 'cannot reach llmux: ' + e.message);
  }
}

function appendLog(line) {
  const pre = $('logs');
  const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
  const text = new Date(line.time).toLocaleTimeString() + ' ' + line.level + ' ' + line.source +
    (line.model ? ' [' + line.model + ']' : '') + ' ' + line.text + '\n';
  pre.append(document.createTextNode(text));
  while (pre.childNodes.length > 500) pre.removeChild(pre.firstChild);
  if (atEnd) pre.scrollTop = pre.scrollHeight;
}

// /logs/stream through fetch (EventSource cannot send a key), parsed as SSE; reconnects after 2 s.
async function followLogs() {
  logsRunning = true;
  $('logs-state').textContent = '(live)';
  try {
    const res = await call('/logs/stream?tail=100', { headers: { Accept: 'text/event-stream' } });
    if (!res.ok) throw new Error('HTTP ' + res.status);
    $('logs').replaceChildren();
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let end;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const event = buf.slice(0, end);
        buf = buf.slice(end + 2);
        for (const l of event.split('\n'))
          if (l.startsWith('data: ')) { try { appendLog(JSON.parse(l.slice(6))); } catch (e) { /* skip */ } }
      }
    }
  } catch (e) {
    /* shown below */
  }
  $('logs-state').textContent = '(disconnected, retrying)';
  setTimeout(() => { logsRunning = false; }, 2000);
}

async function post(path, body, button) {
  if (button) button.disabled = true;
  try {
    const res = await call(path, { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body) });
    if (!res.ok) {
      let why = 'HTTP ' + res.status;
      try { why = (await res.json()).error.message; } catch (e) { /* not JSON */ }
      banner(path + ': ' + why);
    }
  } catch (e) {
    banner(path + ': ' + e.message);
  }
  refresh();
}

function start() {
  $('models').addEventListener('click', (ev) => {
    const b = ev.target.closest('.load-btn');
    if (b) post('/models/load', { model: b.dataset.model }, b);
  });
  $('workers').addEventListener('click', (ev) => {
    const b = ev.target.closest('.unload-btn');
    if (b) post('/models/unload', { model: b.dataset.model }, b);
  });
  $('key-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(KEY, $('key').value);
    $('key').value = '';
    needKey = false;
    banner('');
    refresh();
  });
  $('key-forget').addEventListener('click', () => { sessionStorage.removeItem(KEY); showKeyForm(true); });
  showKeyForm(!!sessionStorage.getItem(KEY));
  refresh();
  setInterval(refresh, 1000);
}

start();
