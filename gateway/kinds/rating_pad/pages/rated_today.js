// The rating pads' fragment of the wall: today's 评价率, 好评率 and ratings per window (public mode:
// per service item, as a window would name the clerk at it), from GET /api/v1/ratings/summary; and the
// 差评 with how far their handling has come (GET /api/v1/workorders; public mode GET
// /api/v1/ratings/bad, without staff id, window or case number). Run by HG.fragments.
"use strict";
HG.fragment(async (ctx) => {
  const { t, $, esc, pct, hm } = HG;
  const pub = HG.me.role === "viewer";
  const WALL_ROWS = 4; // groups drawn in the card, the worst first: the card grows to hold them, the wall fits one screen
  ctx.root.innerHTML = `<section class="card ratings-wall" id="ratings-card"><h2><span data-t="ratings_today"></span> <span class="muted" id="windows-note"></span></h2>
    <div class="stats">
      <div class="stat"><span class="label" data-t="rating_rate"></span><span class="big" id="rating-rate">–</span>
        <div class="bar"><i id="rating-rate-bar"></i></div><span class="label rating-basis" id="rating-basis"></span></div>
      <div class="stat"><span class="label" data-t="good_rate"></span><span class="big" id="good-rate">–</span>
        <div class="bar"><i id="good-rate-bar"></i></div></div>
      <div class="stat"><span class="label" data-t="rated"></span><span class="big" id="rated-count">–</span>
        <div class="bar bad-bar"><i id="bad-rate-bar"></i></div></div></div>
    <div class="scroll"><table><thead><tr><th data-t="${pub ? "rating_service_item" : "window"}"></th><th data-t="rated"></th><th data-t="rating_rate"></th><th data-t="good_rate"></th></tr></thead>
      <tbody id="by-window"></tbody></table></div></section>
  <section class="card ratings-wall" id="bad-card"><h2><span data-t="rating_bad_handling"></span> <span class="muted" id="bad-summary"></span></h2>
    <div class="scroll"><table><tbody id="bad"></tbody></table></div></section>`;
  HG.translate(ctx.root);
  const orders = pub ? "bad" : "orders";
  $("#bad-card").hidden = !ctx.may(orders);
  HG.expect(["ratings", ...(ctx.may(orders) ? ["bad"] : [])]);

  async function ratings() {
    const s = await ctx.call("summary", {}, { query: { by: pub ? "item" : "window" } });
    // 评价率: against the visits served where the hall has a queue system to count them (`visits`),
    // else against the pads' prompts; the card says which.
    const v = s.visits;
    const visitRate = new Map((v ? v.groups : []).map((g) => [g.key, g.rating_rate]));
    const rateOf = (g) => (v ? visitRate.get(g.key) : g.rating_rate);
    const total = v ? v.total.rating_rate : s.total.rating_rate;
    $("#rating-rate").textContent = pct(total);
    $("#rating-basis").textContent = t(v ? "rating_basis_visits" : "rating_basis_prompts");
    // Coloured by the hall's thresholds (ratings.good_rate_ok / good_rate_low), as the manager page's:
    // a 好评率 of 0 % or 50 % is not green.
    const th = s.thresholds;
    const good = (rate) => (rate == null || !th ? "" : rate >= th.good_rate_ok ? "ok" : rate < th.good_rate_low ? "bad" : "warn");
    $("#good-rate").textContent = pct(s.total.good_rate);
    $("#good-rate").className = `big ${good(s.total.good_rate)}`;
    $("#rated-count").textContent = s.total.rated;
    for (const [id, x] of [["#rating-rate-bar", total], ["#good-rate-bar", s.total.good_rate], ["#bad-rate-bar", s.total.bad_rate]]) $(id).style.width = `${((x || 0) * 100).toFixed(0)}%`;
    // Nobody scrolls a wall: the groups that need attention first (lowest 好评率, then least
    // rated); the card shows as many as fit, its header how many there are in all.
    const rank = (x) => (x == null ? 2 : x);
    const groups = [...s.groups].sort((a, b) => rank(a.good_rate) - rank(b.good_rate) || rank(rateOf(a)) - rank(rateOf(b)) || a.key.localeCompare(b.key));
    $("#by-window").innerHTML = groups.slice(0, WALL_ROWS).map((g) => `<tr><td>${esc(g.key || "–")}</td><td>${g.rated}</td><td>${pct(rateOf(g))}</td>
      <td class="${good(g.good_rate)}" data-good>${pct(g.good_rate)}</td></tr>`).join("");
    $("#windows-note").textContent = !pub && groups.length > 3 ? t("windows_sorted").replace("{n}", groups.length) : "";
    HG.drawn("ratings");
  }

  // 差评 and how far their handling has come (the work orders), apart from the devices' alerts.
  async function badRatings() {
    const os = await ctx.call(orders, {}, { query: { limit: 50 } });
    const overdue = os.filter((o) => o.overdue && o.state !== "closed").length;
    $("#bad-summary").textContent = overdue ? t("rating_overdue_n").replace("{n}", overdue) : "";
    $("#bad").innerHTML = os.slice(0, 4).map((o) => `<tr><td>${hm(o.rated_at)}</td>${pub ? "" : `<td>${esc(o.window)}</td>`}
      <td>${esc(o.item)}</td><td class="bad">${o.score}★</td><td class="${o.overdue && o.state !== "closed" ? "bad" : o.state === "closed" ? "ok" : "warn"}">${esc(t(`rating_handling_${o.state}`))}</td></tr>`).join("")
      || `<tr><td class="muted">${t("none")}</td></tr>`;
    HG.drawn("bad");
  }

  HG.every(15000, ratings);
  if (ctx.may(orders)) HG.every(15000, badRatings);
});
