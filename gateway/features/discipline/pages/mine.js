// The discipline ledger's fragment of the staff page, for a staff token or account (its person's
// staff id): their own violations with the evidence and trail (nobody else's name: the gateway
// leaves them out), an appeal of a confirmed one with a note, and their 整改通知单 to sign.
// Run by HG.fragments.
"use strict";
HG.fragment(async (ctx) => {
  const { t, $, esc, dt, coded } = HG;
  ctx.root.innerHTML = `<section class="card mine" id="mine-card"><h2 data-t="my_ledger"></h2><p class="error" id="mine-error"></p>
    <div id="mine-rows"></div></section>
    <section class="card" id="notices-card"><h2 data-t="my_notices"></h2><div class="scroll"><table><thead><tr><th>#</th><th data-t="note"></th>
      <th data-t="deadline"></th><th data-t="state"></th><th></th></tr></thead><tbody id="notice-rows"></tbody></table></div></section>`;
  HG.translate(ctx.root);
  HG.expect(["mine", "notices"]);
  const evidence = (e) => `<li>${dt(e.at)} ${coded("violation_evidence", e.event)}${e.direction ? ` ${coded("punch_direction", e.direction)}` : ""}${e.note ? ` · ${esc(e.note)}` : ""}${e.where ? ` · ${esc(e.where)}` : ""}</li>`;
  const step = (s) => `<li>${dt(s.at)} ${coded("violation_step", s.action)} <span class="muted">${s.role === "gateway" ? t("by_gateway") : esc(HG.label("role", s.role))}</span>${s.text ? ` · ${esc(s.text)}` : ""}</li>`;
  async function draw() {
    const rows = await ctx.call("mine");
    $("#mine-rows").innerHTML = rows.map((v) => `<article class="record" data-id="${v.id}"><h3>#${v.id} ${dt(v.at)} ${esc(HG.label("violation_kind", v.kind))} · ${esc(v.window || "—")}</h3>
      <p>${coded("violation_state", v.state)}${v.outcome ? ` · ${coded("violation_outcome", v.outcome)}` : ""}</p>
      <h4 data-t="evidence"></h4><ul>${v.evidence.map(evidence).join("")}</ul><h4 data-t="trail"></h4><ol>${v.steps.map(step).join("")}</ol>
      ${v.state === "confirmed" && ctx.may("appeal") ? `<button type="button" class="act appeal" data-id="${v.id}" data-t="v_appeal"></button>` : ""}</article>`).join("")
      || `<p class="muted">${t("my_none")}</p>`;
    HG.translate($("#mine-rows"));
    HG.drawn("mine");
  }
  async function notices() {
    const rows = ctx.may("notices") ? await ctx.call("notices") : [];
    $("#notice-rows").innerHTML = rows.map((n) => `<tr><td>${n.id}</td><td>${esc(n.text)}</td><td>${dt(n.deadline)}</td><td>${coded("notice_state", n.state)}</td>
      <td class="actions">${n.state !== "acknowledged" && ctx.may("ack") ? `<button type="button" class="act sign" data-id="${n.id}" data-t="sign"></button>` : ""}</td></tr>`).join("")
      || `<tr><td colspan="5" class="muted">${t("none")}</td></tr>`;
    HG.translate($("#notice-rows"));
    HG.drawn("notices");
  }
  $("#mine-rows").onclick = async (e) => {
    const b = e.target.closest(".appeal");
    if (!b) return;
    const id = Number(b.dataset.id);
    const done = await HG.dialog({ title: `#${id} ${t("appeal_title")}`, text: t("appeal_hint"), noteRequired: true },
      (note) => ctx.call("appeal", { violation_id: id }, { body: { note } }));
    if (done) await draw();
  };
  $("#notice-rows").onclick = async (e) => {
    const b = e.target.closest(".sign");
    if (!b) return;
    const id = Number(b.dataset.id);
    const done = await HG.dialog({ title: `#${id} ${t("sign_title")}` }, (note) => ctx.call("ack", { notice_id: id }, { body: { note } }));
    if (done) await notices();
  };
  await Promise.all([draw(), notices()]);
});
