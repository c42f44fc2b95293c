// The technician's page: alerts first, then the devices and why each is not ok, quarantined
// messages and unknown devices. Every state or code is shown by its catalogue label (HG.label),
// its machine code beside it in a small muted <code>, so a person reads Chinese and a call
// to the vendor can still quote the code.
"use strict";
const { t, $, esc, dt, api, may } = HG;
let all = [];

// A value by its label, the code beside it; in English (or a value without a label) the code alone.
function lab(group, value, cls = "") {
  const text = HG.label(group, value);
  const klass = cls ? ` class="${esc(cls)}"` : "";
  if (text === value) return `<span${klass}>${esc(value)}</span>`;
  return `<span${klass} title="${esc(value)}">${esc(text)}</span> <code class="tag muted">${esc(value)}</code>`;
}
// The same, for a place that takes text only (an <option>, an SVG <title>).
const labText = (group, value) => { const text = HG.label(group, value); return text === value ? value : `${text} (${value})`; };
const HEALTH = ["ok", "degraded", "offline"];

function query() {
  const q = new URLSearchParams();
  for (const [k, id] of [["kind", "#f-kind"], ["health", "#f-health"], ["zone", "#f-zone"]]) if ($(id).value) q.set(k, $(id).value);
  return q.toString();
}
function options(sel, values, label, text = (v) => v) {
  const keep = $(sel).value;
  $(sel).innerHTML = `<option value="">${t(label)}: ${t("all")}</option>` + values.map((v) => `<option value="${esc(v)}">${esc(text(v))}</option>`).join("");
  $(sel).value = keep;
}
// Why a device is not ok, in the list: the reason, since when, when it was last heard of.
function why(d) {
  if (d.health === "ok") return "";
  const when = `${t("since")} ${dt(d.since)}${d.health === "offline" ? ` · ${t("last_seen")} ${d.last_seen ? dt(d.last_seen) : t("never")}` : ""}`;
  return `${esc(d.detail)}<br><small class="muted">${esc(when)}</small>`;
}
async function devices() {
  if (!all.length) {
    all = await api("/api/v1/devices");
    options("#f-kind", [...new Set(all.map((d) => d.kind))].sort(), "kind", HG.kindText);
    const zoneNames = new Map(all.map((d) => [d.zone, d.zone_name]));
    options("#f-zone", [...zoneNames.keys()].filter(Boolean).sort(), "zone", (z) => `${zoneNames.get(z) || z} (${z})`);
    options("#f-health", HEALTH, "health", (v) => labText("health", v));
  }
  const list = await api(`/api/v1/devices?${query()}`);
  const text = $("#f-text").value.trim().toLowerCase();
  const shown = list.filter((d) => !text || [d.id, HG.kindText(d.kind), d.zone, d.zone_name, d.window, d.detail].join(" ").toLowerCase().includes(text));
  const order = { offline: 0, degraded: 1, ok: 2 };
  shown.sort((a, b) => order[a.health] - order[b.health] || a.id.localeCompare(b.id));
  const counts = { ok: 0, degraded: 0, offline: 0 };
  list.forEach((d) => counts[d.health]++);
  $("#device-summary").innerHTML = `${shown.length} · ${HEALTH.map((h) => `<span class="${h}" title="${h}">${esc(HG.label("health", h))} ${counts[h]}</span>`).join(" · ")}`;
  $("#devices").innerHTML = shown.map((d) => `<tr class="pick" data-id="${esc(d.id)}" data-health="${esc(d.health)}"><td>${esc(d.id)}</td>
    <td>${lab("health", d.health, d.health)}</td><td>${HG.kindHtml(d.kind)}</td><td>${d.zone ? `${esc(d.zone_name || d.zone)}${HG.beside(d.zone)}` : esc(d.window || "")}</td><td>${why(d)}</td><td class="muted">${dt(d.last_seen)}</td></tr>`).join("");
}

// A table of name -> value (info, counters): the names are the device's or the gateway's own codes.
function kv(obj, value = (k, v) => esc(typeof v === "object" ? JSON.stringify(v) : v)) {
  const rows = Object.entries(obj || {});
  return rows.length ? `<div class="scroll"><table>${rows.map(([k, v]) => `<tr><th><code>${esc(k)}</code></th><td>${value(k, v)}</td></tr>`).join("")}</table></div>` : `<p class="muted">${t("none")}</p>`;
}
// Health over time as a band: one coloured stretch per transition.
function band(history) {
  if (!history.length) return "";
  const times = history.map((h) => Date.parse(h.at)).filter((x) => !isNaN(x));
  const t0 = Math.min(...times), t1 = Date.now(), span = Math.max(1, t1 - t0);
  const colour = { ok: "#3ccf64", degraded: "#f0a020", offline: "#ff4d4d" };
  const sorted = [...history].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  let out = `<svg class="chart band" viewBox="0 0 600 20" preserveAspectRatio="none">`;
  sorted.forEach((h, i) => {
    const a = (Date.parse(h.at) - t0) / span, b = i + 1 < sorted.length ? (Date.parse(sorted[i + 1].at) - t0) / span : 1;
    out += `<rect x="${(a * 600).toFixed(1)}" y="2" width="${Math.max(1, (b - a) * 600).toFixed(1)}" height="18" fill="${colour[h.health] || "#999"}"><title>${esc(dt(h.at))} ${esc(labText("health", h.health))} ${esc(h.detail)}</title></rect>`;
  });
  // The ends' times in the page's type, not scaled with the band's width.
  return `${out}</svg><p class="row muted band-ends"><span>${esc(dt(sorted[0].at))}</span><span>${esc(t("now"))}</span></p>`;
}
// Why it is offline (or degraded), first: the reason, since when, last heard of, last error, link.
function diagnosis(d) {
  const rows = [
    [t("health"), lab("health", d.health, d.health)],
    [t("reason"), esc(d.detail) || `<span class="muted">${t("none")}</span>`],
    [t("state_since"), esc(dt(d.since))],
    [t("last_seen"), d.last_seen ? esc(dt(d.last_seen)) : t("never")],
    [t("last_error"), d.last_error ? `<code>${esc(d.last_error)}</code>` : `<span class="muted">${t("none")}</span>`],
    [t("link_state"), d.link && d.link.state ? lab("link_state", d.link.state, d.link.state === "up" ? "ok" : "bad") : "–"],
  ];
  return `<table class="diagnosis" data-health="${esc(d.health)}">${rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join("")}</table>`;
}
async function device(id) {
  const d = await api(`/api/v1/devices/${encodeURIComponent(id)}`);
  $("#device-card").hidden = false;
  $("#device-title").textContent = `${d.id} · ${HG.kindText(d.kind)}`;
  const link = (k, v) => (k === "state" ? lab("link_state", v) : esc(typeof v === "object" ? JSON.stringify(v) : v));
  $("#device").innerHTML = `<h3>${t(d.health === "offline" ? "why_offline" : "diagnosis")}</h3>${diagnosis(d)}
    <p class="muted"><code>${esc(d.protocol)}</code> · <code>${esc(d.profile)}</code></p>
    <div class="grid2"><div><h3>${t("link")}</h3>${kv(d.link, link)}</div><div><h3>${t("counters")}</h3>${kv(d.counters)}</div></div>
    <h3>${t("history")}</h3>${band(d.history)}
    <div class="scroll"><table>${d.history.slice().reverse().slice(0, 30).map((h) => `<tr><td class="muted">${dt(h.at)}</td><td>${lab("health", h.health, h.health)}</td><td>${esc(h.detail)}</td></tr>`).join("")}</table></div>
    <h3>${t("info")}</h3>${kv(d.info)}
    ${(d.unknown_channels || []).length ? `<h3>${t("unknown_channels")}</h3><div class="scroll"><table>${d.unknown_channels.map((c) => `<tr><td><code>${esc(c.channel)}</code></td><td>${c.messages}</td><td class="muted">${dt(c.last_seen)}</td></tr>`).join("")}</table></div>` : ""}`;
  window.scrollTo(0, 0);
}

// Whether this person may close an alert: it closes by hand, is still active, and is not another
// role's to close (a 差评 is the managers', in its work order: `closed_by`).
const mayClose = (a) => may("POST", "/api/v1/alerts/{alert_id}/close") && a.closes_by_hand
  && (a.state === "open" || a.state === "acknowledged") && (!a.closed_by || a.closed_by.includes(HG.me.role));
function actions(a) {
  const out = [];
  if (may("POST", "/api/v1/alerts/{alert_id}/ack") && a.state === "open") out.push(`<button class="act" data-ack="${a.id}">${t("ack")}</button>`);
  if (mayClose(a)) out.push(`<button class="act danger" data-close="${a.id}">${t("close")}</button>`);
  else if (a.closed_by && a.closes_by_hand && a.state !== "closed") {
    out.push(`<small class="muted">${esc(t("closed_by"))}${esc(a.closed_by.map((r) => HG.label("role", r)).join("、"))}</small>`);
  }
  return out.join(" ");
}
async function alerts() {
  const as = await api("/api/v1/alerts?limit=100");
  $("#alerts").innerHTML = as.map((a) => `<tr data-alert="${a.id}" data-rule="${esc(a.rule)}" data-state="${esc(a.state)}">
    <td>${lab("severity", a.severity, a.severity === "critical" ? "bad" : a.severity === "warning" ? "warn" : "")}</td>
    <td>${lab("alert_state", a.state)}</td>
    <td><b>${lab("alert", a.rule)}</b><br><span class="summary">${esc(a.summary)}</span>${a.note ? `<br><small class="muted">${esc(a.acked_by)}: ${esc(a.note)}</small>` : ""}</td>
    <td>${esc(a.device || "")}</td><td class="muted">${dt(a.opened_at)}</td><td class="acts">${actions(a)}</td></tr>`).join("")
    || `<tr><td class="muted" colspan="6">${t("none")}</td></tr>`;
}
async function quarantine() {
  if (!may("GET", "/api/v1/quarantine")) return;
  const qs = await api("/api/v1/quarantine?limit=50");
  $("#quarantine").innerHTML = qs.map((q) => `<tr><td class="muted">${dt(q.at)}</td><td>${esc(q.device || "")}</td><td>${lab("quarantine", q.reason)}</td>
    <td><code>${esc(q.detail)}</code><br><code>${esc(q.payload.slice(0, 120))}</code></td><td><code>${esc(q.topic)}</code></td></tr>`).join("") || `<tr><td class="muted" colspan="5">${t("none")}</td></tr>`;
}
async function unknown() {
  const us = await api("/api/v1/devices/unknown");
  $("#unknown").innerHTML = us.map((u) => `<tr><td><code>${esc(u.topic)}</code></td><td>${u.messages}</td><td class="muted">${dt(u.last_seen)}</td></tr>`).join("") || `<tr><td class="muted" colspan="3">${t("none")}</td></tr>`;
}

HG.start("tech", async () => {
  await HG.kinds(); // the kinds' labels, before the first device row is drawn
  $("#filters").oninput = () => devices().catch((e) => console.warn(e.message));
  $("#filters").onsubmit = (e) => e.preventDefault();
  $("#devices").onclick = (e) => { const tr = e.target.closest("tr[data-id]"); if (tr) { history.replaceState(null, "", `?device=${encodeURIComponent(tr.dataset.id)}`); device(tr.dataset.id); } };
  $("#device-back").onclick = (e) => { e.preventDefault(); $("#device-card").hidden = true; history.replaceState(null, "", location.pathname); };
  $("#alerts").onclick = async (e) => {
    const b = e.target.closest("button"); if (!b) return;
    const [verb, id] = b.dataset.ack ? ["ack", b.dataset.ack] : ["close", b.dataset.close];
    const summary = b.closest("tr").querySelector(".summary").textContent;
    const done = await HG.dialog({ title: `${t(`${verb}_title`)} #${id}`, text: `${summary} — ${t(`${verb}_hint`)}`, confirmClass: verb === "close" ? "danger" : "" },
      (note) => api(`/api/v1/alerts/${id}/${verb}`, { method: "POST", body: { note } }));
    if (done) alerts();
  };
  const picked = new URLSearchParams(location.search).get("device");
  if (picked) device(picked).catch((e) => console.warn(e.message));
  HG.expect(["alerts", "devices"]);
  HG.every(5000, async () => { if (!document.querySelector("dialog[open]")) await alerts(); HG.drawn("alerts"); });
  HG.every(5000, async () => { await devices(); HG.drawn("devices"); });
  HG.every(15000, quarantine);
  HG.every(30000, unknown);
});
