// The attendance machines' fragment of the manager page: a day's attendance per person (GET
// /api/v1/attendance/daily), each missing punch by its Chinese label, and an export of the day
// (CSV, XLSX). Run by HG.fragments.
"use strict";
HG.fragment(async (ctx) => {
  const { t, $, esc, coded } = HG;
  ctx.root.innerHTML = `<section class="card" id="att-card"><h2 data-t="attendance_daily"></h2>
    <form class="row" id="att-form" novalidate><input type="date" id="att-date"><button class="act" data-t="show"></button>
      <button type="button" data-format="csv" data-t="export_csv"></button><button type="button" data-format="xlsx" data-t="export_xlsx"></button></form>
    <p class="error" id="att-error"></p>
    <div class="scroll"><table><thead><tr><th data-t="person"></th><th data-t="first_in"></th><th data-t="last_out"></th><th></th>
      <th data-t="missing"></th><th data-t="punches"></th></tr></thead><tbody id="attendance-days"></tbody></table></div></section>`;
  HG.translate(ctx.root);
  $("#att-date").value = HG.today();
  let shown = null;
  async function day() {
    const date = $("#att-date").value;
    shown = null;
    $("#attendance-days").innerHTML = "";
    if (!date) { $("#att-error").textContent = t("range_empty"); return; }
    let d;
    try { d = await ctx.call("daily", {}, { query: { date } }); } catch (e) { $("#att-error").textContent = e.message; return; }
    $("#att-error").textContent = "";
    $("#attendance-days").innerHTML = d.people.map((p) => `<tr><td>${HG.person(p.staff_id)}</td><td>${HG.hm(p.first_in)}</td><td>${HG.hm(p.last_out)}</td>
      <td class="warn">${[p.late && t("late"), p.early_leave && t("early_leave")].filter(Boolean).join(" ")}</td>
      <td>${p.missing.map((m) => coded("missing_punch", m)).join("、")}</td><td>${p.punches}</td></tr>`).join("") || `<tr><td class="muted" colspan="6">${t("none")}</td></tr>`;
    shown = date;
  }
  $("#att-form").onsubmit = (e) => { e.preventDefault(); day(); };
  ctx.root.querySelectorAll("button[data-format]").forEach((b) => {
    b.hidden = !ctx.may("export");
    b.onclick = async () => {
      if (!shown) return;
      try { ctx.root.dataset.exported = await HG.download(`${ctx.path("export")}?${new URLSearchParams({ date: shown, format: b.dataset.format })}`); }
      catch (err) { $("#att-error").textContent = err.message; }
    };
  });
  await day();
});
