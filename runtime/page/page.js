// runtime/page/page.js: the node's status page. It reads the API with the `token` cookie that
// signIn sets, follows /api/events to stay current, and acts through the same routes as any
// client (so it may do exactly what the signed-in user may). Everything the API answers is put
// into the page as text, never as markup.
'use strict';

const $ = (selector) => document.querySelector(selector);

const page = {
  signedIn: false,
  datasources: [],  // views of GET /api/datasources
  // Status and health per datasource as its events (or a read of it) said: the list shows what
  // was last saved, which may lag a moment behind the event that announced a change.
  live: new Map(),
  told: new Map(),  // per datasource, how many events about it arrived (to drop older reads)
  selected: null,   // the datasource whose runs are shown
  events: null,     // the EventSource of /api/events
  refreshTimer: 0,
  settleTimer: 0,
  pollTimer: 0,
};

// --- the API -----------------------------------------------------------------------------------

class api_error extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// A request with the cookie; resolves to the JSON answer, rejects with an api_error that carries
// the API's message.
async function api(method, path, body) {
  const init = {method, credentials: 'same-origin', headers: {Accept: 'application/json'}};
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new api_error(0, 'the node does not answer');
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (e) {
    data = text;
  }
  if (!res.ok) {
    const message = data && typeof data === 'object' && data.message ? data.message : res.status + ' ' + res.statusText;
    throw new api_error(res.status, message);
  }
  return data;
}

function datasource_path(ds) {
  const e = encodeURIComponent;
  return `/api/${e(ds.container)}/${e(ds.account)}/workspaces/${e(ds.workspace)}/${e(ds.id)}`;
}

// --- small helpers -----------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'onclick') e.addEventListener('click', v);
    else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

function badge(text) {
  return el('span', {class: 'status ' + text, 'data-status': text}, text);
}

function button(label, action, onclick, title) {
  return el('button', {type: 'button', 'data-action': action, title, onclick: (ev) => {
    ev.stopPropagation();
    onclick();
  }}, label);
}

function fill(tbody, rows, empty) {
  tbody.replaceChildren(...rows);
  if (empty) $(empty).hidden = rows.length > 0;
}

function ago(ms) {
  if (!ms) return '';
  const s = Math.round((Date.now() - ms) / 1000);
  if (s < -1) return 'in ' + span(-s);
  if (s < 2) return 'now';
  return span(s) + ' ago';
}

function span(s) {
  if (s < 60) return s + ' s';
  if (s < 3600) return Math.round(s / 60) + ' min';
  if (s < 86400) return Math.round(s / 3600) + ' h';
  return Math.round(s / 86400) + ' d';
}

function bytes(n) {
  if (!n) return '0 B';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return (i === 0 ? n : n.toFixed(1)) + ' ' + units[i];
}

function clock(ms) {
  return ms ? new Date(ms).toLocaleTimeString() : '';
}

let message_timer = 0;
function say(text, bad) {
  const m = $('#message');
  m.textContent = text;
  m.className = 'message' + (bad ? ' bad' : '');
  m.hidden = false;
  clearTimeout(message_timer);
  message_timer = setTimeout(() => { m.hidden = true; }, bad ? 20000 : 8000);
}

function summary(answer) {
  const text = typeof answer === 'string' ? answer : JSON.stringify(answer);
  return text.length > 200 ? text.slice(0, 200) + '…' : text;
}

// Runs an action through the API and shows its answer or its error.
async function act(label, method, path, body) {
  try {
    const answer = await api(method, path, body);
    say(label + ': ' + summary(answer));
  } catch (e) {
    say(label + ' failed: ' + e.message, true);
    if (e.status === 401) check_session();
  }
  schedule_refresh(150);
}

// --- signing in and out ------------------------------------------------------------------------

async function check_session() {
  try {
    const me = await api('GET', '/api/verify');
    signed_in(me);
  } catch (e) {
    if (e.status === 401) return show_sign_in();
    set_live('off', 'offline');
    say('The node does not answer (' + e.message + '); trying again.', true);
    setTimeout(check_session, 5000);
  }
}

function show_sign_in() {
  page.signedIn = false;
  stop_events();
  clearInterval(page.pollTimer);
  $('#state').hidden = true;
  $('#node-controls').hidden = true;
  $('#who').hidden = true;
  $('#signin').hidden = false;
  $('#username').focus();
}

function signed_in(me) {
  page.signedIn = true;
  $('#signin').hidden = true;
  $('#state').hidden = false;
  $('#node-controls').hidden = false;
  const who = $('#who');
  who.textContent = 'signed in as ' + (me.username || me._id || '?') + (me.class ? ' (' + me.class + ')' : '');
  who.hidden = false;
  start_events();
  refresh_all(true);
  load_files();
  // Transfer counters move without an event of their own: read them now and then.
  clearInterval(page.pollTimer);
  page.pollTimer = setInterval(() => { load_actors(); load_queue(); }, 10000);
}

$('#signin-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  try {
    const me = await api('POST', '/api/signIn', {username: $('#username').value, password: $('#password').value});
    $('#password').value = '';
    say('Signed in as ' + me.username + '.');
    signed_in(me);
  } catch (e) {
    say('Sign in failed: ' + e.message, true);
  }
});

$('#sign-out').addEventListener('click', async () => {
  try {
    await api('POST', '/api/signOut');
    say('Signed out.');
  } catch (e) {
    say('Sign out failed: ' + e.message, true);
  }
  show_sign_in();
});

for (const b of document.querySelectorAll('[data-node-action]')) {
  const verb = b.getAttribute('data-node-action');
  b.addEventListener('click', () => act(verb === '@pause' ? 'Pause node' : 'Resume node', 'POST', '/api/node/' + verb));
}

// --- live events -------------------------------------------------------------------------------

function set_live(state, text) {
  const l = $('#live');
  l.setAttribute('data-state', state);
  l.textContent = text;
}

function stop_events() {
  if (page.events) page.events.close();
  page.events = null;
  set_live('off', 'offline');
}

function start_events() {
  stop_events();
  const es = new EventSource('/api/events');
  page.events = es;
  set_live('retry', 'connecting');
  es.onopen = () => set_live('on', 'live');
  es.onerror = () => {
    if (es !== page.events) return;
    if (es.readyState === EventSource.CLOSED) {
      // Refused (the token expired or was revoked) or the node went away: find out which.
      page.events = null;
      set_live('off', 'offline');
      setTimeout(() => { if (page.signedIn) check_session(); }, 3000);
    } else {
      set_live('retry', 'reconnecting');  // the browser reconnects with Last-Event-ID
    }
  };
  for (const type of ['datasource', 'health', 'run', 'progress', 'actor'])
    es.addEventListener(type, (ev) => on_event(type, ev));
  // Events were missed: everything is read again.
  es.addEventListener('reset', () => {
    page.live.clear();
    refresh_all(true);
  });
}

function on_event(type, ev) {
  let d;
  try {
    d = JSON.parse(ev.data);
  } catch (e) {
    return;
  }
  if (d.datasource && (type === 'datasource' || type === 'health' || type === 'run')) {
    const live = page.live.get(d.datasource) || {};
    if (type === 'datasource') live.status = d.status;
    else if (type === 'health') live.health = d.health;
    else live.run = {number: d.run, status: d.status, at: d.at_ms};
    page.live.set(d.datasource, live);
    page.told.set(d.datasource, (page.told.get(d.datasource) || 0) + 1);
    render_datasources();
  }
  schedule_refresh(type === 'progress' ? 1000 : 300);
}

// Many events in a row make one re-read, `ms` after the last of them (at most a second after the
// first); another follows a moment later, as the node saves what it announced just after the
// event.
function schedule_refresh(ms) {
  const now = Date.now();
  if (!page.refreshTimer) page.burstStart = now;
  clearTimeout(page.refreshTimer);
  clearTimeout(page.settleTimer);
  const wait = Math.max(0, Math.min(ms, page.burstStart + 1000 - now));
  page.refreshTimer = setTimeout(() => {
    page.refreshTimer = 0;
    refresh_all();
    page.settleTimer = setTimeout(() => refresh_all(), 1500);
  }, wait);
}

// `full`: also read each datasource (the status its actor has now) instead of trusting the list.
async function refresh_all(full) {
  if (!page.signedIn) return;
  await Promise.all([load_datasources(full).then(load_runs), load_actors(), load_queue()]);
}

async function guarded(what, fn) {
  try {
    await fn();
  } catch (e) {
    if (e.status === 401) return check_session();
    say(what + ': ' + e.message, true);
  }
}

// --- datasources and runs ----------------------------------------------------------------------

function load_datasources(full) {
  return guarded('Datasources', async () => {
    const answer = await api('GET', '/api/datasources');
    page.datasources = answer.datasources || [];
    render_datasources();
    if (!full) return;
    await Promise.all(page.datasources.slice(0, 50).map(async (ds) => {
      const told = page.told.get(ds.id) || 0;
      const now = await api('GET', datasource_path(ds));
      if ((page.told.get(ds.id) || 0) !== told) return;  // an event said something newer
      page.live.set(ds.id, {status: now.status, health: now.health});
    }));
    render_datasources();
  });
}

function status_of(ds) {
  const live = page.live.get(ds.id) || {};
  let run = ds.last_run;
  if (live.run && (!run || live.run.number > run.number || (live.run.number === run.number && live.run.status !== run.status)))
    run = Object.assign({}, run && run.number === live.run.number ? run : {}, {number: live.run.number, status: live.run.status, ended_ms: live.run.at});
  return {status: live.status || ds.status, health: live.health || ds.health, run};
}

function render_datasources() {
  $('#datasource-count').textContent = page.datasources.length ? '(' + page.datasources.length + ')' : '';
  const rows = page.datasources.map((ds) => {
    const path = datasource_path(ds);
    const now = status_of(ds);
    const paused = now.status === 'paused';
    const actions = el('td', {class: 'actions'},
      paused ? button('Resume', 'resume', () => act('Resume ' + ds.id, 'POST', path + '/@resume'))
             : button('Pause', 'pause', () => act('Pause ' + ds.id, 'POST', path + '/@pause')),
      button('Sync now', 'sync', () => act('Sync ' + ds.id, 'POST', path + '/@sendToSpyder'),
             'Collect now: a run starts'));
    if (ds.held_removals > 0) {
      actions.append(button('Confirm ' + ds.held_removals + ' removals', 'confirm', () => {
        if (window.confirm('Remove ' + ds.held_removals + ' items of ' + ds.id + ' from its volumes?'))
          act('Confirm removals of ' + ds.id, 'POST', path + '/@sendToSpyder', {confirm_deletes: ds.held_removals});
      }));
    }
    const run = now.run;
    const row = el('tr', {'data-datasource': ds.id, class: 'selectable' + (ds.id === page.selected ? ' selected' : ''),
                          title: ds.last_error || null},
      el('td', {}, el('strong', {}, ds.id), ds.name && ds.name !== ds.id ? ' ' + ds.name : ''),
      el('td', {}, ds.container + '/' + ds.account + '/' + ds.workspace),
      el('td', {}, ds.type),
      el('td', {class: 'state'}, badge(now.status)),
      el('td', {class: 'health'}, badge(now.health)),
      el('td', {}, run ? el('span', {}, '#' + run.number + ' ', badge(run.status), ' ' + ago(run.ended_ms || run.started_ms)) : ''),
      el('td', {class: 'num'}, run && run.counters ? run.counters.listed : ''),
      el('td', {}, ds.next_run_ms > 0 ? ago(ds.next_run_ms) : ''),
      actions);
    row.addEventListener('click', () => {
      page.selected = ds.id;
      render_datasources();
      load_runs();
    });
    return row;
  });
  fill($('#datasources tbody'), rows, '#datasources-empty');
}

function load_runs() {
  const ds = page.datasources.find((x) => x.id === page.selected) ||
             page.datasources.find((x) => x.last_run) || page.datasources[0];
  if (!ds) {
    fill($('#runs tbody'), [], null);
    $('#runs-empty').hidden = false;
    return Promise.resolve();
  }
  return guarded('Runs', async () => {
    const answer = await api('GET', datasource_path(ds) + '/@runs?limit=10');
    $('#runs-of').textContent = 'of ' + ds.id;
    const rows = (answer.runs || []).map((r) => {
      const c = r.counters || {};
      const took = r.ended_ms > 0 ? span(Math.max(0, Math.round((r.ended_ms - r.started_ms) / 1000))) : 'running';
      return el('tr', {'data-run': r.number},
        el('td', {class: 'num'}, r.number),
        el('td', {}, badge(r.status)),
        el('td', {}, r.trigger),
        el('td', {}, clock(r.started_ms)),
        el('td', {}, took),
        el('td', {class: 'num'}, c.done || 0),
        el('td', {class: 'num'}, c.failed || 0),
        el('td', {class: 'error-text'}, r.error || ''));
    });
    fill($('#runs tbody'), rows, '#runs-empty');
  });
}

// --- volumes, transfers, queue -----------------------------------------------------------------

function walk(node, fn) {
  fn(node);
  for (const c of node.children || []) walk(c, fn);
}

function load_actors() {
  return guarded('Actors', async () => {
    const tree = await api('GET', '/api/actors');
    // A volume appears as the supervisor's entry and, below it, as its own status: the deeper
    // one (visited last) is the volume's own.
    const volumes = new Map();
    const transfers = [];
    walk(tree, (a) => {
      if (a.kind === 'volume') volumes.set(a.id, a);
      if (a.kind === 'transfer') transfers.push(a);
    });
    const rows = [...volumes.values()].map((v) => {
      const id = v.id.replace(/^volume\//, '');
      const c = v.counters || {};
      const path = '/api/volumes/' + encodeURIComponent(id);
      return el('tr', {'data-volume': id, title: v.last_error || null},
        el('td', {}, el('strong', {}, id)),
        el('td', {}, badge(v.state)),
        el('td', {class: 'num'}, c.running || 0),
        el('td', {class: 'num'}, c.done || 0),
        el('td', {class: 'num'}, c.failed || 0),
        el('td', {class: 'num'}, bytes(c.bytes || 0)),
        el('td', {class: 'actions'},
          v.state === 'paused' ? button('Resume', 'resume', () => act('Resume volume ' + id, 'POST', path + '/@resume'))
                               : button('Pause', 'pause', () => act('Pause volume ' + id, 'POST', path + '/@pause'))));
    });
    fill($('#volumes tbody'), rows, '#volumes-empty');
    const items = transfers.map((t) => {
      const path = '/api/' + t.id.split('/').map(encodeURIComponent).join('/').replace(/^transfer\//, 'transfers/');
      return el('li', {'data-transfer': t.id}, badge(t.state), ' ', t.current || t.id, ' ',
        t.state === 'paused' ? button('Resume', 'resume', () => act('Resume ' + t.id, 'POST', path + '/@resume'))
                             : button('Pause', 'pause', () => act('Pause ' + t.id, 'POST', path + '/@pause')));
    });
    $('#transfers').replaceChildren(...items);
    $('#transfers-empty').hidden = items.length > 0;
  });
}

function load_queue() {
  return guarded('Queue', async () => {
    const q = await api('GET', '/api/queue?limit=3');
    $('#queue-total').textContent = '(' + (q.total || 0) + ')';
    const rows = (q.queues || []).filter((s) => s.size > 0 || s.leased > 0).map((s) =>
      el('tr', {},
        el('td', {}, s.volume),
        el('td', {}, s.datasource),
        el('td', {class: 'num'}, s.size),
        el('td', {class: 'num'}, s.leased),
        el('td', {class: 'items'}, (s.head || []).map((h) => h.item).join(', '))));
    fill($('#queue tbody'), rows, '#queue-empty');
  });
}

// --- files per site (seed 003's colours) -------------------------------------------------------

// A copy's state at `site`: syncing while a site works on it, error after a failed attempt not
// followed by a success, synced when delivered since the element's time, outdated when the
// element changed after the delivery.
function site_state(e, site) {
  const synced = e['synced_' + site];
  const failed = e['syncError_' + site] !== undefined;
  const attempt = e['syncLastAttempt_' + site] || 0;
  if (e['syncing_' + site] !== undefined) return 'syncing';
  if (failed && (synced === undefined || attempt >= synced)) return 'error';
  if (synced === undefined) return '';
  return synced >= (e.time || 0) ? 'synced' : 'outdated';
}

function load_files() {
  return guarded('Files', async () => {
    const found = await api('POST', '/api/search_mongo/', {query: {_id: {$regex: '^/'}}, sort: {time: -1}, limit: 30});
    let elements = [];
    if (found.ids && found.ids.length) elements = (await api('POST', '/api/read/', found.ids)) || [];
    if (!Array.isArray(elements)) elements = [elements];
    elements = elements.filter((e) => e && typeof e === 'object');
    const sites = new Set();
    for (const e of elements)
      for (const k of Object.keys(e)) {
        const m = /^(synced|syncing|syncError|syncLastAttempt)_(.+)$/.exec(k);
        if (m) sites.add(m[2]);
      }
    const names = [...sites].sort();
    const shown = elements.filter((e) => names.some((s) => site_state(e, s)));
    $('#files thead tr').replaceChildren(el('th', {}, 'File'), el('th', {}, 'Changed'),
      ...names.map((s) => el('th', {class: 'site'}, s)));
    const rows = shown.map((e) => el('tr', {},
      el('td', {}, e._id),
      el('td', {}, ago(e.time)),
      ...names.map((s) => {
        const st = site_state(e, s);
        return el('td', {class: 'site'}, st ? el('span', {class: 'cell ' + st}, st) : '');
      })));
    fill($('#files tbody'), rows, '#files-empty');
  });
}

$('#files-refresh').addEventListener('click', () => load_files());

check_session();
