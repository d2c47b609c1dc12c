// merchstore dashboard: refreshes from /api/overview without reloading the page.
"use strict";

const refreshMs = Number(document.body.dataset.refreshMs) || 3000;
const STYLES = [  // a dash pattern and a colour per type: never colour alone
  ["", "#0969da"], ["8 4", "#bf3989"], ["2 3", "#1a7f37"], ["10 3 2 3", "#9a6700"],
  ["4 4", "#8250df"], ["1 6", "#cf222e"],
];

function text(id, value) { document.getElementById(id).textContent = value; }

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
  text("last-updated", stats.last_updated || "not yet");
  const body = document.getElementById("counts-body");
  body.replaceChildren();
  for (const [type, count] of Object.entries(stats.counts)) {
    const row = body.insertRow();
    row.dataset.type = type;
    cell(row, type);
    cell(row, count, "number").id = `count-${type}`;
  }
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
  return seconds < 1 ? "just now" : `${Math.round(seconds)} s ago`;
}

function renderServices(services) {
  const body = document.getElementById("services-body");
  body.replaceChildren();
  for (const service of services) {
    const row = body.insertRow();
    row.dataset.service = service.name;
    cell(row, service.name);
    const up = service.status === "up";
    cell(row, up ? "✓ up" : "✗ down", up ? "status-up" : "status-down").dataset.status = service.status;
    cell(row, ago(service.seconds_since_ok));
  }
}

const SVG = "http://www.w3.org/2000/svg";

function svgElement(name, attributes) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  return element;
}

function renderChart(history) {
  const chart = document.getElementById("chart");
  const legend = document.getElementById("chart-legend");
  chart.replaceChildren();
  legend.replaceChildren();
  if (history.length < 2) {
    const note = svgElement("text", { x: 20, y: 120 });
    note.textContent = "Collecting data…";
    chart.append(note);
    return;
  }
  const types = Object.keys(history[history.length - 1].counts);
  const max = Math.max(1, ...history.flatMap((point) => Object.values(point.counts)));
  const [left, top, width, height] = [40, 10, 550, 200];
  chart.append(svgElement("line", { x1: left, y1: top + height, x2: left + width, y2: top + height, stroke: "#57606a" }));
  chart.append(svgElement("line", { x1: left, y1: top, x2: left, y2: top + height, stroke: "#57606a" }));
  const label = svgElement("text", { x: 2, y: top + 10, "font-size": 11 });
  label.textContent = max;
  chart.append(label);
  types.forEach((type, index) => {
    const [dash, colour] = STYLES[index % STYLES.length];
    const points = history.map((point, i) => {
      const x = left + (i / (history.length - 1)) * width;
      const y = top + height - ((point.counts[type] || 0) / max) * height;
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    });
    chart.append(svgElement("polyline", {
      points: points.join(" "), fill: "none", stroke: colour, "stroke-width": 2,
      "stroke-dasharray": dash, "data-type": type,
    }));
    const item = document.createElement("li");
    const sample = svgElement("svg", { viewBox: "0 0 40 10", "aria-hidden": "true" });
    sample.append(svgElement("line", { x1: 0, y1: 5, x2: 40, y2: 5, stroke: colour, "stroke-width": 2, "stroke-dasharray": dash }));
    item.append(sample, ` ${type}`);
    legend.append(item);
  });
}

async function refresh() {
  try {
    const answer = await fetch("api/overview", { cache: "no-store" });
    if (!answer.ok) throw new Error(`answered ${answer.status}`);
    const overview = await answer.json();
    renderStats(overview.stats, overview.stats_error);
    renderEventLog(overview.event_log, overview.event_log_error);
    renderServices(overview.services);
    renderChart(overview.history);
    text("refresh-status", `Updated ${new Date().toLocaleTimeString()}; refreshes every ${refreshMs / 1000} s.`);
  } catch (error) {
    text("refresh-status", `The dashboard backend is unreachable (${error.message}); retrying.`);
  }
}

refresh();
setInterval(refresh, refreshMs);
