// The people counters' fragment of the manager page: a zone's (or the hall's) in, out and occupancy
// over a range (GET /api/v1/occupancy/history), by default today by the hour, with quick ranges and
// an export of what is shown (CSV, XLSX). Run by HG.fragments.
"use strict";
HG.fragment(async (ctx) => {
  const { t, $, esc } = HG;
  // The most days a chart of each step shows: beyond, too many bars to read (and the API's limit).
  const MAX_DAYS = { minute: 1, hour: 31, day: 366 };
  ctx.root.innerHTML = `<section class="card" id="occ-card"><h2><span data-t="occ_history"></span> <span class="muted" id="occ-source"></span></h2>
    <form class="row" id="occ-form" novalidate><select id="occ-zone"></select>
      <label><span data-t="start"></span> <input type="date" id="occ-start"></label>
      <label><span data-t="end"></span> <input type="date" id="occ-end"></label>
      <select id="occ-step"><option value="hour" data-t="per_hour"></option><option value="day" data-t="per_day"></option><option value="minute" data-t="per_minute"></option></select>
      <button class="act" data-t="show"></button></form>
    <p class="error" id="occ-error"></p><div id="occ-chart"></div><p class="muted" id="occ-legend"></p>
    <p class="row" id="occ-export"><button type="button" data-format="csv" data-t="export_csv"></button><button type="button" data-format="xlsx" data-t="export_xlsx"></button></p></section>`;
  HG.translate(ctx.root);
  const form = $("#occ-form");
  form.insertBefore(HG.quickRanges($("#occ-start"), $("#occ-end"), () => show()), form.querySelector("button"));
  [$("#occ-start").value, $("#occ-end").value] = HG.range("today");
  const zones = await ctx.call("zones");
  $("#occ-zone").innerHTML = `<option value="*">${t("hall")}</option>` + zones.map((z) => `<option value="${esc(z.zone)}">${esc(z.name || z.zone)}</option>`).join("");
  let shown = null; // the query of the chart on screen: what an export writes
  const clear = (message) => {
    shown = null;
    $("#occ-error").textContent = message;
    for (const id of ["#occ-chart", "#occ-legend", "#occ-source"]) $(id).textContent = "";
    delete $("#occ-chart").dataset.shown;
    ctx.root.querySelectorAll("#occ-export button").forEach((b) => { b.disabled = true; });
  };
  let asked = 0; // the latest ask: an answer to an older one (a slower range) is not drawn over it
  async function show() {
    const step = $("#occ-step").value, start = $("#occ-start").value, end = $("#occ-end").value;
    const mine = ++asked;
    const wrong = HG.rangeError(start, end, MAX_DAYS[step]);
    if (wrong) { clear(wrong); return; } // said in words, and no chart of another range left beside it
    const query = { zone: $("#occ-zone").value, step, start: `${start}T00:00`, end: `${end}T23:59` };
    let h;
    try { h = await ctx.call("history", {}, { query }); } catch (e) { if (mine === asked) clear(e.message); return; }
    if (mine !== asked) return;
    $("#occ-error").textContent = "";
    const all = HG.steps(h.points, step, start, end);
    const label = ({ key }) => (step === "day" ? key.slice(5, 10) : start === end ? `${key.slice(11, 13)}:${step === "minute" ? key.slice(14, 16) : "00"}`
      : `${key.slice(5, 10)} ${key.slice(11, 13)}:${step === "minute" ? key.slice(14, 16) : "00"}`);
    const of = (f) => all.map((s) => (s.p ? s.p[f] : 0));
    $("#occ-chart").innerHTML = HG.barChart(all.map(label), [
      { name: t("entered"), color: "#4d8fe8", values: of("entered") },
      { name: t("left"), color: "#9aa7b8", values: of("left") }],
      { height: 280, width: Math.max(320, $("#occ-chart").clientWidth), lineSeries: { color: "#f0a020", values: of("occupancy") } });
    Object.assign($("#occ-chart").dataset, { bars: String(all.length), shown: `${start}/${end}/${step}` });
    $("#occ-legend").innerHTML = HG.legend([[t("entered"), "#4d8fe8"], [t("left"), "#9aa7b8"], [t("occupancy"), "#f0a020"]]);
    $("#occ-source").textContent = `${t("source")}: ${HG.label("source", h.source)}${h.note ? ` (${h.note})` : ""}`;
    shown = query;
    ctx.root.querySelectorAll("#occ-export button").forEach((b) => { b.disabled = !ctx.may("export"); });
  }
  form.onsubmit = (e) => { e.preventDefault(); show(); };
  $("#occ-export").hidden = !ctx.may("export");
  $("#occ-export").onclick = async (e) => {
    const b = e.target.closest("button[data-format]");
    if (!b || !shown) return;
    try { ctx.root.dataset.exported = await HG.download(`${ctx.path("export")}?${new URLSearchParams({ ...shown, format: b.dataset.format })}`); }
    catch (err) { $("#occ-error").textContent = err.message; }
  };
  await show();
});
