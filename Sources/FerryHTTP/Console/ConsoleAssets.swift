// The web console's files, embedded in the binary (no build step, no network). Edit them here.
enum ConsoleAssets {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Ferry</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/ui/app.css">
<script type="module" src="/ui/app.js"></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header>
<p class="brand">Ferry</p>
<nav id="nav" aria-label="Sections"></nav>
</header>
<main id="main" tabindex="-1">
<noscript><p>The console needs JavaScript; the same data is in the API (<a href="/openapi.json">/openapi.json</a>) and the CLI.</p></noscript>
</main>
</body>
</html>
"""#

    static let css = #"""
:root { --blue: #0072b2; --orange: #e69f00; --ink: #1b1f24; --muted: #57606a; --line: #d0d7de; --bg: #ffffff; --panel: #f6f8fa; --red: #b3261e; --green: #1a7f37; color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg); }
a { color: #0550ae; }
a:focus-visible, button:focus-visible, input:focus-visible, main:focus-visible { outline: 3px solid var(--orange); outline-offset: 2px; }
.skip { position: absolute; left: -999px; top: 0; background: var(--bg); padding: .5rem; }
.skip:focus { left: .5rem; }
header { display: flex; flex-wrap: wrap; align-items: center; gap: 1rem; padding: .75rem 1rem; background: var(--panel); border-bottom: 1px solid var(--line); }
header .brand { font-weight: 700; font-size: 1.2rem; margin: 0; }
#nav { display: flex; flex-wrap: wrap; align-items: center; gap: 1rem; flex: 1; }
#nav ul { display: flex; flex-wrap: wrap; gap: .25rem 1rem; list-style: none; margin: 0; padding: 0; }
#nav a[aria-current="page"] { font-weight: 700; text-decoration-thickness: 3px; }
#nav .who { margin: 0 0 0 auto; color: var(--muted); }
main { padding: 1rem; max-width: 72rem; margin: 0 auto; }
h1 { font-size: 1.6rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.25rem; margin-top: 2rem; }
.scroll { overflow-x: auto; margin: 1rem 0; }
table { border-collapse: collapse; width: 100%; }
caption { text-align: left; font-weight: 600; padding: .25rem 0; color: var(--muted); }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
thead th { background: var(--panel); }
tbody th { font-weight: 600; }
form { display: grid; gap: .5rem; max-width: 28rem; }
label { font-weight: 600; }
input { font: inherit; padding: .5rem; border: 1px solid var(--muted); border-radius: 4px; }
button { font: inherit; padding: .45rem .9rem; border-radius: 4px; border: 1px solid var(--blue); background: var(--blue); color: #fff; cursor: pointer; }
button.danger { background: var(--red); border-color: var(--red); }
header button { background: transparent; color: var(--ink); border-color: var(--line); padding: .2rem .6rem; }
.actions { display: flex; flex-wrap: wrap; gap: .5rem; margin: 1rem 0; }
.notice { padding: .6rem .8rem; border-left: 4px solid var(--blue); background: var(--panel); }
.notice.error { border-color: var(--red); }
.notice.ok { border-color: var(--green); }
.legend { color: var(--muted); font-size: .9rem; }
.swatch { display: inline-block; width: 1rem; height: .8rem; vertical-align: middle; border: 1px solid var(--ink); }
.series-0 { fill: var(--blue); background: var(--blue); }
.series-1 { fill: var(--orange); background: repeating-linear-gradient(45deg, var(--orange) 0 3px, #fff 3px 5px); stroke: #8a5d00; stroke-width: 1; }
svg .series-1 { fill: url(#hatch); }
svg.defs { position: absolute; }
svg.split { width: 100%; max-width: 36rem; height: auto; display: block; }
svg .bar-label { font-size: 12px; fill: #fff; paint-order: stroke; stroke: #000; stroke-width: 2px; }
svg .axis { stroke: var(--muted); }
svg .axis-label { font-size: 11px; fill: var(--muted); }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 20rem), 1fr)); gap: 1rem; }
figure.chart { margin: 0; padding: .5rem; border: 1px solid var(--line); border-radius: 6px; }
figure.chart svg { width: 100%; height: auto; }
figcaption { font-size: .9rem; }
figure.chart.wide { grid-column: 1 / -1; }
svg.line .threshold { stroke: var(--muted); stroke-dasharray: 4 3; }
svg.line.small { margin-top: .25rem; }
.legend .key { white-space: nowrap; margin-right: .5rem; }
figure.chart svg.key-line { width: 28px; height: 10px; vertical-align: middle; }
.pickers { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem; margin: 1rem 0; }
select { font: inherit; padding: .35rem; border: 1px solid var(--muted); border-radius: 4px; }
select:focus-visible { outline: 3px solid var(--orange); outline-offset: 2px; }
progress { width: 8rem; }
pre { background: var(--panel); padding: .75rem; overflow-x: auto; }
"""#

    static let javascript = #"""
// Ferry's web console: a hand-written module, no build step. It signs in with an API key kept in this tab's
// session storage (never in a URL or a cookie), calls the same API as everything else with it, and draws charts as
// SVG. The server enforces every permission; the page only hides what the key may not do.
const $ = (selector, root = document) => root.querySelector(selector);
const main = () => $("#main");
const keyName = "ferry.key";
let refresh = null;
let generation = 0;

function h(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  for (const child of children.flat(Infinity)) if (child) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

const session = {
  get key() { return sessionStorage.getItem(keyName); },
  get principal() { return JSON.parse(sessionStorage.getItem(keyName + ".principal") || "null"); },
  save(key, principal) {
    sessionStorage.setItem(keyName, key);
    sessionStorage.setItem(keyName + ".principal", JSON.stringify(principal));
  },
  clear() { sessionStorage.removeItem(keyName); sessionStorage.removeItem(keyName + ".principal"); },
  // Deployers and admins change what is served; a key restricted to some models acts only on those.
  canDeploy(model) {
    const p = this.principal;
    if (!p || !["deployer", "admin"].includes(p.role)) return false;
    return !p.models || model === undefined || p.models.includes(model);
  },
};

class APIError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, options = {}) {
  const headers = { Accept: "application/json", Authorization: `Bearer ${options.key || session.key}` };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method: options.method || "GET", headers, body: options.body === undefined ? undefined : JSON.stringify(options.body),
    credentials: "omit", cache: "no-store",
  });
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = { error: text }; }
  if (!response.ok) {
    if (response.status === 401 && !options.key) { session.clear(); location.hash = "#/signin"; }
    throw new APIError(response.status, (body && body.error) || `HTTP ${response.status}`);
  }
  return body;
}

const fmt = {
  number(v, digits = 4) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    if (typeof v !== "number") return String(v);
    return Number.isInteger(v) ? v.toLocaleString("en") : String(Number(v.toPrecision(digits)));
  },
  time(v) { return v ? new Date(v).toLocaleString() : "–"; },
  percent(v) { return v === null || v === undefined ? "–" : `${(v * 100).toFixed(0)}%`; },
};

function table(caption, columns, rows) {
  return h("div", { class: "scroll" },
    h("table", {},
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows.length ? rows.map((r) => h("tr", {}, r.map((cell, i) => i === 0 ? h("th", { scope: "row" }, cell) : h("td", {}, cell))))
        : h("tr", {}, h("td", { colspan: columns.length }, "none yet")))));
}

function notice(text, kind = "info") { return h("p", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, text); }
function link(href, text) { return h("a", { href }, text); }
const enc = encodeURIComponent;

// Charts. Okabe–Ito blue (reference, stable) and orange (current, candidate) read for every kind of colour vision;
// bars also differ in pattern (solid and hatched) and every chart has a text alternative.
function splitBar(label, parts) {
  const width = 600, height = 28;
  let x = 0;
  const total = parts.reduce((s, p) => s + p.weight, 0) || 1;
  const shapes = parts.map((p, i) => {
    const w = (p.weight / total) * width;
    const rect = svg("rect", { x, y: 0, width: Math.max(w, 0), height, class: `series-${p.series ?? i % 2}` }, svg("title", {}, `${p.label}: ${fmt.percent(p.weight / total)}`));
    const text = w > 70 ? svg("text", { x: x + 6, y: 19, class: "bar-label" }, `${p.label} ${fmt.percent(p.weight / total)}`) : null;
    x += w;
    return [rect, text];
  });
  return svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${label}: ${parts.map((p) => `${p.label} ${fmt.percent(p.weight / total)}`).join(", ")}`, class: "split" }, shapes);
}

function distributionChart(feature) {
  const bins = feature.bins;
  if (!bins) return notice("no distribution to draw (no current values yet)");
  const n = bins.reference.length, width = 360, height = 140, pad = 24;
  const top = Math.max(...bins.reference, ...bins.current, 0.01);
  const slot = (width - pad) / n, bar = slot / 2 - 1;
  const names = bins.categories || bins.reference.map((_, i) => i === 0 ? `≤ ${fmt.number(bins.edges[0], 3)}`
    : i === n - 1 ? `> ${fmt.number(bins.edges[n - 2], 3)}` : `${fmt.number(bins.edges[i - 1], 3)}–${fmt.number(bins.edges[i], 3)}`);
  const shapes = [];
  for (let i = 0; i < n; i++) {
    for (const [series, values, offset] of [[0, bins.reference, 0], [1, bins.current, bar + 1]]) {
      const hgt = (values[i] / top) * (height - pad);
      shapes.push(svg("rect", { x: pad + i * slot + offset, y: height - pad - hgt, width: bar, height: hgt, class: `series-${series}` },
        svg("title", {}, `${names[i]}: ${series ? "current" : "reference"} ${fmt.percent(values[i])}`)));
    }
  }
  shapes.push(svg("line", { x1: pad, y1: height - pad, x2: width, y2: height - pad, class: "axis" }));
  shapes.push(svg("text", { x: 0, y: 12, class: "axis-label" }, fmt.percent(top)));
  const summary = names.map((name, i) => `${name}: reference ${fmt.percent(bins.reference[i])}, current ${fmt.percent(bins.current[i])}`).join("; ");
  return svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${feature.name}: ${summary}`, class: "dist" }, shapes);
}

const legend = () => h("p", { class: "legend" }, h("span", { class: "swatch series-0" }), " reference / stable ",
  h("span", { class: "swatch series-1" }), " current / candidate");

// Figures over time. Series take the Okabe–Ito colours in order and each also has its own dash pattern and marker,
// so none depends on colour; every point has a title and data attributes, the chart a text alternative.
const palette = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#000000", "#f0e442"];
const dashes = ["", "6 3", "2 3", "8 3 2 3", "1 2", "10 4", "4 4", "12 2 2 2"];
const clock = (ms, span) => new Date(ms).toLocaleString("en-GB", span > 2 * 86400e3 ? { month: "short", day: "numeric" }
  : span > 86400e3 ? { day: "numeric", hour: "2-digit", minute: "2-digit" } : { hour: "2-digit", minute: "2-digit" });

function marker(i, x, y, size) {
  const style = { fill: palette[i % 8], stroke: "#1b1f24", "stroke-width": 0.5 };
  switch (i % 3) {
    case 1: return svg("rect", { x: x - size, y: y - size, width: 2 * size, height: 2 * size, ...style });
    case 2: return svg("path", { d: `M${x},${y - 1.3 * size}L${x + 1.3 * size},${y + size}L${x - 1.3 * size},${y + size}Z`, ...style });
    default: return svg("circle", { cx: x, cy: y, r: size, ...style });
  }
}

// label: what is drawn; times: period starts (ms); series: [{name, values}] (null: no value in that period);
// options: unit (appended to values), threshold (a dashed reference line), small (a sparkline).
function lineChart(label, times, series, { unit = "", threshold, small = false } = {}) {
  const width = small ? 360 : 600, height = small ? 90 : 180, left = 58, bottom = 22, top = 10, right = 8;
  const values = series.flatMap((s) => s.values).filter((v) => v !== null && v !== undefined && Number.isFinite(v));
  if (!times.length || !values.length) return notice(`${label}: no figures in this range yet.`);
  let lo = Math.min(0, ...values), hi = Math.max(...values, threshold ?? -Infinity);
  if (hi === lo) hi = lo + 1;
  const t0 = times[0], t1 = times[times.length - 1], span = t1 - t0;
  const x = (t) => span ? left + ((t - t0) / span) * (width - left - right) : left + (width - left - right) / 2;
  const y = (v) => top + (1 - (v - lo) / (hi - lo)) * (height - top - bottom);
  const shapes = [
    svg("line", { x1: left, y1: height - bottom, x2: width - right, y2: height - bottom, class: "axis" }),
    svg("line", { x1: left, y1: top, x2: left, y2: height - bottom, class: "axis" }),
    svg("text", { x: 2, y: top + 8, class: "axis-label" }, `${fmt.number(hi, 3)}${unit}`),
    svg("text", { x: 2, y: height - bottom, class: "axis-label" }, `${fmt.number(lo, 3)}${unit}`),
    svg("text", { x: left, y: height - 6, class: "axis-label" }, clock(t0, span)),
    span ? svg("text", { x: width - right, y: height - 6, class: "axis-label", "text-anchor": "end" }, clock(t1, span)) : null,
  ];
  if (threshold !== undefined) {
    shapes.push(svg("line", { x1: left, y1: y(threshold), x2: width - right, y2: y(threshold), class: "threshold" },
      svg("title", {}, `threshold ${fmt.number(threshold)}${unit}`)));
  }
  series.forEach((s, i) => {
    // A period without a value breaks the line.
    let d = "", pen = false;
    s.values.forEach((v, k) => {
      if (v === null || v === undefined || !Number.isFinite(v)) { pen = false; return; }
      d += `${pen ? "L" : "M"}${x(times[k]).toFixed(1)},${y(v).toFixed(1)} `;
      pen = true;
    });
    shapes.push(svg("path", { d: d.trim() || "M0,0", fill: "none", stroke: palette[i % 8], "stroke-width": 2, "stroke-dasharray": dashes[i % 8] }));
    s.values.forEach((v, k) => {
      if (v === null || v === undefined || !Number.isFinite(v)) return;
      const point = marker(i, x(times[k]), y(v), times.length > 30 ? 1.5 : 3);
      point.setAttribute("class", "point");
      point.setAttribute("data-series", s.name);
      point.setAttribute("data-value", String(v));
      point.append(svg("title", {}, `${clock(times[k], span)}: ${s.name} ${fmt.number(v)}${unit}`));
      shapes.push(point);
    });
  });
  const summary = series.map((s) => {
    const present = s.values.filter((v) => v !== null && v !== undefined && Number.isFinite(v));
    return present.length ? `${s.name}: ${present.length} periods, latest ${fmt.number(present[present.length - 1])}${unit}, highest ${fmt.number(Math.max(...present))}${unit}`
      : `${s.name}: no values`;
  }).join("; ");
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", class: small ? "line small" : "line",
    "aria-label": `${label}, ${clock(t0, span)} to ${clock(t1, span)}: ${summary}` }, shapes);
  if (small) return chart;
  return h("figure", { class: "chart wide" }, chart, h("figcaption", {}, h("strong", {}, label), " ",
    h("span", { class: "legend" }, series.map((s, i) => h("span", { class: "key" },
      svg("svg", { width: 28, height: 10, class: "key-line", "aria-hidden": "true" }, svg("line", { x1: 0, y1: 5, x2: 28, y2: 5, stroke: palette[i % 8], "stroke-width": 2, "stroke-dasharray": dashes[i % 8] })),
      ` ${s.name} `)))));
}

// The time range of the figures over time, kept for this tab: [window seconds, period seconds, words].
const ranges = { hour: [3600, 60, "the last hour, per minute"], day: [86400, 3600, "the last day, per hour"], month: [30 * 86400, 86400, "the last 30 days, per day"] };
function currentRange() { return ranges[sessionStorage.getItem("ferry.range")] ? sessionStorage.getItem("ferry.range") : "hour"; }
function rangeQuery() {
  const [seconds, every] = ranges[currentRange()];
  return `since=${enc(new Date(Date.now() - seconds * 1000).toISOString())}&every=${every}`;
}
function rangePicker() {
  return h("p", {}, h("label", { for: "range" }, "Figures over time: "), h("select", { id: "range", onchange: (event) => {
    sessionStorage.setItem("ferry.range", event.target.value);
    render();
  } }, Object.entries(ranges).map(([key, [, , words]]) => h("option", { value: key, selected: key === currentRange() }, words))));
}
const periodTimes = (periods) => periods.map((p) => Date.parse(p.start));
// The score a task is judged by first, for pictures over time.
const mainScore = (task) => task === "regression" ? ["rmse", "RMSE"] : task === "binary_classification" ? ["roc_auc", "ROC AUC"] : ["accuracy", "accuracy"];

// An endpoint's variants as parts of its traffic bar: during a rollout the candidate is series 1 (orange, hatched) and
// the rest series 0, as the legend says; otherwise the variants alternate.
function variantParts(variants, rollout) {
  const isCandidate = (v) => rollout && v.model === rollout.candidate.model && v.version === rollout.candidate.version;
  return variants.map((v, i) => ({ label: `${v.model}:${v.version}`, weight: v.weight, series: rollout ? (isCandidate(v) ? 1 : 0) : i % 2 }));
}

// Pages

async function signIn() {
  const status = h("div", { "aria-live": "polite" });
  const input = h("input", { id: "key", name: "key", type: "password", autocomplete: "off", required: true, spellcheck: "false" });
  const form = h("form", {
    onsubmit: async (event) => {
      event.preventDefault();
      status.replaceChildren();
      try {
        const principal = await api("/api/v1/whoami", { key: input.value.trim() });
        session.save(input.value.trim(), principal);
        location.hash = "#/models";
      } catch (error) {
        status.replaceChildren(notice(error.status === 401 ? "That key is not valid (unknown, expired or revoked)." : error.message, "error"));
      }
    },
  }, h("label", { for: "key" }, "API key"), input, h("button", { type: "submit" }, "Sign in"), status);
  return [h("h1", {}, "Sign in to Ferry"),
    h("p", {}, "Use an API key (ferry keys create). It is kept in this tab only and sent with each request."), form];
}

async function models() {
  const list = await api("/api/v1/models");
  return [h("h1", {}, "Models"), table("Registered models", ["Model", "Description", "Latest version", "Aliases", "Created"],
    list.items.map((m) => [link(`#/models/${enc(m.name)}`, m.name), m.description || "", m.latest_version ?? "–",
      Object.entries(m.aliases || {}).map(([a, v]) => `${a} → ${v}`).join(", "), fmt.time(m.created_at)]))];
}

async function model(name) {
  const [info, versions, history] = await Promise.all([
    api(`/api/v1/models/${enc(name)}`), api(`/api/v1/models/${enc(name)}/versions`), api(`/api/v1/models/${enc(name)}/alias-history`)]);
  const latest = versions.items.reduce((a, v) => (a && a.version > v.version ? a : v), null);
  const out = [h("h1", {}, `Model ${name}`), h("p", {}, info.description || "")];
  // A signature was checked against a trusted key when the version was registered; serving_blocked says why the
  // signature policy keeps an alias from serving the version.
  const signature = (v) => `${v.signature ? `signed with key ${v.signature.key_id} at ${fmt.time(v.signature.signed_at)}` : "unsigned"}${v.serving_blocked ? `; not served: ${v.serving_blocked}` : ""}`;
  out.push(table("Versions", ["Version", "Created", "By", "Description", "Aliases", "Lineage", "State", "Format", "Metrics", "Signature"],
    versions.items.map((v) => [String(v.version), fmt.time(v.created_at), v.created_by, v.description || "", (v.aliases || []).join(", "),
      Object.entries(v.lineage || {}).map(([k, x]) => `${k}: ${x}`).join("; "), v.archived ? "archived" : "active", v.format,
      Object.entries(v.metrics || {}).map(([k, x]) => `${k} ${fmt.number(x)}`).join(", ") || "–", signature(v)])));
  out.push(table("Alias history", ["Alias", "Version", "When", "By", "Reason"],
    history.items.slice().reverse().map((e) => [e.alias, e.to ?? "removed", fmt.time(e.at), e.by, e.reason || ""])));
  if (latest) {
    out.push(table(`Inputs of version ${latest.version}`, ["Feature", "Type", "Missing allowed", "Categories"],
      (latest.input_schema?.features || []).map((f) => [f.name, f.datatype, f.nullable ? "yes" : "no", (f.categories || []).join(", ")])));
    // A link would open without the key (401): fetch the card with it and save it as a file.
    const cardStatus = h("span", { "aria-live": "polite" });
    out.push(h("p", {}, h("button", { type: "button", onclick: async () => {
      cardStatus.replaceChildren();
      try {
        const response = await fetch(`/api/v1/models/${enc(name)}/versions/${latest.version}/card?format=html`,
          { headers: { Authorization: `Bearer ${session.key}` }, credentials: "omit", cache: "no-store" });
        if (!response.ok) throw new APIError(response.status, `HTTP ${response.status}`);
        const save = h("a", { href: URL.createObjectURL(await response.blob()), download: `${name}-${latest.version}-model-card.html` });
        save.click();
        setTimeout(() => URL.revokeObjectURL(save.href), 1000);
      } catch (error) { cardStatus.replaceChildren(notice(error.message, "error")); }
    } }, `Download the model card of version ${latest.version}`), " ", cardStatus));
  }
  out.push(h("h2", {}, "Serving"));
  try {
    const versionsServed = parseMetrics(await text("/metrics"), name);
    const rates = servingRates(name, versionsServed);
    out.push(table("Per version since the server started (rate over the last refresh)", ["Version", "Requests", "Errors", "Requests/s", "p50 ms", "p99 ms", "Loaded", "Memory"],
      versionsServed.map((v) => [String(v.version), fmt.number(v.requests), fmt.number(v.errors), rates[v.version] === undefined ? "–" : fmt.number(rates[v.version], 3),
        fmt.number(quantile(v.buckets, 0.5) * 1000, 3), fmt.number(quantile(v.buckets, 0.99) * 1000, 3), v.loaded ? "yes" : "no",
        v.memory ? `${(v.memory / 1048576).toFixed(1)} MiB` : "–"])));
    out.poll = 5000;
  } catch (error) {
    out.push(notice(error.message));
  }
  out.push(h("h2", {}, "Over time"), rangePicker());
  try {
    const traffic = await api(`/api/v1/models/${enc(name)}/traffic?${rangeQuery()}`);
    const times = periodTimes(traffic.periods);
    out.push(h("div", { class: "charts" },
      lineChart("Requests and errors per period", times, [{ name: "requests", values: traffic.periods.map((p) => p.requests) },
        { name: "errors", values: traffic.periods.map((p) => p.errors) }]),
      lineChart("Latency per period", times, ["p50", "p90", "p99"].map((q) => ({ name: q, values: traffic.periods.map((p) => p[`${q}_ms`] ?? null) })), { unit: " ms" })));
  } catch (error) {
    out.push(notice(error.message));
  }
  out.push(h("h2", {}, "Drift of live traffic"));
  try {
    const drift = await api(`/api/v1/models/${enc(name)}/drift`);
    // PSI per period over the chosen range (none when nothing was logged in it).
    const over = await api(`/api/v1/models/${enc(name)}/drift?${rangeQuery()}`).catch((error) => error.status === 409 ? null : Promise.reject(error));
    const psiOver = (name) => over ? over.series.map((p) => [...p.features, ...p.outputs].find((f) => f.name === name)?.psi ?? null) : [];
    out.push(h("p", {}, `Version ${drift.version}: ${drift.current_rows} recent rows against ${drift.reference_rows} reference rows.`), legend(),
      h("p", { class: "legend" }, `Below each chart: PSI per period over ${ranges[currentRange()][2]}, with the dashed line at 0.2 (a large shift).`));
    out.push(h("div", { class: "charts" }, [...drift.features, ...drift.outputs].map((f) => h("figure", { class: "chart" },
      distributionChart(f),
      over ? lineChart(`${f.name} PSI over time`, periodTimes(over.series), [{ name: "PSI", values: psiOver(f.name) }], { threshold: 0.2, small: true }) : null,
      h("figcaption", {}, h("strong", {}, f.name), ` PSI ${fmt.number(f.psi, 3)}`,
        f.ks_statistic !== undefined ? `, KS ${fmt.number(f.ks_statistic, 3)} (p ${fmt.number(f.ks_pvalue, 2)})` : "",
        f.chi2_pvalue !== undefined ? `, χ² p ${fmt.number(f.chi2_pvalue, 2)}` : "")))));
  } catch (error) {
    out.push(notice(error.message));
  }
  out.push(h("h2", {}, "Performance"));
  try {
    const perf = await api(`/api/v1/models/${enc(name)}/performance`);
    const o = perf.overall || {};
    out.push(table(`Version ${perf.version} on predictions with ground truth`, ["Rows", "Accuracy", "ROC AUC", "F1", "Log loss", "RMSE"],
      [[fmt.number(o.count), fmt.number(o.accuracy), fmt.number(o.roc_auc), fmt.number(o.f1), fmt.number(o.log_loss), fmt.number(o.rmse)]]));
    const cohortKey = `ferry.cohorts.${name}`, by = sessionStorage.getItem(cohortKey) || "";
    const features = (latest?.input_schema?.features || []).map((f) => f.name);
    out.push(h("p", {}, h("label", { for: "cohorts" }, "Cohorts by: "), h("select", { id: "cohorts", onchange: (event) => {
      sessionStorage.setItem(cohortKey, event.target.value);
      render();
    } }, h("option", { value: "" }, "none (overall only)"), features.map((f) => h("option", { value: f, selected: f === by }, f)))));
    const over = await api(`/api/v1/models/${enc(name)}/performance?${rangeQuery()}${by && features.includes(by) ? `&segment_by=${enc(by)}` : ""}`)
      .catch((error) => error.status === 409 ? null : Promise.reject(error));
    const [score, words] = mainScore(perf.task);
    if (over && over.series.length) {
      const cohorts = [...new Set(over.series.flatMap((p) => (p.segments || []).map((c) => c.segment)))].sort();
      out.push(lineChart(`${words} per period${by ? ` by ${by}` : ""}`, periodTimes(over.series),
        [{ name: "overall", values: over.series.map((p) => p.overall[score] ?? null) },
          ...cohorts.map((c) => ({ name: c, values: over.series.map((p) => (p.segments || []).find((x) => x.segment === c)?.report[score] ?? null) }))]));
    } else {
      out.push(notice(`No predictions with ground truth in ${ranges[currentRange()][2]}.`));
    }
  } catch (error) {
    out.push(notice(error.message));
  }
  out.push(h("h2", {}, "Retraining"));
  try {
    const policy = await api(`/api/v1/models/${enc(name)}/retrain/policy`).catch((error) => error.status === 404 ? null : Promise.reject(error));
    const jobs = await api(`/api/v1/models/${enc(name)}/retrain/jobs?limit=20`);
    out.push(policy ? h("p", {}, `Trainer: ${policy.webhook ? `webhook ${policy.webhook.url}` : (policy.command || []).join(" ")}; gate: ${policy.gate.metric} better by ${policy.gate.min_improvement}; triggers: ${["by hand", ...(policy.alerts || []).map((a) => `alert ${a}`), policy.every_seconds ? `every ${policy.every_seconds} s` : null].filter(Boolean).join(", ")}.`)
      : notice("No retraining policy."));
    out.push(table("Retraining jobs, newest first", ["Job", "Trigger", "State", "Champion", "Candidate", "Metric", "Improvement (95% interval)", "Reason"],
      jobs.items.map((j) => [j.id, j.trigger, j.state, j.champion ?? "–", j.candidate ?? "–", j.evaluation ? `${j.evaluation.metric} ${fmt.number(j.evaluation.champion)} → ${fmt.number(j.evaluation.challenger)}` : "–",
        j.evaluation ? `${fmt.number(j.evaluation.improvement, 3)} [${fmt.number(j.evaluation.lower, 3)}, ${fmt.number(j.evaluation.upper, 3)}]` : "–", j.reason || ""])));
  } catch (error) {
    out.push(notice(error.message));
  }
  out.push(h("h2", {}, "Data validation"));
  try {
    const runs = await api(`/api/v1/models/${enc(name)}/validations?limit=10`);
    out.push(table("Files checked against the version's expectations, newest first", ["Run", "File", "Version", "Result", "Rows", "Quarantined", "Failed expectations", "When"],
      runs.items.map((r) => [r.id, r.source, String(r.version),
        r.passed ? "passed" : "failed", fmt.number(r.rows), fmt.number(r.quarantined_rows),
        r.results.filter((x) => !x.passed).map((x) => `${x.rule}${x.column ? ` (${x.column})` : ""}`).join(", ") || "–", fmt.time(r.created_at)])));
  } catch (error) {
    out.push(notice(error.message));
  }
  return out;
}

// /metrics as figures per version of one model: requests, errors, the latency histogram, load state.
async function text(path) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${session.key}` }, credentials: "omit", cache: "no-store" });
  if (!response.ok) throw new APIError(response.status, `HTTP ${response.status} from ${path}`);
  return response.text();
}

function parseMetrics(body, model) {
  const versions = {};
  const get = (v) => (versions[v] ||= { version: Number(v), requests: 0, errors: 0, buckets: [], loaded: false, memory: 0 });
  for (const line of body.split("\n")) {
    const m = line.match(/^(ferry_[a-z_]+)\{model="((?:[^"\\]|\\.)*)",version="(\d+)"(?:,(?:le|kind)="([^"]*)")?\} (\S+)$/);
    if (!m || m[2] !== model) continue;
    const [, name, , version, label, value] = m;
    const v = get(version), n = Number(value);
    if (name === "ferry_inference_requests_total") v.requests = n;
    else if (name === "ferry_inference_errors_total") v.errors += n;
    else if (name === "ferry_inference_duration_seconds_bucket") v.buckets.push([label === "+Inf" ? Infinity : Number(label), n]);
    else if (name === "ferry_model_loaded") v.loaded = n === 1;
    else if (name === "ferry_model_memory_bytes") v.memory = n;
  }
  return Object.values(versions).sort((a, b) => b.version - a.version);
}

// A quantile from cumulative histogram buckets, interpolated within its bucket as Prometheus does.
function quantile(buckets, q) {
  const total = buckets.length ? buckets[buckets.length - 1][1] : 0;
  if (!total) return NaN;
  let previous = [0, 0];
  for (const [bound, count] of buckets) {
    if (count >= q * total) {
      if (bound === Infinity) return previous[0];
      return previous[0] + (bound - previous[0]) * ((q * total - previous[1]) / Math.max(count - previous[1], 1));
    }
    previous = [bound, count];
  }
  return previous[0];
}

const lastCounts = {};
function servingRates(model, versions) {
  const now = performance.now(), rates = {};
  for (const v of versions) {
    const key = `${model}:${v.version}`, last = lastCounts[key];
    if (last && now > last.at) rates[v.version] = ((v.requests - last.requests) * 1000) / (now - last.at);
    lastCounts[key] = { at: now, requests: v.requests };
  }
  return rates;
}

async function features() {
  const [entities, views] = await Promise.all([api("/api/v1/features/entities"), api("/api/v1/features/views")]);
  return [h("h1", {}, "Feature store"),
    table("Entities", ["Entity", "Join keys", "Description"], entities.items.map((e) => [e.name, (e.join_keys || []).map((k) => k.name || k).join(", "), e.description || ""])),
    table("Feature views", ["View", "Entity", "Features", "TTL", "Owner", "Version"], views.items.map((v) => [v.name, v.entity || (v.entities || []).join(", "),
      (v.features || []).map((f) => f.name).join(", "), v.ttl ?? "–", v.owner || "", v.version ?? "–"]))];
}

async function endpoints() {
  const list = await api("/api/v1/endpoints");
  const details = await Promise.all(list.items.map((e) => api(`/api/v1/endpoints/${enc(e.name)}`)));
  return [h("h1", {}, "Endpoints"), legend(), table("Endpoints and their traffic", ["Endpoint", "Traffic", "Shadows", "Updated"],
    list.items.map((e, i) => [link(`#/endpoints/${enc(e.name)}`, e.name),
      splitBar(`traffic of ${e.name}`, variantParts(e.variants, details[i].rollout?.rollout)),
      (e.shadows || []).map((s) => `${s.model}:${s.version} (${fmt.percent(s.share)})`).join(", "), fmt.time(e.updated_at)]))];
}

async function endpoint(name) {
  const [detail, events] = await Promise.all([api(`/api/v1/endpoints/${enc(name)}`), api(`/api/v1/endpoints/${enc(name)}/rollout/events`)]);
  const e = detail.endpoint, r = detail.rollout;
  const out = [h("h1", {}, `Endpoint ${name}`), legend(),
    h("h2", {}, "Live traffic"), splitBar(`traffic of ${name}`, variantParts(e.variants, r?.rollout))];
  if (r) {
    const plan = r.rollout.plan || {};
    out.push(h("h2", {}, "Rollout"), h("p", { id: "rollout-state" },
      `${r.rollout.stable.model}:${r.rollout.stable.version} → ${r.rollout.candidate.model}:${r.rollout.candidate.version}: `,
      h("strong", {}, r.rollout.status), `, candidate at ${fmt.number(r.candidate_percent)}% (step ${r.rollout.step + 1} of ${(plan.steps || []).length}, steps ${(plan.steps || []).join(" → ")}%, bake ${plan.bake_seconds} s)`));
    const live = ["running", "paused"].includes(r.rollout.status);
    out.push(table(live ? "Gates at this step" : "Gates at the last step", ["Gate", "Candidate", "Limit", "Passed"],
      (r.gates || []).map((g) => [g.gate, fmt.number(g.candidate), fmt.number(g.limit), g.passed === undefined ? (live ? "waiting" : "not judged") : g.passed ? "yes" : "no"])));
    if (session.canDeploy(r.rollout.candidate.model)) {
      const status = h("div", { "aria-live": "polite" });
      const act = (action) => async () => {
        try {
          await api(`/api/v1/endpoints/${enc(name)}/rollout/${action}`, { method: "POST" });
          render();
        } catch (error) { status.replaceChildren(notice(error.message, "error")); }
      };
      const running = ["running", "paused"].includes(r.rollout.status);
      out.push(h("div", { class: "actions", role: "group", "aria-label": "Rollout actions" },
        running && r.rollout.status !== "paused" ? h("button", { onclick: act("pause") }, "Pause") : null,
        r.rollout.status === "paused" ? h("button", { onclick: act("resume") }, "Resume") : null,
        running ? h("button", { onclick: act("promote") }, "Promote") : null,
        running ? h("button", { class: "danger", onclick: act("rollback") }, "Roll back") : null), status);
    }
    if (["running", "paused"].includes(r.rollout.status)) out.poll = 2000;
  } else {
    out.push(notice("No rollout on this endpoint."));
  }
  out.push(table("Rollout timeline", ["#", "When", "Action", "Traffic", "Gates", "By", "Reason"],
    events.items.slice().reverse().map((ev) => [String(ev.sequence), fmt.time(ev.at), ev.action,
      `${fmt.number(ev.from_percent)}% → ${fmt.number(ev.to_percent)}%`,
      (ev.gates || []).map((g) => `${g.gate} ${fmt.number(g.candidate)} (limit ${fmt.number(g.limit)}) ${g.passed === undefined ? "waiting" : g.passed ? "passed" : "failed"}`).join("; ") || "–",
      ev.by, ev.reason || ""])));
  try {
    const shadow = await api(`/api/v1/endpoints/${enc(name)}/shadow`);
    const ms = (v) => v === undefined || v === null ? "–" : fmt.number(v * 1000, 3);
    if ((shadow.items || []).length) out.push(h("h2", {}, "Shadow comparison"),
      table("Shadows against the answering version on mirrored traffic", ["Shadow", "Compared", "Shadow errors", "Skipped", "Same class", "Mean |difference|", "p99 |difference|", "Max |difference|", "Answering p50 / p99 ms", "Shadow p50 / p99 ms"],
        shadow.items.map((x) => [`${x.shadow.model}:${x.shadow.version}`, fmt.number(x.compared), fmt.number(x.shadow_errors), fmt.number(x.skipped),
          fmt.percent(x.agreement), fmt.number(x.mean_abs_difference), fmt.number(x.p99_abs_difference), fmt.number(x.max_abs_difference),
          `${ms(x.primary_latency_p50_seconds)} / ${ms(x.primary_latency_p99_seconds)}`, `${ms(x.shadow_latency_p50_seconds)} / ${ms(x.shadow_latency_p99_seconds)}`])));
  } catch { /* no shadows */ }
  return out;
}

async function jobs() {
  const list = await api("/api/v1/jobs");
  const page = [h("h1", {}, "Batch jobs"), table("Jobs, newest first", ["Job", "Model", "State", "Progress", "Rows", "Failed", "Rows/s", "Reason"],
    list.items.map((j) => [j.id, `${j.model}:${j.version}`, j.state,
      h("progress", { max: "1", value: String(j.progress.fraction ?? 0), "aria-label": `${j.id} progress` }, fmt.percent(j.progress.fraction)),
      fmt.number(j.progress.rows_done), fmt.number(j.progress.rows_failed), fmt.number(j.progress.rows_per_second, 3), j.reason || ""]))];
  if (list.items.some((j) => ["queued", "running"].includes(j.state))) page.poll = 2000;
  return page;
}

// Four-eyes changes: what waits for approval (with Approve and Reject for a deployer who did not ask, Withdraw for
// the one who did), what was decided, and what is protected.
async function approvals() {
  const [pending, recent, protections] = await Promise.all([
    api("/api/v1/approvals?state=pending"), api("/api/v1/approvals?limit=50"), api("/api/v1/protections")]);
  const p = session.principal, me = p && (p.id === p.name ? p.id : `${p.name} (${p.id})`);
  const status = h("div", { "aria-live": "polite" });
  const decide = (id, action) => async () => {
    try {
      const decided = await api(`/api/v1/approvals/${enc(id)}/${action}`, { method: "POST", body: {} });
      await render();
      if (decided.state === "failed") $("#main").prepend(notice(`The approved change could not be carried out: ${decided.outcome}`, "error"));
    } catch (error) { status.replaceChildren(notice(error.message, "error")); }
  };
  const scope = (r) => r.target.model || r.target.endpoint;
  const actions = (r) => {
    if (r.requested_by === me) return h("button", { type: "button", onclick: decide(r.id, "cancel"), "aria-label": `Withdraw ${r.id}` }, "Withdraw");
    if (!session.canDeploy(scope(r))) return "–";
    return h("span", { class: "actions", role: "group", "aria-label": `Decide ${r.id}` },
      h("button", { type: "button", onclick: decide(r.id, "approve") }, "Approve"),
      h("button", { type: "button", class: "danger", onclick: decide(r.id, "reject") }, "Reject"));
  };
  const page = [h("h1", {}, "Approvals"),
    h("p", {}, "Changing a protected alias or endpoint files a request; a second principal with the deployer role or above approves it, and the change is made then."),
    status,
    pending.items.length ? table("Waiting for a decision", ["Request", "Target", "Change", "Asked by", "Reason", "Expires", "Decide"],
      pending.items.map((r) => [r.id, r.target.key, r.change.summary, r.requested_by, r.reason || "", fmt.time(r.expires_at), actions(r)]))
      : notice("Nothing waits for approval."),
    table("Requests, newest first", ["Request", "Target", "Change", "Asked by", "State", "Decided by", "Comment", "Outcome"],
      recent.items.map((r) => [r.id, r.target.key, r.change.summary, r.requested_by, r.state, r.decided_by || "–", r.comment || "", r.outcome || ""])),
    table("Protected aliases and endpoints", ["Target", "Requests expire after", "Pre-approved", "By"],
      protections.items.map((x) => [x.target.key, `${fmt.number(x.expires_after_seconds / 3600)} h`, (x.preapproved || []).join(", ") || "–", x.created_by]))];
  if (pending.items.length) page.poll = 5000;
  return page;
}

// Group fairness of a binary classifier's decisions by one of its inputs: per group, the disparities, and how they
// moved over time.
async function fairness(model, attribute) {
  const list = await api("/api/v1/models");
  const names = list.items.map((m) => m.name);
  model = model || names[0];
  const page = [h("h1", {}, "Fairness")];
  if (!model) return [...page, notice("No models yet.")];
  const versions = await api(`/api/v1/models/${enc(model)}/versions`);
  const latest = versions.items.reduce((a, v) => (a && a.version > v.version ? a : v), null);
  const features = latest?.input_schema?.features || [];
  attribute = attribute || (features.find((f) => f.sensitive) || features.find((f) => f.categories) || features[0])?.name;
  const go = () => { location.hash = `#/fairness/${enc($("#fair-model").value)}/${$("#fair-model").value === model ? enc($("#fair-attribute").value) : ""}`; };
  page.push(h("p", {}, "Decisions (probability at or above 0.5) against ground truth, grouped by the input's logged values (hashed inputs by their hashes); fairlearn's definitions."),
    h("div", { class: "pickers" },
      h("label", { for: "fair-model" }, "Model "), h("select", { id: "fair-model", onchange: go }, names.map((n) => h("option", { value: n, selected: n === model }, n))),
      h("label", { for: "fair-attribute" }, " Groups by "), h("select", { id: "fair-attribute", onchange: go },
        features.map((f) => h("option", { value: f.name, selected: f.name === attribute }, `${f.name}${f.sensitive ? " (sensitive)" : ""}`)))),
    rangePicker());
  try {
    const report = await api(`/api/v1/models/${enc(model)}/fairness?attribute=${enc(attribute)}&${rangeQuery()}`);
    const groups = Object.keys(report.by_group).sort();
    page.push(table(`Version ${report.version} by ${attribute}`, ["Group", "Rows", "Selection rate", "True positive rate", "False positive rate", "Accuracy"],
      [...groups.map((g) => [g, report.by_group[g]]), ["overall", report.overall]].map(([g, r]) =>
        [g, fmt.number(r.count), fmt.number(r.selection_rate), fmt.number(r.true_positive_rate), fmt.number(r.false_positive_rate), fmt.number(r.accuracy)])),
      table("Disparities between the groups", ["Measure", "Difference", "Ratio"], [
        ["Demographic parity", fmt.number(report.demographic_parity_difference), fmt.number(report.demographic_parity_ratio)],
        ["Equal opportunity", fmt.number(report.equal_opportunity_difference), fmt.number(report.equal_opportunity_ratio)],
        ["Equalized odds", fmt.number(report.equalized_odds_difference), fmt.number(report.equalized_odds_ratio)],
        ["Accuracy", fmt.number(report.accuracy_difference), "–"]]),
      lineChart("Differences between the groups per period", periodTimes(report.series || []), [
        { name: "demographic parity", values: (report.series || []).map((p) => p.demographic_parity_difference) },
        { name: "equal opportunity", values: (report.series || []).map((p) => p.equal_opportunity_difference) },
        { name: "equalized odds", values: (report.series || []).map((p) => p.equalized_odds_difference) }]));
  } catch (error) {
    page.push(notice(error.message));
  }
  return page;
}

// What serving costs, per model version and per client (this replica, since it started).
async function cost() {
  const report = await api("/api/v1/cost");
  const money = (v) => v === undefined || v === null ? "–" : Number(v.toPrecision(4)).toString();
  const priced = report.prices.cpu_hour !== undefined || report.prices.gib_hour !== undefined;
  return [h("h1", {}, "Cost"),
    priced ? h("p", {}, `Prices: ${money(report.prices.cpu_hour)} per CPU hour, ${money(report.prices.gib_hour)} per GiB-hour of model memory.`)
      : notice("No prices are set (ferry serve --cost-per-cpu-hour, --cost-per-gib-hour): CPU time and memory only."),
    table("Per model version", ["Model", "Version", "Requests", "Predictions", "CPU µs per request", "Memory GiB-hours", "Cost", "Cost per 1,000 predictions"],
      report.models.map((r) => [r.model, String(r.version), fmt.number(r.requests), fmt.number(r.predictions), fmt.number(r.cpu_us_per_request, 3),
        fmt.number(r.memory_gib_hours, 3), money(r.cost), money(r.cost_per_1000_predictions)])),
    table("Per client", ["Client", "Requests", "Predictions", "CPU µs per request", "Cost", "Cost per 1,000 predictions"],
      report.principals.map((r) => [r.principal, fmt.number(r.requests), fmt.number(r.predictions), fmt.number(r.cpu_us_per_request, 3), money(r.cost), money(r.cost_per_1000_predictions)]))];
}

async function alerts() {
  const [events, list] = await Promise.all([api("/api/v1/alerts/events"), api("/api/v1/models")]);
  // Every model's rules with their state now (a key restricted to some models sees theirs).
  const rules = (await Promise.all(list.items.map((m) => api(`/api/v1/models/${enc(m.name)}/alerts`).then((r) => r.items, () => [])))).flat();
  const condition = (r) => `${r.metric}${r.feature ? `(${r.feature})` : ""} ${r.comparison} ${fmt.number(r.threshold)}${r.window_seconds ? ` over ${r.window_seconds} s` : ""}${r.for_seconds ? ` for ${r.for_seconds} s` : ""}`;
  const page = [h("h1", {}, "Alerts"),
    table("Alert rules and their state", ["Model", "Alert", "Condition", "State", "Since", "Value", "Evaluated"],
      rules.map(({ rule, status }) => [rule.model, rule.name, condition(rule), h("strong", {}, status.state), fmt.time(status.since), fmt.number(status.value), fmt.time(status.evaluated_at)])),
    table("Alert events, newest first", ["When", "Model", "Alert", "Change", "Value"],
      events.items.slice().reverse().map((e) => [fmt.time(e.at), e.model, e.rule || e.alert, `${e.from} → ${e.to}`, fmt.number(e.value)]))];
  page.poll = 10000;
  return page;
}

async function audit() {
  const verify = await api("/api/v1/audit/verify");
  const entries = await api(`/api/v1/audit?after=${Math.max(0, verify.entries - 100)}&limit=100`);
  return [h("h1", {}, "Audit trail"),
    notice(verify.intact ? `The hash chain of ${verify.entries} entries is intact.` : `The chain is broken: ${verify.problems.join("; ")}`, verify.intact ? "ok" : "error"),
    table("Entries", ["#", "When", "Actor", "Action", "Target"],
      entries.items.slice().reverse().map((e) => [String(e.seq), fmt.time(e.at), e.actor, e.action, e.target]))];
}

async function keys() {
  const list = await api("/api/v1/keys");
  return [h("h1", {}, "API keys"), table("Keys", ["Key", "Name", "Role", "Models", "Expires", "State"],
    list.items.map((k) => [k.id, k.name, k.role, (k.models || []).join(", ") || "all", fmt.time(k.expires_at), k.revoked_at ? "revoked" : "active"]))];
}

const pages = [
  [/^#\/models$/, models], [/^#\/models\/(.+)$/, model], [/^#\/endpoints$/, endpoints], [/^#\/endpoints\/(.+)$/, endpoint],
  [/^#\/jobs$/, jobs], [/^#\/features$/, features], [/^#\/alerts$/, alerts], [/^#\/approvals$/, approvals], [/^#\/fairness(?:\/([^/]*)(?:\/([^/]*))?)?$/, fairness], [/^#\/cost$/, cost], [/^#\/audit$/, audit], [/^#\/keys$/, keys],
];

function navigation() {
  const p = session.principal;
  const items = [["#/models", "Models"], ["#/endpoints", "Endpoints"], ["#/jobs", "Jobs"], ["#/features", "Features"], ["#/alerts", "Alerts"], ["#/approvals", "Approvals"], ["#/fairness", "Fairness"], ["#/cost", "Cost"]];
  if (p && p.role === "admin") items.push(["#/audit", "Audit"], ["#/keys", "Keys"]);
  const current = location.hash.split("/").slice(0, 2).join("/");
  $("#nav").replaceChildren(...(p ? [
    h("ul", {}, items.map(([href, text]) => h("li", {}, h("a", { href, "aria-current": current === href ? "page" : false }, text)))),
    h("p", { class: "who" }, `${p.name} (${p.role}${p.models ? `, models ${p.models.join(", ")}` : ""}) `,
      h("button", { type: "button", onclick: () => { session.clear(); location.hash = "#/signin"; } }, "Sign out")),
  ] : []));
}

async function render() {
  const mine = ++generation;
  clearTimeout(refresh);
  refresh = null;
  if (!session.key && location.hash !== "#/signin") { location.hash = "#/signin"; return; }
  navigation();
  const hash = location.hash || "#/models";
  let content;
  try {
    if (hash === "#/signin") content = await signIn();
    else {
      const found = pages.find(([pattern]) => pattern.test(hash));
      if (!found) content = [h("h1", {}, "Not found"), notice(`There is no page ${hash}.`)];
      else content = await found[1](...hash.match(found[0]).slice(1).map((part) => part ? decodeURIComponent(part) : undefined));
    }
  } catch (error) {
    content = [h("h1", {}, "Something went wrong"), notice(error.status === 403 ? `This key may not see this: ${error.message}` : error.message, "error")];
  }
  if (mine !== generation) return; // a newer render started while this one waited: its page wins
  // Keep keyboard focus on the same control across a re-render (a refresh, an action), else on <main>.
  const before = document.activeElement;
  const focusKey = before && before !== main() && main().contains(before) ? `${before.tagName}|${before.id}|${before.textContent}` : null;
  main().replaceChildren(...content);
  if (focusKey) {
    const same = [...main().querySelectorAll("a, button, input, select, textarea")].find((el) => `${el.tagName}|${el.id}|${el.textContent}` === focusKey);
    (same || main()).focus({ preventScroll: true });
  }
  if (content.poll) refresh = setTimeout(render, content.poll);
  main().setAttribute("data-page", hash.split("/")[1] || "");
  document.title = `${$("h1", main())?.textContent || "Ferry"} · Ferry`;
}

window.addEventListener("hashchange", () => { render(); $("#main").focus(); });
// "Skip to content" moves focus without touching location.hash, which holds the route.
$(".skip").addEventListener("click", (event) => { event.preventDefault(); main().focus(); });
// The hatching of series 1 (current, candidate) in every chart: a CSS background does not paint SVG shapes.
document.body.append(svg("svg", { class: "defs", width: 0, height: 0, "aria-hidden": "true", focusable: "false" },
  svg("defs", {}, svg("pattern", { id: "hatch", patternUnits: "userSpaceOnUse", width: 6, height: 6, patternTransform: "rotate(45)" },
    svg("rect", { width: 6, height: 6, fill: "#e69f00" }), svg("rect", { width: 2, height: 6, fill: "#fff" })))));
render();
"""#
}
