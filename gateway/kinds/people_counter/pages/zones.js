// The counters' fragment of the wall: each zone's people against its capacity, live from
// GET /api/v1/occupancy/stream; 全厅 beside the zones' sum, with why they differ; today's flow by the
// hour (GET /api/v1/occupancy/history). Public mode (the wall's `viewer`): no counter ids. Run by HG.fragments.
"use strict";
HG.fragment(async (ctx) => {
  const { t, $, esc, hm, today } = HG;
  const pub = HG.me.role === "viewer";
  const fill = (key, vars) => t(key).replace(/\{(\w+)\}/g, (_, v) => vars[v] ?? "");
  ctx.root.innerHTML = `<section class="card occ-wall" id="zones-card"><h2><span data-t="zones"></span> <span class="muted" id="hall-total"></span></h2>
    <div class="zones" id="zones"></div><p class="why" id="hall-why" hidden></p></section>
  <section class="card occ-wall" id="flow-card"><h2><span data-t="flow_today"></span> <span class="muted" id="flow-legend"></span></h2><div id="flow"></div></section>`;
  HG.translate(ctx.root);
  HG.expect(["zones", "flow"]);
  const zones = new Map(); // zone id -> latest figures, from the stream
  const zoneName = (id) => (id === "*" ? t("hall") : zones.get(id)?.name || id);

  // 全厅 is the net flow through the doors to the outside; it equals the zones' sum unless a floor at
  // 0, a reset at another time, a zone without counters or a counter in doubt says otherwise.
  function hallWhy(hall) {
    const ag = hall.agreement;
    if (!ag) return [];
    const lines = ag.reasons.map((w) => fill(`occ_why_${w.code}`, { z: w.zone.split(",").map(zoneName).join("、"), n: Math.abs(w.people) })
      + (pub || !w.counters.length ? "" : ` (${w.counters.join(", ")}${w.detail ? `: ${w.detail}` : ""})`));
    if (ag.unexplained) lines.push(fill("occ_unexplained", { n: ag.unexplained }));
    return lines;
  }

  function draw() {
    const list = [...zones.values()];
    const hall = list.find((z) => z.scope === "hall");
    const ag = hall && hall.agreement;
    $("#hall-total").textContent = hall ? `${t("hall")} ${hall.occupancy}${ag && ag.difference ? ` · ${t("occ_zones_sum")} ${ag.zones_sum}` : ""}` : "";
    if (hall && !pub) $("#hall-total").title = `${t("occ_from")}: ${hall.counters.join(", ")}`;
    const why = hall ? hallWhy(hall) : [];
    $("#hall-why").hidden = !why.length;
    $("#hall-why").innerHTML = why.map(esc).join("<br>");
    $("#zones").innerHTML = list.filter((z) => z.scope !== "hall").map((z) => {
      const p = z.capacity ? z.occupancy / z.capacity : 0;
      const cls = z.over_capacity ? "over" : p >= 0.8 ? "high" : "";
      return `<div class="zone ${cls}" data-zone="${esc(z.zone)}" title="${pub ? "" : esc(`${t("occ_from")}: ${(z.counters || []).join(", ")}`)}"><div>${esc(z.name || z.zone)}</div>
        <span class="n">${z.occupancy}</span> <span class="muted">/ ${z.capacity}</span>
        <div class="bar"><i style="width:${Math.min(100, p * 100).toFixed(0)}%"></i></div></div>`;
    }).join("");
    HG.drawn("zones");
  }

  async function flow() {
    const h = await ctx.call("history", {}, { query: { zone: "*", step: "hour", start: `${today()}T00:00` } });
    // Today by hour, from 07:00 (or the first hour with people, if earlier) to now.
    const first = Math.min(7, ...h.points.filter((p) => p.entered || p.occupancy).map((p) => Number(hm(p.start).slice(0, 2))));
    const all = HG.steps(h.points, "hour", today(), today(), first);
    const of = (f) => all.map((s) => (s.p ? s.p[f] : 0));
    $("#flow").innerHTML = HG.barChart(all.map((s) => s.key.slice(11, 13)), [{ name: t("entered"), color: "#4d8fe8", values: of("entered") }],
      { width: Math.max(320, $("#flow").clientWidth), height: Math.max(200, Math.min(420, innerHeight / 5.4)), pad: { l: 52, t: 26, b: 34 }, lineSeries: { color: "#f0a020", values: of("occupancy") } });
    $("#flow-legend").innerHTML = HG.legend([[t("entered"), "#4d8fe8"], [t("occupancy"), "#f0a020"]]);
    HG.drawn("flow");
  }

  HG.stream(ctx.path("stream"), (ev) => {
    for (const z of ev.zones || (Array.isArray(ev) ? ev : [])) zones.set(z.zone, z);
    if (ev.hall) zones.set(ev.hall.zone, ev.hall);
    draw();
  });
  HG.every(60000, flow);
});
