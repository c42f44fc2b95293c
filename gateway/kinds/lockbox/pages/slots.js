// The lockbox's fragment of the staff page: a cabinet's slot grid (door, lock, phone, a jammed
// lock, the cabinet offline), the rule that says who may open a slot now (from the API, which asks
// the unlock's own policy: no copy of it here), and an unlock of the chosen slot with a reason.
// Run by HG.fragments (dashboards/web/hallgate.js).
"use strict";
HG.fragment(async (ctx) => {
  const { t, $, esc, dt } = HG;
  ctx.root.innerHTML = `<section class="card"><h2 data-t="lockboxes"></h2>
    <div class="row"><select id="slots-device"></select> <span class="muted" id="slots-state"></span></div>
    <p class="rule" id="unlock-rule"></p>
    <div class="cells" id="slots"></div>
    <form class="row" id="unlock-form" hidden>
      <b><span data-t="slot"></span> <span id="unlock-slot"></span></b>
      <input id="unlock-reason" data-tp="unlock_reason" size="30" maxlength="500">
      <button class="act" id="unlock-btn" data-t="unlock"></button></form>
    <div id="unlock-outcome"></div></section>`;
  HG.translate(ctx.root);
  $("#slots-device").innerHTML = (await ctx.devices()).map((i) => `<option>${esc(i)}</option>`).join("");
  let shown = "", bySlot = new Map(), sending = false;

  async function slots() {
    const device = $("#slots-device").value; if (!device) return;
    // The cabinet's health (online, last seen) and every slot with its rule for this token now.
    const [d, ss] = await Promise.all([HG.api(`/api/v1/devices/${encodeURIComponent(device)}`), ctx.call("slots", { device })]);
    bySlot = new Map(ss.map((s) => [String(s.slot), s]));
    const chosen = $("#unlock-slot").textContent;
    const html = ss.map((s) => {
      const door = s.door === "open" ? "open" : s.door === "closed" ? "closed" : "unknown";
      const state = !d.online ? "offline" : s.jammed ? "jammed" : door;
      const notes = [s.jammed && `<span class="bad">${t("slot_jammed")}</span>`, s.phone && t("phone_in"), s.locked === false && t("unlocked")];
      return `<div class="cell ${door} ${state === door ? "" : state} ${s.may_unlock ? "" : "shut"} ${String(s.slot) === chosen ? "sel" : ""}"
        data-slot="${s.slot}" data-door="${door}" data-state="${state}" data-may="${s.may_unlock ? 1 : 0}" title="${esc(s.why)}"><b>${s.slot}</b>
        <small>${d.online ? t(`door_${door}`) : t("cabinet_offline")}</small><small>${notes.filter(Boolean).join(" · ") || "&nbsp;"}</small></div>`;
    }).join("");
    // Redraw only when it changed: the grid refreshes every second.
    if (html !== shown) { shown = html; $("#slots").innerHTML = html; }
    $("#slots-state").innerHTML = d.online
      ? esc(`${t("door_open")} ${ss.filter((s) => s.door === "open").length} / ${ss.length}`)
      : `<span class="bad" id="cabinet-offline">${esc(t("cabinet_offline"))}（${esc(t("last_seen"))} ${esc(dt(d.last_seen))}）</span>`;
    // The rule as it stands for this token, before any click: the cabinet's, from a slot that is not jammed.
    const sample = ss.find((s) => !s.jammed) || ss[0];
    $("#unlock-rule").textContent = sample ? sample.why : "";
    $("#unlock-rule").className = `rule ${sample && sample.may_unlock ? "ok" : "warn"}`;
    if (chosen) form(bySlot.get(chosen));
  }
  // The form for the chosen slot: the button off with the reason when it may not open now, and the
  // reason required (checked by the page, in Chinese) when the rule needs one; optional otherwise.
  function form(s) {
    if (!s) return;
    $("#unlock-reason").required = s.reason_required;
    $("#unlock-btn").disabled = sending || !s.may_unlock;
    $("#unlock-btn").title = s.may_unlock ? "" : s.why;
    const why = $("#unlock-why");
    if (!s.may_unlock && !why) $("#unlock-form").insertAdjacentHTML("beforeend", `<span class="warn" id="unlock-why"></span>`);
    if (!s.may_unlock) $("#unlock-why").textContent = s.why; else why?.remove();
  }
  async function unlock(e) {
    e.preventDefault();
    const device = $("#slots-device").value, slot = $("#unlock-slot").textContent;
    $("#unlock-btn").disabled = sending = true;
    $("#unlock-outcome").innerHTML = `<p class="muted">${t("sending")}</p>`;
    try {
      const r = await ctx.call("unlock", { device, slot }, { body: { reason: $("#unlock-reason").value }, headers: { "Idempotency-Key": HG.newKey() } });
      $("#unlock-outcome").innerHTML = `<p class="notice" id="unlock-ok">${t("unlocked_ok")}: ${esc(device)} #${esc(slot)} · ${HG.coded("outcome", r.outcome)} · ${esc(r.actor)} · ${esc(dt(r.at))}${r.latency_ms != null ? ` · ${Math.round(r.latency_ms)} ms` : ""}</p>`;
    } catch (err) {
      $("#unlock-outcome").innerHTML = `<p class="notice fail" id="unlock-fail">${t("failed")}: ${esc(err.message)}</p>`;
    }
    sending = false;
    await slots();
  }

  const canUnlock = ctx.may("unlock");
  $("#slots-device").onchange = () => { $("#unlock-form").hidden = true; $("#unlock-slot").textContent = ""; slots(); };
  $("#slots").onclick = (e) => {
    const c = e.target.closest("[data-slot]"); if (!c || !canUnlock) return;
    $("#unlock-slot").textContent = c.dataset.slot; $("#unlock-form").hidden = false; $("#unlock-outcome").innerHTML = "";
    document.querySelectorAll("#slots .cell").forEach((x) => x.classList.toggle("sel", x === c));
    form(bySlot.get(c.dataset.slot));
  };
  $("#unlock-form").onsubmit = unlock;
  HG.expect(["slots"]);
  HG.every(1000, async () => { await slots(); HG.drawn("slots"); }); // a door opened by an unlock shuts again within seconds
});
