// merchstore dashboard: refreshes from /api/overview without reloading the page.
"use strict";

const refreshMs = Number(document.body.dataset.refreshMs) || 3000;
const traceUi = document.body.dataset.traceUi || "";  // the trace backend's UI, if one runs
const STYLES = [  // a dash pattern and a colour per type: never colour alone
  ["", "#0969da"], ["8 4", "#bf3989"], ["2 3", "#1a7f37"], ["10 3 2 3", "#9a6700"],
  ["4 4", "#8250df"], ["1 6", "#cf222e"],
];

function text(id, value) { document.getElementById(id).textContent = value; }

// Every time on the page reads in the viewer's local time on a 24-hour clock, as the charts'
// axes do (HH:mm:ss); the exact instant stays in the element's datetime attribute and tooltip.
function clock(date) {
  return [date.getHours(), date.getMinutes(), date.getSeconds()]
    .map((part) => String(part).padStart(2, "0")).join(":");
}

function showTime(element, iso) {
  element.textContent = iso ? clock(new Date(iso)) : "not yet";
  element.dateTime = iso || "";
  element.title = iso || "";
}

function notice(id, message) {
  const element = document.getElementById(id);
  element.hidden = !message;
  element.textContent = message || "";
}

function cell(row, value, className) {
  const td = row.insertCell();
  td.textContent = value;
  if (className) td.className = className;
  return td;
}

function renderStats(stats, error) {
  notice("stats-notice", error && `Processor ${error}; showing the last known numbers.`);
  if (!stats) return;
  text("stat-total", stats.total_events);
  text("orders-placed", stats.orders.placed);
  text("orders-cancelled", stats.orders.cancelled);
  text("revenue", stats.orders.revenue);
  showTime(document.getElementById("last-updated"), stats.last_updated);
  const body = document.getElementById("counts-body");
  body.replaceChildren();
  for (const [type, count] of Object.entries(stats.counts)) {
    const row = body.insertRow();
    row.dataset.type = type;
    cell(row, type);
    cell(row, count, "number").id = `count-${type}`;
  }
}

// A link to the trace in the backend's UI, or why there is none.
function traceCell(row, traceId) {
  const td = row.insertCell();
  if (traceId && traceUi) {
    const link = document.createElement("a");
    link.href = `${traceUi.replace(/\/$/, "")}/traces/${traceId}`;
    link.textContent = traceId.slice(0, 8);
    link.title = `trace ${traceId}`;
    link.dataset.trace = traceId;
    td.append(link);
  } else {
    td.textContent = "–";
  }
  return td;
}

function renderRecent(stats) {
  const runs = document.getElementById("recent-runs-body");
  runs.replaceChildren();
  for (const run of stats.recent_runs || []) {
    const row = runs.insertRow();
    const time = document.createElement("time");
    showTime(time, run.at);
    row.insertCell().append(time);
    cell(row, run.new_events, "number");
    cell(row, run.alerted ? "0004" : "–");
    traceCell(row, run.trace_id);
  }
  const orders = document.getElementById("recent-orders-body");
  orders.replaceChildren();
  for (const order of stats.recent_orders || []) {
    const row = orders.insertRow();
    row.dataset.order = order.order_id;
    const time = document.createElement("time");
    showTime(time, order.timestamp);
    row.insertCell().append(time);
    cell(row, `#${order.order_id} ${order.event_type === "order_cancelled" ? "cancelled" : "placed"}`);
    cell(row, order.total_price, "number");
    traceCell(row, order.trace_id);
  }
  text("trace-note", traceUi
    ? "Trace: the request's whole path in the trace backend, for those it recorded (sampled)."
    : "Run `merchstore up --tracing` for a trace backend to follow each one's path.");
}

function renderEventLog(lines, error) {
  notice("event-log-notice", error && `Event logger ${error}; showing the last known counts.`);
  if (!lines.length && error) return;
  const list = document.getElementById("event-log-lines");
  list.replaceChildren();
  for (const line of lines) {
    const item = document.createElement("li");
    item.dataset.code = line.code;
    item.textContent = line.text + " ";
    const meaning = document.createElement("span");
    meaning.className = "meaning";
    meaning.textContent = `(${line.meaning})`;
    item.append(meaning);
    list.append(item);
  }
}

function ago(seconds) {
  if (seconds === null) return "never";
  return seconds < 1 ? "just now" : `${duration(seconds)} ago`;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

function renderServices(services) {
  const body = document.getElementById("services-body");
  body.replaceChildren();
  for (const service of services) {
    const row = body.insertRow();
    row.dataset.service = service.name;
    cell(row, service.name);
    const up = service.status === "up";
    const status = cell(row, "", up ? "status-up" : "status-down");
    const state = document.createElement("span");
    state.textContent = up ? "✓ up" : "✗ down";
    state.dataset.status = service.status;
    status.append(state);
    if (!up && service.detail) {
      // Why it is down, as the service said it (a stalled consumer's 503 detail) or as the
      // probe found it (no answer at all).
      const reason = document.createElement("small");
      reason.className = "detail";
      reason.dataset.detail = "";
      reason.textContent = service.detail;
      status.append(reason);
    }
    cell(row, up ? duration(service.uptime_seconds) : "–", "number").dataset.uptime = service.uptime_seconds ?? "";
    cell(row, ago(service.seconds_since_ok));
  }
}

// One chart per panel, drawn by Chart.js; each series has a colour and a dash pattern, so
// the legend never relies on colour alone.
const charts = {};

function makeChart(id, yTitle) {
  return new Chart(document.getElementById(id), {
    type: "line",
    data: { datasets: [] },
    options: {
      animation: false,
      maintainAspectRatio: false,
      interaction: { mode: "nearest", axis: "x", intersect: false },
      // Straight segments between samples: a smoothed curve would show values never measured.
      elements: { point: { radius: 0, hitRadius: 6 }, line: { borderWidth: 2, tension: 0 } },
      scales: {
        x: { type: "time",
             time: { minUnit: "second", tooltipFormat: "HH:mm:ss",
                     displayFormats: { second: "HH:mm:ss", minute: "HH:mm", hour: "HH:mm" } },
             title: { display: true, text: "time" }, ticks: { maxTicksLimit: 6 } },
        y: { beginAtZero: true, title: { display: true, text: yTitle }, ticks: { precision: 0 } },
      },
      plugins: { legend: { position: "bottom", labels: { usePointStyle: true, pointStyleWidth: 36 } } },
    },
  });
}

function series(history, pick) {
  // {label: [{x, y}]} for every label seen in any point; a gap (null) where a point lacks it.
  const labels = new Set();
  for (const point of history) for (const label of Object.keys(pick(point) || {})) labels.add(label);
  const result = {};
  for (const label of [...labels].sort()) {
    result[label] = history.map((point) => {
      const values = pick(point);
      return { x: Date.parse(point.at), y: values && label in values ? values[label] : null };
    });
  }
  return result;
}

function draw(id, yTitle, named) {
  const chart = charts[id] || (charts[id] = makeChart(id, yTitle));
  chart.data.datasets = Object.entries(named).map(([label, data], index) => {
    const [dash, colour] = STYLES[index % STYLES.length];
    return { label, data, borderColor: colour, backgroundColor: colour, pointStyle: "line",
             borderDash: dash ? dash.split(" ").map(Number) : [], spanGaps: false };
  });
  chart.update("none");
}

function renderCharts(overview) {
  if (typeof Chart === "undefined") {  // the numbers above still show without the library
    notice("rates-notice", "The charting library did not load (run `make install`).");
    return;
  }
  const history = overview.history;
  draw("events-chart", "events per second", series(history, (p) => p.events_per_s));
  draw("orders-chart", "orders (total)", series(history, (p) => p.orders));
  const consumers = {};
  for (const [label, data] of Object.entries(series(history, (p) => p.lag))) consumers[`lag: ${label}`] = data;
  for (const [label, data] of Object.entries(series(history, (p) => p.set_aside))) consumers[`set aside: ${label}`] = data;
  draw("consumers-chart", "messages", consumers);
  const down = overview.stats_error && `Processor ${overview.stats_error}; the lines pause until it answers.`;
  notice("rates-notice", down);
  notice("orders-notice", down);
  const missing = overview.metrics_unavailable || [];
  notice("consumers-notice", missing.length ? `No figures from ${missing.join(", ")} (down or not answering /metrics).` : "");
}

async function refresh() {
  try {
    const answer = await fetch("api/overview", { cache: "no-store" });
    if (!answer.ok) throw new Error(`answered ${answer.status}`);
    const overview = await answer.json();
    renderStats(overview.stats, overview.stats_error);
    if (overview.stats) renderRecent(overview.stats);
    renderEventLog(overview.event_log, overview.event_log_error);
    renderServices(overview.services);
    renderCharts(overview);
    text("refresh-status", `Updated ${clock(new Date())}; refreshes every ${refreshMs / 1000} s.`);
  } catch (error) {
    text("refresh-status", `The dashboard backend is unreachable (${error.message}); retrying.`);
    console.error(error);
  }
}

refresh();
setInterval(refresh, refreshMs);
