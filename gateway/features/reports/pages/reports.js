// The operations reports' fragment of the manager page: the reports made, newest first (kind,
// period, state, when, the files to download, where each was delivered; a failed one says why),
// and the schedule's next runs, from GET /api/v1/reports and GET /api/v1/reports/schedule. A row's
// id is `report-<id>`: the work group's message links the page to it. Run by HG.fragments.
"use strict";
HG.fragment(async (ctx) => {
  const { t, $, esc, coded, dt } = HG;
  ctx.root.innerHTML = `<section class="card" id="reports-card"><h2 data-t="reports"></h2>
    <p id="reports-plan"></p><p class="error" id="reports-error"></p>
    <div class="scroll"><table><thead><tr><th data-t="kind"></th><th data-t="report_period"></th><th data-t="report_state"></th>
      <th data-t="report_made"></th><th data-t="report_files"></th><th data-t="report_sent"></th></tr></thead>
      <tbody id="reports"></tbody></table></div></section>`;
  HG.translate(ctx.root);
  HG.expect(["reports"]);
  const files = (r) => r.files.map((f) => `<button type="button" data-ref="${r.id}.${esc(f)}">${esc(f.toUpperCase())}</button>`).join(" ");
  const sent = (d) => `${coded("report_channel", d.channel)}：<span class="${d.state === "sent" ? "ok" : "warn"}">${coded("report_delivery", d.state)}</span>`
    + (d.sent ? ` <span class="muted">${dt(d.sent)}</span>` : "") + (d.error ? `<div class="muted reason">${t("report_failures")} ${d.attempts}：<code>${esc(d.error)}</code></div>` : "");
  const state = (r) => `<span class="${r.status === "failed" ? "bad" : r.status === "done" ? "ok" : "warn"}">${coded("report_status", r.status)}</span>`
    + (r.reason ? `<div class="bad reason">${esc(r.reason)}</div>` : "");
  async function plan() {
    if (!ctx.may("schedule")) return;
    const p = await ctx.call("schedule");
    $("#reports-plan").innerHTML = p.enabled
      ? `${t("reports_next")}：` + p.runs.map((r) => `${coded("report_kind", r.kind)} ${dt(r.next.at)}（${esc(r.next.period)}）`).join("；")
      : `<span class="muted">${t("reports_off")}</span>`;
  }
  async function draw() {
    let rows;
    try { rows = await ctx.call("list"); await plan(); } catch (e) { $("#reports-error").textContent = e.message; return; }
    $("#reports-error").textContent = "";
    $("#reports").innerHTML = rows.map((r) => `<tr id="report-${r.id}" data-status="${esc(r.status)}"><td>${coded("report_kind", r.kind)}
      ${r.by === "schedule" ? `<span class="badge">${t("report_by_schedule")}</span>` : ""}</td><td>${esc(r.period)}</td><td>${state(r)}</td>
      <td>${dt(r.finished || r.created)}</td><td class="files">${files(r)}</td><td>${r.deliveries.map(sent).join("<br>")}</td></tr>`).join("")
      || `<tr><td class="muted" colspan="6">${t("none")}</td></tr>`;
    HG.drawn("reports");
  }
  ctx.root.addEventListener("click", async (e) => {
    const b = e.target.closest("button[data-ref]");
    if (!b) return;
    try { ctx.root.dataset.downloaded = await HG.download(ctx.path("file", { ref: b.dataset.ref })); }
    catch (err) { $("#reports-error").textContent = err.message; }
  });
  HG.every(30000, draw);
});
