/* wob dashboard: reads the broker's read-only JSON API every few seconds
   and draws waves, regions, throughput, workers and order lookups.  Plain DOM, no
   libraries, no external resources; text goes in with textContent only. */
'use strict';

const REFRESH_MS = 3000;
const SEGMENTS = ['done', 'dispatched', 'queued', 'waiting', 'held', 'excluded'];
const OUTCOMES = ['delivered', 'accepted', 'interested', 'declined', 'callback',
                  'unreachable', 'wrong_number', 'undelivered', 'failed'];
const SVG_NS = 'http://www.w3.org/2000/svg';

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

const fmt = (n) => Number(n).toLocaleString('en-US');
const pct = (rate) => (Number(rate) * 100).toFixed(2) + '%';

function timeText(ms) {
  if (!ms) return '-';
  const d = new Date(Number(ms));
  const p = (x) => String(x).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
         `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

async function getJSON(path) {
  const response = await fetch(path, { cache: 'no-store', headers: { Accept: 'application/json' } });
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  if (!response.ok) {
    const message = body && body.error ? body.error : `HTTP ${response.status}`;
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  return body;
}

/* A stacked bar: parts is [[class, value, title], ...]. */
function stackedBar(parts, total, thin) {
  const bar = el('div', { class: thin ? 'bar thin' : 'bar' });
  for (const [cls, value, title] of parts) {
    if (!value || !total) continue;
    const seg = el('span', { class: cls, title: `${title}: ${fmt(value)}` });
    seg.style.width = (100 * value / total) + '%';
    bar.append(seg);
  }
  return bar;
}

function field(name, value, label, text) {
  return el('span', {}, label + ' ',
            el('b', { 'data-field': name, text: text !== undefined ? text : fmt(value) }));
}

/* --- Waves --------------------------------------------------------------- */

function waveCard(w) {
  const p = w.progress;
  const total = w.report.total;
  const card = el('div', { class: 'wave', 'data-wave': w.wave });
  card.append(el('div', { class: 'wave-head' },
    el('h3', { text: w.wave }),
    el('span', { class: 'badge ' + w.state, 'data-field': 'state', text: w.state }),
    el('span', { class: 'muted', text: `campaign ${w.campaign}` + (w.kind ? ` · ${w.kind}` : '') }),
    el('span', { class: 'muted' }, 'rows ', el('b', { 'data-field': 'rows', text: fmt(w.rows) }))));
  card.append(stackedBar(SEGMENTS.map((s) => ['seg-' + s, p[s], s]), p.total, false));
  card.append(el('div', { class: 'counts' },
    field('progress.total', p.total, 'orders'),
    field('progress.done', p.done, 'done'),
    field('progress.dispatched', p.dispatched, 'dispatched'),
    field('progress.queued', p.queued, 'queued'),
    field('progress.waiting', p.waiting, 'waiting'),
    field('progress.held', p.held, 'held'),
    field('progress.excluded', p.excluded, 'not contacted')));
  card.append(el('div', { class: 'rates' },
    field('report.eligible', total.eligible, 'eligible'),
    field('report.contacted', total.contacted, 'contacted'),
    field('report.reached', total.reached, 'reached'),
    field('report.accepted', total.accepted, 'accepted'),
    field('report.contact_rate', 0, 'contact', pct(total.contact_rate)),
    field('report.success_rate', 0, 'success', pct(total.success_rate)),
    field('report.conversion_per_contact', 0, 'conversion/contact',
          pct(total.conversion_per_contact))));
  const channels = el('div', { class: 'channels' });
  for (const row of w.report.by_channel) {
    const name = row.channel === '(none)' ? '' : row.channel;
    const counts = (w.channels.find((c) => c.channel === name) || { by_outcome: {} }).by_outcome;
    const reports = OUTCOMES.reduce((sum, o) => sum + (counts[o] || 0), 0);
    const box = el('div', { class: 'channel', 'data-channel': row.channel });
    box.append(el('div', {}, el('b', { text: row.channel }), ' · ',
      field('orders', row.orders, 'orders'), ' · ',
      field('contacted', row.contacted, 'contacted'), ' · ',
      field('accepted', row.accepted, 'accepted'), ' · ',
      field('success_rate', 0, 'success', pct(row.success_rate))));
    box.append(stackedBar(OUTCOMES.map((o) => ['o-' + o, counts[o] || 0, o]), reports, true));
    const list = el('div', { class: 'outcomes' });
    for (const o of OUTCOMES)
      if (counts[o])
        list.append(el('span', {}, o.replace('_', ' ') + ' ',
                       el('b', { 'data-outcome': o, text: fmt(counts[o]) })));
    if (!reports) list.append(el('span', { text: 'no outcomes yet' }));
    box.append(list);
    channels.append(box);
  }
  card.append(channels);
  return card;
}

function drawWaves(data) {
  const box = $('waves');
  const cards = data.waves.map(waveCard);
  if (!cards.length) cards.push(el('p', { class: 'muted', text: 'no waves yet' }));
  box.replaceChildren(...cards);
}

/* --- Throughput ---------------------------------------------------------- */

function drawThroughput(data) {
  const W = 600, H = 170, left = 40, right = 8, top = 10, bottom = 24;
  const minutes = data.minutes;
  const peak = Math.max(1, ...minutes.map((m) => Math.max(m.dispatched, m.finished)));
  const slot = (W - left - right) / minutes.length;
  const y = (v) => top + (H - top - bottom) * (1 - v / peak);
  let dispatched = 0, finished = 0;
  const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img',
                             'aria-label': 'leases granted and orders finished per minute' });
  chart.append(svg('line', { class: 'axis', x1: left, y1: y(0), x2: W - right, y2: y(0) }));
  chart.append(svg('line', { class: 'axis', x1: left, y1: top, x2: W - right, y2: top }));
  chart.append(svg('text', { x: left - 4, y: top + 4, 'text-anchor': 'end' }, fmt(peak)));
  chart.append(svg('text', { x: left - 4, y: y(0) + 4, 'text-anchor': 'end' }, '0'));
  minutes.forEach((m, i) => {
    dispatched += m.dispatched;
    finished += m.finished;
    const x = left + i * slot;
    const g = svg('g', {});
    g.append(svg('title', {}, `${timeText(m.start_ms)}: ${m.dispatched} leased, ` +
                               `${m.finished} finished`));
    const bw = Math.max(1, slot / 2 - 0.5);
    if (m.dispatched)
      g.append(svg('rect', { x: x, y: y(m.dispatched), width: bw,
                             height: y(0) - y(m.dispatched), class: 'tp-dispatched' }));
    if (m.finished)
      g.append(svg('rect', { x: x + bw, y: y(m.finished), width: bw,
                             height: y(0) - y(m.finished), class: 'tp-finished' }));
    chart.append(g);
    const ago = minutes.length - 1 - i;
    if (ago % 15 === 0)
      chart.append(svg('text', { x: x + slot / 2, y: H - 8, 'text-anchor': 'middle' },
                       ago ? `-${ago} min` : 'now'));
  });
  chart.setAttribute('data-dispatched', dispatched);
  chart.setAttribute('data-finished', finished);
  $('throughput').replaceChildren(chart);
  $('tp-totals').textContent = ` · last hour: ${fmt(dispatched)} leased, ${fmt(finished)} finished`;
}

/* --- Workers ------------------------------------------------------------- */

function drawWorkers(data) {
  const rows = data.workers.map((w) => {
    const load = stackedBar([['seg-dispatched', w.outstanding, 'leased']], w.capacity || 1, true);
    const seen = data.now_ms && w.last_seen_ms
      ? Math.max(0, Math.round((data.now_ms - w.last_seen_ms) / 1000)) + ' s ago' : '-';
    return el('tr', { 'data-worker': w.id },
      el('td', { text: w.id }), el('td', { text: w.channel }),
      el('td', { class: 'load', title: `${w.outstanding} of ${w.capacity}` }, load),
      el('td', { class: 'num', 'data-field': 'capacity', text: fmt(w.capacity) }),
      el('td', { class: 'num', 'data-field': 'outstanding', text: fmt(w.outstanding) }),
      el('td', { class: 'num', 'data-field': 'assigned', text: fmt(w.assigned) }),
      el('td', { class: 'num', 'data-field': 'done', text: fmt(w.done) }),
      el('td', { class: 'owns', text: w.owns.length ? w.owns.join(', ') : '-' }),
      el('td', { class: 'num', text: seen }));
  });
  if (!rows.length)
    rows.push(el('tr', {}, el('td', { colspan: '9', class: 'muted', text: 'no workers connected' })));
  $('workers').tBodies[0].replaceChildren(...rows);
  $('workers-count').textContent = `(${data.workers.length} connected)`;
  const held = data.held.map((h) => el('p', { class: 'error', 'data-held': h.channel + '/' + h.reason },
    `held in ${h.channel}: ${fmt(h.orders)} order${h.orders === 1 ? '' : 's'} (${h.reason.replace(/_/g, ' ')})`));
  $('held').replaceChildren(...held);
}

/* --- Regions ------------------------------------------------------------
   The region table of one wave: provinces first; a click on a region
   shows the level below it (city, district, grid), the path above the
   table goes back up.  Numbers from /api/report (`wobctl report --by
   region --level L --under PATH`). */

const LEVELS = ['province', 'city', 'district', 'grid'];
const region = { wave: '', under: '' };

function regionLevel() {
  return region.under ? region.under.split('/').length + 1 : 1;
}

function drawRegionPath() {
  const parts = region.under ? region.under.split('/') : [];
  const path = [el('a', { href: '#', 'data-under': '', text: 'all provinces' })];
  parts.forEach((part, i) => {
    path.push(' / ');
    path.push(el('a', { href: '#', 'data-under': parts.slice(0, i + 1).join('/'), text: part }));
  });
  path.push(el('span', { class: 'muted', text: ` · by ${LEVELS[regionLevel() - 1]}` }));
  $('region-path').replaceChildren(...path);
}

function drawRegions(report) {
  const labels = report.labels || [];
  const head = ['region', 'orders', 'control', 'contacted', 'reached', 'accepted', 'interested',
                'contact', 'success', 'conv/contact', ...labels.map((l) => l + ' uplift')];
  $('regions').tHead.rows[0].replaceChildren(
    ...head.map((h, i) => el('th', { class: i ? 'num' : '', text: h })));
  const level = regionLevel();
  const line = (r, total) => {
    const name = total ? el('b', { text: 'total' })
      : level < 4 && r.region !== '(none)'
        ? el('a', { href: '#', 'data-under': r.region, text: r.region.split('/').pop() })
        : r.region.split('/').pop();
    const uplift = labels.map((l) => {
      const u = (r.uplift || []).find((x) => x.outcome === l);
      return el('td', { class: 'num', 'data-field': 'uplift.' + l,
                        text: u && u.contacted && u.control ? (u.uplift * 100).toFixed(1) + 'pp' : '-' });
    });
    return el('tr', total ? { class: 'total' } : { 'data-region': r.region },
      el('td', {}, name),
      el('td', { class: 'num', 'data-field': 'orders', text: fmt(r.orders) }),
      el('td', { class: 'num', 'data-field': 'control', text: fmt(r.control) }),
      el('td', { class: 'num', 'data-field': 'contacted', text: fmt(r.contacted) }),
      el('td', { class: 'num', 'data-field': 'reached', text: fmt(r.reached) }),
      el('td', { class: 'num', 'data-field': 'accepted', text: fmt(r.accepted) }),
      el('td', { class: 'num', 'data-field': 'interested', text: fmt(r.interested) }),
      el('td', { class: 'num', 'data-field': 'contact_rate', text: pct(r.contact_rate) }),
      el('td', { class: 'num', 'data-field': 'success_rate', text: pct(r.success_rate) }),
      el('td', { class: 'num', 'data-field': 'conversion_per_contact',
                 text: pct(r.conversion_per_contact) }),
      ...uplift);
  };
  const rows = report.by_region.map((r) => line(r, false));
  if (!rows.length)
    rows.push(el('tr', {}, el('td', { colspan: String(head.length), class: 'muted',
                                      text: 'no orders in this region' })));
  rows.push(line(report.total, true));
  $('regions').tBodies[0].replaceChildren(...rows);
  $('regions').dataset.wave = report.wave;
  $('regions').dataset.under = region.under;
  drawRegionPath();
}

async function refreshRegions(waves) {
  const select = $('region-wave');
  const ids = waves.waves.map((w) => w.wave);
  if (select.options.length !== ids.length || ids.some((id, i) => select.options[i].value !== id))
    select.replaceChildren(...ids.map((id) => el('option', { value: id, text: id })));
  if (!ids.includes(region.wave)) {
    region.wave = ids.length ? ids[0] : '';
    region.under = '';
  }
  select.value = region.wave;
  if (!region.wave) {
    $('region-message').textContent = 'no waves yet';
    return;
  }
  try {
    const query = `/api/report?wave=${encodeURIComponent(region.wave)}&by=region` +
                  `&level=${regionLevel()}&under=${encodeURIComponent(region.under)}`;
    drawRegions(await getJSON(query));
    $('region-message').className = 'muted small';
    $('region-message').textContent = 'the region of each target: province / city / district / grid';
  } catch (e) {
    $('region-message').className = 'error';
    $('region-message').textContent = e.message;
  }
}

let lastWaves = null;

function regionClick(event) {
  const link = event.target.closest('a[data-under]');
  if (!link) return;
  event.preventDefault();
  region.under = link.dataset.under;
  if (lastWaves) refreshRegions(lastWaves);
}

/* --- Order lookup -------------------------------------------------------- */

function orderBlock(o) {
  const block = el('div', { class: 'order', 'data-order': String(o.id) });
  block.append(el('h3', { text: `order ${o.id} · ${o.state}` }));
  block.append(el('div', { class: 'fields' },
    field('msisdn', 0, 'number', o.msisdn), field('channel', 0, 'channel', o.channel || '-'),
    field('wave', 0, 'wave', o.wave), field('campaign', 0, 'campaign', o.campaign),
    field('worker', 0, 'worker', o.worker || '-'), field('attempts', o.attempts, 'attempts'),
    field('outcome', 0, 'outcome', o.outcome), field('offers', 0, 'offers', o.offers.join(', ') || '-'),
    o.note ? field('note', 0, 'note', o.note) : null));
  const body = el('tbody', {});
  for (const h of o.history)
    body.append(el('tr', {}, el('td', { text: timeText(h.at_ms) }), el('td', { text: h.from }),
                   el('td', { text: h.to }), el('td', { text: h.actor }), el('td', { text: h.reason })));
  block.append(el('table', { class: 'history' },
    el('thead', {}, el('tr', {}, el('th', { text: 'time' }), el('th', { text: 'from' }),
                       el('th', { text: 'to' }), el('th', { text: 'actor' }),
                       el('th', { text: 'reason' }))), body));
  return block;
}

async function lookup(event) {
  event.preventDefault();
  const q = $('lookup-q').value.trim();
  let kind = $('lookup-kind').value;
  if (kind === 'auto') kind = /^\d{1,9}$/.test(q) ? 'order' : 'msisdn';  // numbers are longer
  const message = $('lookup-message');
  message.className = 'muted';
  message.textContent = 'looking up…';
  if (kind === 'order' && !/^\d+$/.test(q)) {
    message.className = 'error';
    message.textContent = `'${q}' is not an order id`;
    $('lookup-result').replaceChildren();
    return;
  }
  try {
    const path = kind === 'order' ? '/api/orders/' + encodeURIComponent(q)
                                  : '/api/orders?msisdn=' + encodeURIComponent(q);
    const data = await getJSON(path);
    const orders = Array.isArray(data) ? data : [data];
    $('lookup-result').replaceChildren(...orders.map(orderBlock));
    message.textContent = orders.length
      ? `${orders.length} order${orders.length === 1 ? '' : 's'} for ${kind === 'order' ? 'id' : 'number'} ${q}`
      : `no orders for number ${q}`;
  } catch (e) {
    message.className = 'error';
    message.textContent = e.message;
    $('lookup-result').replaceChildren();
  }
}

/* --- Refresh ------------------------------------------------------------- */

async function refresh() {
  try {
    const [waves, workers, throughput] = await Promise.all(
      [getJSON('/api/waves'), getJSON('/api/workers'), getJSON('/api/throughput')]);
    drawWaves(waves);
    lastWaves = waves;
    await refreshRegions(waves);
    drawWorkers(workers);
    drawThroughput(throughput);
    $('conn').textContent = 'live';
    $('conn').className = 'conn ok';
    $('updated').textContent = 'updated ' + timeText(Date.now());
    document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
  } catch (e) {
    $('conn').textContent = 'broker unreachable';
    $('conn').className = 'conn bad';
    $('updated').textContent = e.message;
  }
  setTimeout(refresh, REFRESH_MS);
}

document.addEventListener('DOMContentLoaded', () => {
  $('lookup-form').addEventListener('submit', lookup);
  $('regions').addEventListener('click', regionClick);
  $('region-path').addEventListener('click', regionClick);
  $('region-wave').addEventListener('change', () => {
    region.wave = $('region-wave').value;
    region.under = '';
    if (lastWaves) refreshRegions(lastWaves);
  });
  refresh();
});
