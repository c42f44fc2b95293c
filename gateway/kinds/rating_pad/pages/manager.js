// The rating pads' fragment of the manager page: the figures by group over a range (GET
// /api/v1/ratings/summary), coloured by the hall's 好评率 thresholds (its `thresholds`), a row's
// ratings on a click, an export of the table; and the 差评 work orders, filtered by state, window
// and overdue, each with its history and next steps. Run by HG.fragments.
"use strict";
HG.fragment(async (ctx) => {
  const { t, $, esc, dt, pct, coded } = HG;
  const NEXT = { open: ["callback"], called_back: ["rectify", "appeal"], rectified: ["close"], appealed: ["close"] };
  const STATES = ["open", "called_back", "rectified", "appealed", "closed"];
  const MAX_DAYS = 366;
  // A value as a person reads it, the code beside it, small.
  const reasons = (rs) => rs.map((r) => coded("bad_reason", r)).join("、");
  ctx.root.innerHTML = `<section class="card" id="rat-card"><h2 data-t="ratings_by"></h2>
    <form class="row" id="rat-form" novalidate><select id="rat-by"><option value="window" data-t="by_window"></option><option value="staff" data-t="by_staff"></option>
      <option value="item" data-t="by_item"></option><option value="zone" data-t="by_zone"></option><option value="day" data-t="by_day"></option></select>
      <label><span data-t="start"></span> <input type="date" id="rat-start"></label>
      <label><span data-t="end"></span> <input type="date" id="rat-end"></label><button class="act" data-t="show"></button></form>
    <p class="error" id="rat-error"></p><p class="muted" id="rat-thresholds"></p>
    <div class="scroll"><table><thead><tr><th></th><th data-t="rated"></th><th data-t="rating_rate"></th><th data-t="good_rate"></th>
      <th data-t="bad_rate"></th><th data-t="mean"></th><th data-t="reason"></th></tr></thead><tbody id="ratings"></tbody></table></div>
    <p class="row" id="rat-export"><button type="button" data-format="csv" data-t="export_csv"></button><button type="button" data-format="xlsx" data-t="export_xlsx"></button></p>
    <div id="rat-drill" hidden><h3><span id="rat-drill-title"></span> <a href="#" id="rat-drill-close" data-t="back"></a></h3>
      <div class="scroll"><table><thead><tr><th data-t="at"></th><th data-t="window"></th><th data-t="person"></th><th data-t="score"></th>
        <th data-t="item"></th><th data-t="reason"></th><th data-t="case"></th></tr></thead><tbody id="rat-drill-rows"></tbody></table></div></div></section>
  <section class="card" id="wo-card"><h2 data-t="workorders"></h2>
    <form class="row" id="wo-form" novalidate><select id="wo-state"><option value="" data-t="wo_all_states"></option>
      ${STATES.map((s) => `<option value="${s}">${esc(HG.label("workorder_state", s))}</option>`).join("")}</select>
      <input id="wo-window" list="wo-windows" size="8" data-tp="wo_window_ph"><datalist id="wo-windows"></datalist>
      <label><input type="checkbox" id="wo-overdue"> <span data-t="wo_overdue_only"></span></label><button class="act" data-t="show"></button></form>
    <p class="error" id="wo-error"></p>
    <div class="scroll"><table><thead><tr><th>#</th><th data-t="state"></th><th data-t="deadline"></th><th data-t="window"></th><th data-t="person"></th>
      <th data-t="score"></th><th data-t="reason"></th><th data-t="case"></th><th></th></tr></thead><tbody id="workorders"></tbody></table></div>
    <p class="row" id="wo-export"><button type="button" data-format="csv" data-t="export_csv"></button><button type="button" data-format="xlsx" data-t="export_xlsx"></button></p></section>`;
  HG.translate(ctx.root);

  // --- the figures ---
  const form = $("#rat-form");
  form.insertBefore(HG.quickRanges($("#rat-start"), $("#rat-end"), () => ratings()), form.querySelector("button"));
  [$("#rat-start").value, $("#rat-end").value] = HG.range("today");
  let shown = null; // the query of the table on screen: what an export writes
  const goodClass = (rate, th) => (rate == null ? "" : rate >= th.good_rate_ok ? "ok" : rate < th.good_rate_low ? "bad" : "warn");
  const clear = (message) => {
    shown = null;
    $("#rat-error").textContent = message;
    $("#ratings").innerHTML = "";
    delete $("#ratings").dataset.shown;
    $("#rat-drill").hidden = true;
    ctx.root.querySelectorAll("#rat-export button").forEach((b) => { b.disabled = true; });
  };
  const query = () => ({ by: $("#rat-by").value, start: `${$("#rat-start").value}T00:00`, end: `${$("#rat-end").value}T23:59:59` });
  let asked = 0; // the latest ask: an answer to an older one is not drawn over it
  async function ratings() {
    const mine = ++asked;
    const wrong = HG.rangeError($("#rat-start").value, $("#rat-end").value, MAX_DAYS);
    if (wrong) { clear(wrong); return; }
    const q = query();
    let s;
    try { s = await ctx.call("summary", {}, { query: q }); } catch (e) { if (mine === asked) clear(e.message); return; }
    if (mine !== asked) return;
    $("#rat-error").textContent = "";
    const th = s.thresholds;
    $("#rat-thresholds").textContent = t("good_thresholds").replace("{ok}", pct(th.good_rate_ok)).replace("{low}", pct(th.good_rate_low));
    const row = (g, name) => `<tr${g.key != null ? ` data-key="${esc(g.key)}"` : ""}><td><b>${name}</b></td><td>${g.rated} / ${g.rated + g.unrated}</td><td>${pct(g.rating_rate)}</td>
      <td class="${goodClass(g.good_rate, th)}" data-good>${pct(g.good_rate)}</td><td class="${g.bad_rate ? "bad" : ""}">${pct(g.bad_rate)}</td><td>${g.mean == null ? "–" : g.mean.toFixed(2)}</td>
      <td>${Object.entries(g.bad_reasons).map(([k, v]) => `${coded("bad_reason", k)} ${v}`).join("、")}</td></tr>`;
    $("#ratings").innerHTML = row(s.total, esc(t("all"))) + s.groups.map((g) => row(g, q.by === "staff" ? HG.person(g.key) : esc(g.key))).join("");
    // Drill-down: a window's or a person's ratings, one click on the row.
    if ((q.by === "window" || q.by === "staff") && ctx.may("ratings")) $("#ratings").querySelectorAll("tr[data-key]").forEach((tr) => tr.classList.add("pick"));
    shown = q;
    $("#ratings").dataset.shown = `${q.start.slice(0, 10)}/${q.end.slice(0, 10)}/${q.by}`;
    ctx.root.querySelectorAll("#rat-export button").forEach((b) => { b.disabled = false; });
  }
  async function drill(by, key) {
    const q = new URLSearchParams({ start: shown.start, end: shown.end, limit: "1000" });
    if (by === "window") q.set("window", key);
    const rows = (await ctx.call("ratings", {}, { query: q })).filter((r) => by !== "staff" || r.staff_id === key);
    $("#rat-drill").hidden = false;
    $("#rat-drill-title").textContent = `${by === "staff" ? HG.personText(key) : key} · ${rows.length}`;
    $("#rat-drill-rows").innerHTML = rows.map((r) => `<tr><td class="muted">${dt(r.at)}</td><td>${esc(r.window)}</td><td>${HG.person(r.staff_id)}</td>
      <td class="${r.score != null && r.score <= 2 ? "bad" : ""}">${r.rated ? `${r.score}★` : t("none")}</td><td>${esc(r.item)}</td>
      <td>${reasons(r.reasons)}</td><td>${esc(r.case_id)}</td></tr>`).join("") || `<tr><td class="muted" colspan="7">${t("none")}</td></tr>`;
  }
  form.onsubmit = (e) => { e.preventDefault(); ratings(); };
  $("#ratings").onclick = (e) => { const tr = e.target.closest("tr.pick"); if (tr && shown) drill(shown.by, tr.dataset.key).catch((err) => { $("#rat-error").textContent = err.message; }); };
  $("#rat-drill-close").onclick = (e) => { e.preventDefault(); $("#rat-drill").hidden = true; };
  // An export button writes what its table shows: the query it was drawn from.
  function exporter(box, route, query, error) {
    $(box).hidden = !ctx.may(route);
    $(box).onclick = async (e) => {
      const b = e.target.closest("button[data-format]");
      if (!b || !query()) return;
      try { ctx.root.dataset.exported = await HG.download(`${ctx.path(route)}?${new URLSearchParams({ ...query(), format: b.dataset.format })}`); }
      catch (err) { $(error).textContent = err.message; }
    };
  }
  exporter("#rat-export", "export", () => shown, "#rat-error");

  // --- the work orders ---
  $("#wo-card").hidden = !ctx.may("orders");
  const windows = new Set();
  let shownOrders = null;
  exporter("#wo-export", "orders_export", () => shownOrders && { ...shownOrders, limit: "1000" }, "#wo-error");
  const act = ctx.may("act");
  async function workorders() {
    const query = { limit: "200" };
    if ($("#wo-state").value) query.state = $("#wo-state").value;
    if ($("#wo-window").value.trim()) query.window = $("#wo-window").value.trim();
    if ($("#wo-overdue").checked) query.overdue = "true";
    const ws = await ctx.call("orders", {}, { query });
    shownOrders = query;
    $("#wo-error").textContent = "";
    ws.forEach((w) => windows.add(w.window));
    $("#wo-windows").innerHTML = [...windows].sort().map((w) => `<option value="${esc(w)}">`).join("");
    $("#workorders").innerHTML = ws.map((w) => `<tr data-id="${w.id}" data-state="${esc(w.state)}" data-what="${esc(`${w.window} ${HG.personText(w.staff_id)} ${w.score}★ ${w.case_id}`)}"><td>${w.id}</td>
      <td>${coded("workorder_state", w.state)}${w.satisfaction ? ` · <span class="wo-said">${t(`wo_${w.satisfaction}`)}</span>` : ""}</td>
      <td class="${w.overdue ? "bad" : ""}">${dt(w.deadline)}${w.overdue ? ` ${t("overdue")}` : ""}</td><td>${esc(w.window)}</td><td>${HG.person(w.staff_id)}</td>
      <td class="bad">${w.score}</td><td>${reasons(w.reasons)}</td><td>${esc(w.case_id)}</td>
      <td class="actions"><a href="#" data-log="${w.id}">${t("wo_history")}</a> ${act ? (NEXT[w.state] || []).map((a) => `<button class="act" data-order="${w.id}" data-action="${a}">${t(a)}</button>`).join(" ") : ""}</td></tr>`).join("")
      || `<tr><td class="muted" colspan="9">${t("none")}</td></tr>`;
    // the histories open before the refresh stay open
    await Promise.all([...opened].map((id) => $(`#workorders tr[data-id="${id}"]`)).filter(Boolean).map((tr) => history(tr, true)));
  }
  const opened = new Set(); // the orders whose history is shown
  async function history(tr, again = false) {
    if (!again && opened.delete(tr.dataset.id)) { tr.nextElementSibling?.remove(); return; }
    opened.add(tr.dataset.id);
    const o = await ctx.call("order", { order_id: tr.dataset.id });
    tr.insertAdjacentHTML("afterend", `<tr class="wo-log" data-log-of="${o.id}"><td></td><td colspan="8"><table><thead><tr><th data-t="at"></th><th data-t="action"></th><th data-t="actor"></th>
      <th data-t="state"></th><th data-t="note"></th></tr></thead><tbody>${(o.log || []).map((l) => `<tr><td class="muted">${dt(l.at)}</td><td>${coded("workorder_action", l.action)}</td><td>${esc(l.who)}</td>
      <td>${l.from_state ? `${coded("workorder_state", l.from_state)} → ` : ""}${coded("workorder_state", l.to_state)}</td><td>${esc(l.note)}</td></tr>`).join("")}</tbody></table></td></tr>`);
    HG.translate(tr.nextElementSibling);
  }
  $("#wo-form").onsubmit = (e) => { e.preventDefault(); workorders().catch((err) => { $("#wo-error").textContent = err.message; }); };
  $("#workorders").onclick = async (e) => {
    const log = e.target.closest("a[data-log]");
    if (log) { e.preventDefault(); history(log.closest("tr")).catch((err) => { $("#wo-error").textContent = err.message; }); return; }
    const b = e.target.closest("button[data-order]"); if (!b) return;
    const { order, action } = b.dataset;
    // the call-back records what the citizen said (回访满意度), or that nobody asked
    const choice = action === "callback" ? { label: t("wo_satisfaction"), options: [["", t("wo_satisfaction_unsaid")], ["satisfied", t("wo_satisfied")], ["dissatisfied", t("wo_dissatisfied")]] } : null;
    const done = await HG.dialog({ title: `${t(action)} · ${t("wo_hint")}${order}`, text: b.closest("tr").dataset.what, noteRequired: true, choice },
      (note, said) => ctx.call("act", { order_id: order, action }, { body: { note, ...(said ? { satisfaction: said } : {}) } }));
    if (done) workorders();
  };
  await ratings();
  if (ctx.may("orders")) { HG.expect(["orders"]); HG.every(30000, async () => { await workorders(); HG.drawn("orders"); }); }
});
