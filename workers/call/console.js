/* console.js - the call-center agent's page: sign in, show the next order
   with the customer view and script, record the outcome.  It talks to the
   JSON API of wob-call (docs/CALL.md) and polls /api/next every second,
   which is also the agent's heartbeat: a closed page stops it, and the
   agent is signed out after --idle-timeout.  Each poll says how long the
   agent has not touched the page (idle_ms), so the lease of an agent who
   walked away is not extended.  Everything is rendered with textContent:
   customer data never becomes markup. */
'use strict';

(() => {
  const POLL_MS = 1000;
  const STORE_KEY = 'wob-call-agent';
  const LABELS = {
    accepted: 'accepted', interested: 'interested (lead)', declined: 'declined',
    unreachable: 'unreachable', wrong_number: 'wrong number', callback: 'call back',
    failed: 'failed (retry later)'
  };
  const $ = (id) => document.getElementById(id);
  const state = {
    agent: null,        // signed-in agent id
    order: null,        // order on screen (from /api/next)
    orderKey: null,     // "id/attempt" of the order on screen
    timer: null,        // next poll
    seq: 0,             // bumps on every action: older poll replies are stale
    busy: false,        // an outcome is being recorded
    lastInput: Date.now()
  };

  for (const type of ['pointerdown', 'keydown', 'mousemove', 'wheel', 'touchstart', 'input']) {
    window.addEventListener(type, () => { state.lastInput = Date.now(); },
                            { passive: true, capture: true });
  }

  async function api(method, path, body) {
    const init = { method, cache: 'no-store', headers: {} };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (e) {
      return { ok: false, status: 0, data: { error: 'the console server does not answer' } };
    }
    let data;
    try {
      data = await response.json();
    } catch (e) {
      data = { error: 'unexpected reply from the console server (HTTP ' + response.status + ')' };
    }
    return { ok: response.ok, status: response.status, data };
  }

  function show(view) {
    $('signin').hidden = view !== 'signin';
    $('waiting').hidden = view !== 'waiting';
    $('desk').hidden = view !== 'desk';
    $('who').hidden = view === 'signin';
  }

  function say(text, kind) {
    const m = $('message');
    m.textContent = text || '';
    m.className = kind || '';
  }

  const two = (n) => String(n).padStart(2, '0');

  // "2026-11-24 15:30:00", local time: the way the broker writes times in
  // the history's reasons.
  function when(ms) {
    if (!(ms > 0)) return '—';
    const d = new Date(ms);
    return d.getFullYear() + '-' + two(d.getMonth() + 1) + '-' + two(d.getDate()) + ' ' +
           two(d.getHours()) + ':' + two(d.getMinutes()) + ':' + two(d.getSeconds());
  }

  // "YYYY-MM-DDTHH:MM" in local time, what <input type=datetime-local> takes.
  function localInput(ms) {
    const d = new Date(ms);
    return d.getFullYear() + '-' + two(d.getMonth() + 1) + '-' + two(d.getDate()) +
           'T' + two(d.getHours()) + ':' + two(d.getMinutes());
  }

  function row(tbody, cells, emptyText) {
    const tr = document.createElement('tr');
    if (emptyText) {
      const td = document.createElement('td');
      td.colSpan = cells;
      td.className = 'empty';
      td.textContent = emptyText;
      tr.appendChild(td);
    } else {
      for (const text of cells) {
        const td = document.createElement('td');
        td.textContent = text;
        tr.appendChild(td);
      }
    }
    tbody.appendChild(tr);
  }

  function fillOrder(o) {
    const c = o.customer;
    $('c-name').textContent = c.name || '(no name)';
    $('c-msisdn').textContent = c.msisdn;
    $('c-call').href = 'tel:' + c.msisdn;
    $('c-tier').textContent = c.tier;
    $('c-tier').className = 'tier tier-' + c.tier;
    $('c-arpu').textContent = c.arpu === null ? '—' : c.arpu.toFixed(2) + ' / month';
    $('c-tenure').textContent = c.tenure_months + ' months';
    $('c-segment').textContent = c.segment || '—';
    $('c-lifecycle').textContent = c.lifecycle || '—';
    $('c-channel').textContent = c.preferred_channel || '—';
    $('c-customer-id').textContent = c.customer_id || '—';
    $('c-location').textContent =
      [c.province, c.city, c.district, c.grid].filter((x) => x).join(' · ') || '—';

    const previous = $('previous');
    previous.replaceChildren();
    for (const p of o.previous) {
      row(previous, [when(p.updated_ms), p.wave, p.channel || '—', p.state,
                     p.outcome === 'none' ? '—' : p.outcome, p.note || p.last || '']);
    }
    if (!o.previous.length) {
      row(previous, 6, o.history_error ? 'broker did not say: ' + o.history_error
                                       : 'No previous contacts');
    }
    const history = $('history');
    history.replaceChildren();
    for (const h of o.history) {
      row(history, [when(h.at_ms), h.from + ' → ' + h.to, h.actor, h.reason]);
    }
    if (!o.history.length) row(history, 4, 'No history');

    $('o-id').textContent = o.id;
    $('o-attempt').textContent = o.attempt;
    $('o-wave').textContent = o.wave;
    $('o-lease').textContent = when(o.lease_deadline_ms);
    const offers = $('offers');
    offers.replaceChildren();
    for (const offer of o.offers) {
      const li = document.createElement('li');
      li.textContent = offer;
      offers.appendChild(li);
    }
    if (!o.offers.length) {
      const li = document.createElement('li');
      li.textContent = 'No offer for this customer';
      offers.appendChild(li);
    }
    $('script').textContent = o.script || '(this wave has no script: greet the customer, ' +
                                          'present the first offer, record the decision)';
    $('note').value = '';
    const soon = Date.now() + 3600 * 1000;
    $('callback-at').value = localInput(soon - soon % (5 * 60 * 1000));
    $('callback-at').min = localInput(Date.now());
  }

  function render(data) {
    $('agent-name').textContent = data.agent;
    const conn = $('conn');
    if (data.connected) {
      conn.textContent = 'connected';
      conn.className = 'pill ok';
    } else {
      conn.textContent = 'connecting to broker' + (data.broker_error ? ': ' + data.broker_error : '');
      conn.className = 'pill bad';
    }
    $('stats').textContent = data.reported + ' recorded';
    $('notice').textContent = data.notice;
    $('notice').hidden = !data.notice;
    state.order = data.order;
    if (!data.order) {
      state.orderKey = null;
      show('waiting');
      return;
    }
    const key = data.order.id + '/' + data.order.attempt;
    if (key !== state.orderKey) {
      fillOrder(data.order);
      state.orderKey = key;
    }
    show('desk');
  }

  function schedule(ms) {
    clearTimeout(state.timer);
    state.timer = setTimeout(tick, ms);
  }

  function signedOut(text, kind) {
    state.agent = null;
    state.order = null;
    state.orderKey = null;
    clearTimeout(state.timer);
    sessionStorage.removeItem(STORE_KEY);
    say('');
    $('signin-error').textContent = text || '';
    $('signin-error').className = kind || 'error';
    show('signin');
  }

  async function tick() {
    if (!state.agent) return;
    const seq = state.seq;
    const idle = Math.max(0, Date.now() - state.lastInput);
    const r = await api('GET', '/api/next?agent=' + encodeURIComponent(state.agent) +
                               '&idle_ms=' + idle);
    if (!state.agent) return;
    if (seq === state.seq && !state.busy) {
      if (r.ok) {
        render(r.data);
      } else if (r.status === 404) {
        signedOut(r.data.error);
        return;
      } else {
        $('conn').textContent = r.data.error;
        $('conn').className = 'pill bad';
      }
    }
    schedule(state.order ? POLL_MS : POLL_MS / 2);
  }

  async function signIn(agent, owns) {
    const body = { agent };
    if (owns) body.owns = owns;
    $('signin-btn').disabled = true;
    const r = await api('POST', '/api/signin', body);
    $('signin-btn').disabled = false;
    if (!r.ok) {
      $('signin-error').textContent = r.data.error;
      $('signin-error').className = 'error';
      return;
    }
    $('signin-error').textContent = '';
    state.agent = agent;
    state.seq++;
    sessionStorage.setItem(STORE_KEY, agent);
    render(r.data.state);
    say(r.data.resumed ? 'Welcome back, ' + agent + '.' : 'Signed in as ' + agent + '.', 'ok');
    schedule(POLL_MS);
  }

  function setButtons(enabled) {
    for (const b of document.querySelectorAll('button[data-outcome]')) b.disabled = !enabled;
  }

  async function record(outcome) {
    if (!state.order || state.busy) return;
    const note = $('note').value.trim();
    const body = { agent: state.agent, order: state.order.id, outcome, note };
    if (outcome === 'interested' && !note) {
      say('A lead needs a note: what is the customer interested in?', 'error');
      $('note').focus();
      return;
    }
    if (outcome === 'callback') {
      const value = $('callback-at').value;
      const at = value ? new Date(value).getTime() : NaN;
      if (!(at > Date.now())) {
        say('Choose a call-back time in the future.', 'error');
        $('callback-at').focus();
        return;
      }
      body.callback_at = at;
    }
    state.busy = true;
    state.seq++;
    setButtons(false);
    const r = await api('POST', '/api/outcome', body);
    state.busy = false;
    setButtons(true);
    if (!r.ok) {
      if (r.status === 404) {
        signedOut(r.data.error);
      } else {
        say(r.data.error, 'error');
      }
      return;
    }
    say('Recorded ' + LABELS[outcome] + ' for order ' + body.order +
        (body.callback_at ? ', call back ' + when(body.callback_at) : '') + '.', 'ok');
    state.order = null;
    state.orderKey = null;
    show('waiting');
    schedule(0);
  }

  $('signin-form').addEventListener('submit', (event) => {
    event.preventDefault();
    signIn($('agent-id').value.trim(), $('agent-owns').value.trim());
  });

  $('signout-btn').addEventListener('click', async () => {
    const agent = state.agent;
    if (!agent) return;
    state.seq++;
    const r = await api('POST', '/api/signout', { agent });
    if (r.ok || r.status === 404) {
      signedOut(r.ok ? 'Signed out' + (r.data.returned ? '; order ' + r.data.returned +
                       ' went back to the queue.' : '.') : r.data.error, 'info');
    } else {
      say(r.data.error, 'error');
    }
  });

  for (const b of document.querySelectorAll('button[data-outcome]')) {
    b.addEventListener('click', () => record(b.dataset.outcome));
  }

  // A reload of the page resumes the session of this tab.
  const saved = sessionStorage.getItem(STORE_KEY);
  show('signin');
  if (saved) {
    $('agent-id').value = saved;
    signIn(saved, '');
  } else {
    $('agent-id').focus();
  }
})();
