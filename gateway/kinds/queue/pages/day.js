// The queue's fragment of the manager page: a day's tickets issued and served by the hour they were
// taken (GET /api/v1/queue/summary?by=hour), and the waiting and handling times per window
// (by=window). Run by HG.fragments.
"use strict";
HG.fragment(async (ctx) => {
  const { t, $, esc } = HG;
  ctx.root.innerHTML = `<section class="card" id="queue-day"><h2><span data-t="queue_day"></span> <span class="muted" id="queue-legend"></span></h2>
    <form class="row" id="queue-form"><input type="date" id="queue-date"><button class="act" data-t="show"></button></form>
    <p class="error" id="queue-error"></p><div id="queue-chart"></div>
    <div class="scroll"><table><thead><tr><th data-t="window"></th><th data-t="queue_tickets"></th><th data-t="queue_served"></th>
      <th data-t="queue_no_shows"></th><th data-t="queue_wait_mean"></th><th data-t="queue_wait_p90"></th>
      <th data-t="queue_handle_mean"></th><th data-t="queue_handle_p90"></th></tr></thead><tbody id="queue-windows"></tbody></table></div></section>`;
  HG.translate(ctx.root);
  $("#queue-date").value = HG.today();
  const min = (s) => (s == null ? "–" : (s / 60).toFixed(1)); // minutes, one decimal
  async function day() {
    const date = $("#queue-date").value;
    try {
      const [hours, windows] = await Promise.all([ctx.call("summary", {}, { query: { date, by: "hour" } }), ctx.call("summary", {}, { query: { date, by: "window" } })]);
      $("#queue-error").textContent = "";
      // The service day (08-18, wider if tickets came earlier or later), every hour of it: an hour
      // without tickets is a gap, not skipped, and one busy hour is one bar of the day, not the width.
      const got = new Map(hours.groups.filter((g) => g.key).map((g) => [Number(g.key), g]));
      const span = [Math.min(8, ...got.keys()), Math.max(18, ...got.keys())];
      const groups = Array.from({ length: span[1] - span[0] + 1 }, (_, i) => got.get(span[0] + i) || { key: String(span[0] + i).padStart(2, "0"), issued: 0, served: 0 });
      const of = (f) => groups.map((g) => g[f]);
      $("#queue-chart").innerHTML = HG.barChart(groups.map((g) => `${g.key}:00`), [
        { name: t("queue_issued"), color: "#4d8fe8", values: of("issued") },
        { name: t("queue_served"), color: "#3ccf64", values: of("served") }], { height: 260, width: Math.max(320, $("#queue-chart").clientWidth) });
      $("#queue-chart").dataset.hours = JSON.stringify(groups.map((g) => [g.key, g.issued, g.served]));
      $("#queue-legend").innerHTML = HG.legend([[t("queue_issued"), "#4d8fe8"], [t("queue_served"), "#3ccf64"]]);
      $("#queue-windows").innerHTML = windows.groups.filter((g) => g.key).map((g) => `<tr data-window="${esc(g.key)}"><td>${esc(g.key)}</td><td>${g.tickets}</td>
        <td>${g.served}</td><td>${g.no_shows}</td><td>${min(g.waiting.mean_s)}</td><td>${min(g.waiting.p90_s)}</td>
        <td>${min(g.handling.mean_s)}</td><td>${min(g.handling.p90_s)}</td></tr>`).join("") || `<tr><td class="muted" colspan="8">${t("none")}</td></tr>`;
    } catch (e) { $("#queue-error").textContent = e.message; }
  }
  $("#queue-form").onsubmit = (e) => { e.preventDefault(); day(); };
  await day();
  setInterval(() => { if ($("#queue-date").value === HG.today()) day(); }, 60000); // today's figures move
});
