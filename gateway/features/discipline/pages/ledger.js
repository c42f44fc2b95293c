// The discipline ledger's fragment of the manager page (违规台账): the ledger with its filters
// (period, department, kind, state), each record's evidence, trail and photo, the steps a duty
// manager or manager takes on it (confirm, dismiss, decide: each with a reason, checked here in
// Chinese), the export of what is shown (XLSX), and the view by department (who is at or near the
// three strikes). Every read of this ledger is audited by the gateway. Run by HG.fragments.
"use strict";
HG.fragment(async (ctx) => {
  const { t, $, esc, dt, coded } = HG;
  const opts = (group, values) => `<option value="">${t("all")}</option>` + values.map((v) => `<option value="${v}">${esc(HG.label(group, v))}</option>`).join("");
  ctx.root.innerHTML = `<section class="card ledger" id="ledger-card"><h2 data-t="ledger"></h2>
    <form id="ledger-filter" class="row wrap" novalidate>
      <label><span data-t="start"></span> <input type="date" id="lf-start" required></label>
      <label><span data-t="end"></span> <input type="date" id="lf-end" required></label>
      <label><span data-t="department"></span> <select id="lf-dept"><option value="">${t("all")}</option></select></label>
      <label><span data-t="kind"></span> <select id="lf-kind">${opts("violation_kind", ["unready", "away", "phone", "chat", "other"])}</select></label>
      <label><span data-t="state"></span> <select id="lf-state">${opts("violation_state", ["detected", "confirmed", "dismissed", "appealed", "decided"])}</select></label>
      <button class="act" id="lf-show" data-t="show"></button>
      ${ctx.may("export") ? `<button type="button" id="lf-export" data-t="export_xlsx"></button>` : ""}
      <p class="error" id="ledger-error"></p></form>
    <div class="scroll"><table><thead><tr><th>#</th><th data-t="at"></th><th data-t="person"></th><th data-t="department"></th><th data-t="window"></th>
      <th data-t="kind"></th><th data-t="state"></th></tr></thead><tbody id="ledger-rows"></tbody></table></div>
    <div id="ledger-detail"></div></section>
    <section class="card" id="dept-card" hidden><h2 data-t="dept_view"></h2><div class="scroll"><table><thead><tr><th data-t="department"></th>
      <th data-t="confirmed_count"></th><th data-t="open_count"></th><th data-t="person"></th></tr></thead><tbody id="dept-rows"></tbody></table></div></section>`;
  HG.translate(ctx.root);
  HG.expect(["ledger", "departments"]);
  const [start, end] = HG.range("this_month");
  $("#lf-start").value = start; $("#lf-end").value = end;
  $("#ledger-filter").insertBefore(HG.quickRanges($("#lf-start"), $("#lf-end"), () => draw()), $("#lf-show"));
  for (const d of [...new Set([...(await HG.api("/api/v1/staff")).map((p) => p.department)])].filter(Boolean).sort()) {
    $("#lf-dept").insertAdjacentHTML("beforeend", `<option value="${esc(d)}">${esc(d)}</option>`);
  }
  // The filter as the API takes it; null (and the words why, shown) when the period is not right.
  function query() {
    const s = $("#lf-start").value, e = $("#lf-end").value, bad = HG.rangeError(s, e, 366);
    $("#ledger-error").textContent = bad;
    if (bad) return null;
    const q = { start: s, end: new Date(Date.parse(`${e}T00:00:00Z`) + 86400000).toISOString().slice(0, 10) };
    for (const [k, id] of [["department", "#lf-dept"], ["kind", "#lf-kind"], ["state", "#lf-state"]]) if ($(id).value) q[k] = $(id).value;
    return q;
  }
  async function draw() {
    const q = query();
    if (!q) return;
    const rows = await ctx.call("ledger", {}, { query: q });
    // The record opens from its number, the first cell: on a phone the table scrolls sideways, the button stays in view.
    $("#ledger-rows").innerHTML = rows.map((v) => `<tr data-id="${v.id}"><td><button type="button" class="open-record" data-id="${v.id}" title="${esc(t("detail"))}">#${v.id}</button></td><td>${dt(v.at)}</td><td>${HG.person(v.staff)}</td>
      <td>${esc(v.department)}</td><td>${esc(v.window || "—")}</td><td>${coded("violation_kind", v.kind)}</td>
      <td>${coded("violation_state", v.state)}${v.outcome ? ` · ${coded("violation_outcome", v.outcome)}` : ""}</td></tr>`).join("")
      || `<tr><td colspan="7" class="muted">${t("ledger_none")}</td></tr>`;
    HG.drawn("ledger");
  }
  $("#ledger-filter").onsubmit = (e) => { e.preventDefault(); draw().catch((err) => { $("#ledger-error").textContent = err.message; }); };
  if (ctx.may("export")) $("#lf-export").onclick = async () => {
    const q = query();
    if (!q) return;
    try { await HG.download(`${ctx.path("export")}?${new URLSearchParams({ ...q, format: "xlsx" })}`); }
    catch (err) { $("#ledger-error").textContent = err.message; }
  };

  // One record: its evidence, its trail, its photo, and the steps its state leaves.
  const token = () => sessionStorage.getItem("hallgate-token") || "";
  const evidence = (e) => `<li>${dt(e.at)} ${coded("violation_evidence", e.event)}${e.direction ? ` ${coded("punch_direction", e.direction)}` : ""}
    ${e.staff ? HG.person(e.staff) : ""}${e.device ? ` ${esc(e.device)}` : ""}${e.slot != null ? ` #${esc(e.slot)}` : ""}${e.note ? ` · ${esc(e.note)}` : ""}${e.where ? ` · ${esc(e.where)}` : ""}</li>`;
  // Who took a step: a person and their role; the gateway's own detection as words.
  const by = (s) => (s.role === "gateway" ? t("by_gateway") : `${esc(s.actor)} <span class="muted">${esc(HG.label("role", s.role))}</span>`);
  const step = (s) => `<li>${dt(s.at)} ${coded("violation_step", s.action)} · ${by(s)}
    ${s.outcome ? ` · ${coded("violation_outcome", s.outcome)}` : ""}${s.text ? ` · ${esc(s.text)}` : ""}</li>`;
  const STEPS = { detected: [["confirm", "v_confirm"], ["dismiss", "v_dismiss"]], appealed: [["decide:upheld", "v_uphold"], ["decide:overturned", "v_overturn"]] };
  async function open(id) {
    const v = await ctx.call("record", { violation_id: id });
    const box = $("#ledger-detail");
    box.innerHTML = `<article class="record" id="record-${v.id}"><h3>#${v.id} ${esc(HG.label("violation_kind", v.kind))} · ${HG.person(v.staff)}</h3>
      <p>${coded("violation_state", v.state)} · ${t("counts_toward")}: ${t(v.counts ? "yes" : "no")}</p>
      <h4 data-t="evidence"></h4><ul class="evidence">${v.evidence.map(evidence).join("") || `<li class="muted">${t("none")}</li>`}</ul>
      <h4 data-t="trail"></h4><ol class="trail">${(v.steps || []).map(step).join("")}</ol>
      <h4 data-t="photo"></h4><div class="photo">${v.photo ? "" : `<span class="muted">${t("no_photo")}</span>`}</div>
      <div class="row wrap steps">${(STEPS[v.state] || []).filter(([a]) => ctx.may(a.split(":")[0])).map(([a, w]) => `<button type="button" class="act" data-step="${a}">${t(w)}</button>`).join("")}</div></article>`;
    HG.translate(box);
    if (v.photo && ctx.may("photo")) {
      const r = await fetch(ctx.path("photo", { violation_id: id }), { headers: token() ? { Authorization: `Bearer ${token()}` } : {} });
      if (r.ok) $(".photo", box).innerHTML = `<img alt="${esc(t("photo"))}" src="${URL.createObjectURL(await r.blob())}">`;
    }
    box.querySelectorAll("[data-step]").forEach((b) => { b.onclick = () => act(v, b.dataset.step, b.textContent); });
  }
  async function act(v, which, title) {
    const [action, outcome] = which.split(":");
    const done = await HG.dialog({ title: `#${v.id} ${title}`, text: t("reason_hint"), noteRequired: true },
      (reason) => ctx.call(action, { violation_id: v.id }, { body: outcome ? { reason, outcome } : { reason } }));
    if (done) { await draw(); await open(v.id); await depts(); }
  }
  $("#ledger-rows").onclick = (e) => { const b = e.target.closest(".open-record"); if (b) open(Number(b.dataset.id)).catch((err) => { $("#ledger-error").textContent = err.message; }); };

  // The view by department: counted violations in the strikes' period, per person, at or near the limit.
  async function depts() {
    if (!ctx.may("departments")) { HG.drawn("departments"); return; }
    const rows = await ctx.call("departments");
    $("#dept-card").hidden = false;
    $("#dept-rows").innerHTML = rows.map((d) => `<tr><td>${esc(d.department || "—")}</td><td>${d.count}</td><td>${d.open}</td>
      <td>${d.people.map((p) => `<span class="standing ${p.standing}">${HG.person(p.staff)} ${p.count}/${p.limit}${p.standing !== "below" ? ` ${coded("strike_standing", p.standing)}` : ""}</span>`).join("<br>")}</td></tr>`).join("")
      || `<tr><td colspan="4" class="muted">${t("none")}</td></tr>`;
    HG.drawn("departments");
  }
  await Promise.all([draw(), depts()]);
});
