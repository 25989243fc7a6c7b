// ActorNat dashboard: polls this node's JSON (/dashboard/api/…) and draws with uPlot. No framework.
"use strict";
const API = "api/";
const POLL_MS = 2000, SLOT_MS = 2000;
const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];
const VERDICT_COLORS = { translate: "#2ca02c", nonat: "#1f77b4", drop: "#d62728" };
const charts = {};            // id -> uPlot
window.actornat = { charts, cluster: null, updates: 0 };

const $ = (id) => document.getElementById(id);
const fmt = (n) => n == null ? "–" : Math.round(n).toLocaleString("en-US");
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
const names = new Map();      // member address -> node name, remembered after the member is gone
const nodeName = (m) => { if (m.view) names.set(m.address, m.view.node); return names.get(m.address) || m.address; };

async function getJson(path) {
  // The admin token, from the page's #token=… (never sent to anything but this node's own JSON).
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  const r = await fetch(API + path, { cache: "no-store", headers: token ? { Authorization: "Bearer " + token } : {} });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
  return body;
}

// ---- charts -------------------------------------------------------------------------------------------------------

function chart(id, series, data, opts = {}) {
  const el = $(id);
  const key = JSON.stringify(series.map((s) => s.label)) + (opts.kind || "");
  const width = Math.max(300, el.clientWidth);
  let c = charts[id];
  if (c && c._key !== key) { c.destroy(); c = null; }
  if (!c) {
    c = new uPlot({ width, height: 200, series: [{}, ...series], legend: { live: false }, cursor: { show: !(opts.kind || "").startsWith("bars") },
      scales: opts.scales || { x: { time: true } }, axes: opts.axes, padding: [8, 8, 0, 0] }, data, el);
    c._key = key;
    charts[id] = c;
  } else {
    c.setData(data);
  }
  return c;
}

function line(label, color, extra = {}) {
  return { label, stroke: color, width: 1.5, spanGaps: true, points: { show: false }, value: (u, v) => v == null ? "–" : v.toFixed(v < 10 ? 2 : 0), ...extra };
}

function barChart(id, names, values, label, color) {
  const xs = names.map((_, i) => i);
  chart(id, [{ label, fill: color + "cc", stroke: color, paths: uPlot.paths.bars({ size: [0.5, 80] }), points: { show: false } }],
    [xs, values], {
      kind: "bars:" + names.join(","),
      scales: { x: { time: false, range: () => [-0.5, Math.max(0.5, names.length - 0.5)] }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.15)] } },
      axes: [{ splits: () => xs, values: (u, splits) => splits.map((i) => names[i] ?? ""), grid: { show: false } }, {}],
    });
}

// ---- rates from running totals -----------------------------------------------------------------------------------

// Per node: [{t, dt, sample, prev}] for consecutive samples (a counter that went down means the node restarted).
function steps(samples) {
  const out = [];
  for (let i = 1; i < samples.length; i++) out.push({ t: samples[i].t, dt: (samples[i].t - samples[i - 1].t) / 1000, cur: samples[i], prev: samples[i - 1] });
  return out;
}
const delta = (a, b) => (a == null ? 0 : a) >= (b == null ? 0 : b) ? (a || 0) - (b || 0) : (a || 0);
const slotOf = (t) => Math.round(t / SLOT_MS) * SLOT_MS;

// The time grid over every node's steps, and per node a map slot -> step.
function grid(views) {
  const slots = new Set();
  const perNode = views.map((v) => {
    const m = new Map();
    for (const s of steps(v.samples)) { const k = slotOf(s.t); m.set(k, s); slots.add(k); }
    return m;
  });
  return { xs: [...slots].sort((a, b) => a - b), perNode };
}

function quantile(q, buckets) {   // Prometheus' histogram_quantile over cumulative buckets {le: count}
  const bs = Object.entries(buckets).map(([le, c]) => [le === "+Inf" ? Infinity : parseFloat(le), c]).sort((a, b) => a[0] - b[0]);
  if (!bs.length) return null;
  const total = bs[bs.length - 1][1];
  if (total <= 0) return null;
  const rank = q * total;
  let prevLe = 0, prevC = 0;
  for (const [le, c] of bs) {
    if (c >= rank) {
      if (le === Infinity) return prevLe;
      return prevLe + (le - prevLe) * (c > prevC ? (rank - prevC) / (c - prevC) : 1);
    }
    prevLe = le; prevC = c;
  }
  return prevLe;
}

function drawRates(views) {
  const { xs, perNode } = grid(views);
  const secs = xs.map((t) => t / 1000);
  const rate = (fn) => perNode.map((m) => xs.map((x) => { const s = m.get(x); return s && s.dt > 0 ? fn(s) / s.dt : null; }));
  const sum = (rows) => xs.map((_, i) => rows.some((r) => r[i] != null) ? rows.reduce((a, r) => a + (r[i] || 0), 0) : null);

  const flows = rate((s) => delta(s.cur.newFlows, s.prev.newFlows));
  chart("chart-flows", views.map((v, i) => line(v.node, PALETTE[i % PALETTE.length])), [secs, ...flows]);

  const kinds = ["translate", "nonat", "drop"];
  chart("chart-verdicts", kinds.map((k) => line(k, VERDICT_COLORS[k])),
    [secs, ...kinds.map((k) => sum(rate((s) => delta(s.cur.verdicts[k], s.prev.verdicts[k]))))]);

  const reasons = [...new Set(views.flatMap((v) => v.samples.flatMap((s) => Object.keys(s.drops))))].filter((r) => r !== "none").sort();
  chart("chart-drops", reasons.map((r, i) => line(r, PALETTE[(i + 1) % PALETTE.length])),
    [secs, ...reasons.map((r) => sum(rate((s) => delta(s.cur.drops[r], s.prev.drops[r]))))]);

  // Latency: the bucket increments of every node in a slot, merged, then p50/p99 as histogram_quantile does.
  const p = { p50: [], p99: [] };
  for (const x of xs) {
    const merged = {};
    for (const m of perNode) {
      const s = m.get(x);
      if (!s) continue;
      for (const [le, c] of Object.entries(s.cur.latencyBuckets)) merged[le] = (merged[le] || 0) + delta(c, s.prev.latencyBuckets[le]);
    }
    const q50 = quantile(0.5, merged), q99 = quantile(0.99, merged);
    p.p50.push(q50 == null ? null : q50 * 1000);
    p.p99.push(q99 == null ? null : q99 * 1000);
  }
  chart("chart-latency", [line("p50", "#1f77b4"), line("p99", "#d62728")], [secs, p.p50, p.p99]);
}

// ---- panels ---------------------------------------------------------------------------------------------------------

function statusClass(s) { s = (s || "").toLowerCase(); return s === "up" ? "up" : s === "unreachable" || s === "down" ? s : "other"; }

function drawMembers(c) {
  const rows = c.members.map((m) => `<tr class="${m.isSelf ? "self" : ""}">
    <td>${esc(nodeName(m))}${m.isSelf ? " <span class='muted'>(this node)</span>" : ""}${m.isLeader ? " <span class='muted'>leader</span>" : ""}</td>
    <td>${esc(m.address)}</td>
    <td><span class="badge ${statusClass(m.status)}">${esc(m.status)}</span></td>
    <td>${esc((m.roles || []).join(", "))}</td>
    <td class="num">${c.membersError ? "–" : fmt(m.shards)}</td><td class="num">${c.membersError ? "–" : fmt(m.entries)}</td>
    <td class="muted">${esc(m.grpcEndpoint || "")}</td>
    <td>${m.view ? "ok" : `<span class="error">unreachable: ${esc(m.error || "?")}</span>`}</td></tr>`);
  $("members").tBodies[0].innerHTML = rows.join("");
  $("members-error").hidden = !c.membersError;
  $("members-error").textContent = c.membersError || "";
  const up = c.members.filter((m) => (m.status || "").toLowerCase() === "up").length;
  $("summary").textContent = `${c.backend} backend · ${c.members.length} member${c.members.length === 1 ? "" : "s"}, ${up} up`;
  const self = c.members.find((m) => m.isSelf);
  $("self").textContent = self ? `${nodeName(self)} · ${self.address}` : "";
  if (c.membersError) return; // keep the last spread rather than draw zeros nobody counted
  const names = c.members.map(nodeName);
  barChart("chart-shards", names, c.members.map((m) => m.shards), "shards", "#1f77b4");
  barChart("chart-entries", names, c.members.map((m) => m.entries), "entries", "#2ca02c");
}

function drawPools(views) {
  const pools = new Map();
  for (const v of views) for (const p of v.gauges.pools) {
    const k = p.natIp + "/" + p.protocol;
    const e = pools.get(k) || { natIp: p.natIp, protocol: p.protocol, used: 0, size: 0, nodes: [] };
    e.used += p.used; e.size = Math.max(e.size, p.size);
    if (p.used > 0) e.nodes.push(v.node);
    pools.set(k, e);
  }
  const list = [...pools.values()].sort((a, b) => (b.size ? b.used / b.size : 0) - (a.size ? a.used / a.size : 0) || b.used - a.used);
  $("pools").tBodies[0].innerHTML = list.length ? list.map((p) => {
    const pct = p.size ? 100 * p.used / p.size : 0;
    return `<tr><td>${esc(p.natIp)}</td><td>${esc(p.protocol)}</td><td class="num">${fmt(p.used)}</td><td class="num">${fmt(p.size)}</td>
      <td><meter min="0" max="${p.size || 1}" low="${0.7 * (p.size || 1)}" high="${0.9 * (p.size || 1)}" optimum="0" value="${p.used}"></meter></td>
      <td class="num">${pct.toFixed(pct < 1 ? 2 : 1)}</td><td class="muted">${esc(p.nodes.join(", "))}</td></tr>`;
  }).join("") : `<tr><td colspan="7" class="muted">no NAT address has a pool yet</td></tr>`;
  const last = (v) => v.samples.length ? v.samples[v.samples.length - 1] : null;
  const drops = views.reduce((a, v) => a + ((last(v) && last(v).drops["ports-exhausted"]) || 0), 0);
  const events = views.reduce((a, v) => a + (v.gauges.events["ports_exhausted"] || 0), 0);
  $("exhaustion").textContent = `Exhaustion drops (ports-exhausted) since the nodes started: ${fmt(drops)} · ports_exhausted NAT events: ${fmt(events)}`;
}

function drawEvents(c) {
  const cls = { up: "up", "reachable again": "up", unreachable: "unreachable", downed: "down", removed: "down" };
  $("events").tBodies[0].innerHTML = c.events.slice(0, 12).map((e) => `<tr><td>${new Date(e.t).toLocaleTimeString()}</td>
    <td>${esc(names.get(e.address) || "")}</td><td>${esc(e.address)}</td><td><span class="badge ${cls[e.event] || "other"}">${esc(e.event)}</span></td></tr>`).join("")
    || `<tr><td colspan="4" class="muted">none (a single node, or nothing changed)</td></tr>`;
}

async function refresh() {
  try {
    const c = await getJson("cluster");
    window.actornat.cluster = c;
    drawMembers(c);
    drawEvents(c);
    const views = c.members.filter((m) => m.view).map((m) => m.view);
    drawRates(views);
    drawPools(views);
    window.actornat.updates++;
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (e) {
    $("updated").textContent = "update failed: " + e.message;
  }
}

async function loadConfig() {
  try {
    const c = await getJson("config");
    $("cfg-addr").textContent = c.addresses.join("\n") || "(none)";
    $("cfg-route").textContent = c.routes.join("\n") || "(none)";
    $("cfg-rules").textContent = c.rules.join("\n");
  } catch (e) {
    $("cfg-addr").textContent = "cannot read the configuration: " + e.message;
  }
}

async function searchConntrack(ev) {
  if (ev) ev.preventDefault();
  const q = $("conntrack-q").value;
  try {
    const r = await getJson("conntrack?q=" + encodeURIComponent(q));
    $("conntrack-error").hidden = true;
    const more = r.total > r.lines.length ? `\n(${r.total - r.lines.length} more not shown)` : "";
    $("conntrack-out").innerHTML = r.lines.map((l) => `<span title="held on ${esc(l.node)}">${esc(l.line)}</span>`).join("\n")
      + (r.lines.length ? "\n" : "") + `<span class="muted">${esc(r.footer)}${esc(more)}</span>`;
  } catch (e) {
    $("conntrack-error").hidden = false;
    $("conntrack-error").textContent = e.message;
  }
}

$("conntrack-form").addEventListener("submit", searchConntrack);
window.addEventListener("resize", () => { for (const c of Object.values(charts)) c.setSize({ width: Math.max(300, c.root.parentElement.clientWidth), height: 200 }); });
refresh(); loadConfig(); searchConntrack();
setInterval(refresh, POLL_MS);
setInterval(loadConfig, 15000);
