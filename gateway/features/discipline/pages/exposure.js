// The discipline ledger's fragment of the wall: 大厅公示, the day's confirmed violations (kind,
// time, window, department, the name masked as the wall masks it), from
// GET /api/v1/violations/exposure, which carries no staff id for any role. Run by HG.fragments.
"use strict";
HG.fragment(async (ctx) => {
  const { t, $, esc, hm } = HG;
  ctx.root.innerHTML = `<section class="card exposure-wall" id="exposure-card"><h2><span data-t="exposure"></span> <span class="badge" id="exposure-count"></span></h2>
    <div class="scroll"><table><tbody id="exposure"></tbody></table></div></section>`;
  HG.translate(ctx.root);
  HG.expect(["exposure"]);
  async function draw() {
    const vs = await ctx.call("exposure");
    $("#exposure-count").textContent = vs.length;
    $("#exposure").innerHTML = vs.map((v) => `<tr><td>${hm(v.at)}</td><td><b>${esc(v.window || "—")}</b></td>
      <td class="kind">${esc(HG.label("violation_kind", v.kind))}</td><td>${esc(v.department)}</td><td>${esc(v.name || "")}</td></tr>`).join("")
      || `<tr><td class="muted">${t("exposure_none")}</td></tr>`;
    HG.drawn("exposure");
  }
  HG.every(30000, draw);
});
