// The lockbox's fragment of the staff page: a cabinet's slot grid (door, lock, phone), and an
// unlock of the chosen slot with a reason. Run by HG.fragments (dashboards/web/hallgate.js).
"use strict";
HG.fragment(async (ctx) => {
  const { t, $, esc, dt } = HG;
  const SLOTS = 24; // the reference cabinet's; the API does not give a cabinet's slot count
  ctx.root.innerHTML = `<section class="card"><h2 data-t="lockboxes"></h2>
    <div class="row"><select id="slots-device"></select> <span class="muted" id="slots-state"></span></div>
    <div class="cells" id="slots"></div>
    <form class="row" id="unlock-form" hidden>
      <b><span data-t="slot"></span> <span id="unlock-slot"></span></b>
      <input id="unlock-reason" data-tp="unlock_reason" size="30" maxlength="500">
      <button class="act" id="unlock-btn" data-t="unlock"></button></form>
    <div id="unlock-outcome"></div></section>`;
  HG.translate(ctx.root);
  $("#slots-device").innerHTML = (await ctx.devices()).map((i) => `<option>${esc(i)}</option>`).join("");
  let shown = "";

  async function slots() {
    const device = $("#slots-device").value; if (!device) return;
    const ss = await ctx.call("slots", { device });
    const chosen = $("#unlock-slot").textContent;
    // The API lists the slots whose state is known; the grid shows every slot of the cabinet.
    const known = new Map(ss.map((s) => [s.slot, s]));
    const count = Math.max(SLOTS, ...ss.map((s) => s.slot));
    const grid = Array.from({ length: count }, (_, i) => known.get(i + 1) || { slot: i + 1, door: null, locked: null, phone: null });
    const html = grid.map((s) => {
      const door = s.door === "open" ? "open" : s.door === "closed" ? "closed" : "unknown";
      return `<div class="cell ${door} ${String(s.slot) === chosen ? "sel" : ""}" data-slot="${s.slot}" data-door="${door}"><b>${s.slot}</b>
        <small>${t(`door_${door}`)}</small><small class="${s.phone ? "ok" : ""}">${[s.phone && t("phone_in"), s.locked === false && t("unlocked")].filter(Boolean).join(" · ") || "&nbsp;"}</small></div>`;
    }).join("");
    // Redraw only when it changed: the grid refreshes every second.
    if (html !== shown) { shown = html; $("#slots").innerHTML = html; }
    $("#slots-state").textContent = `${t("door_open")} ${ss.filter((s) => s.door === "open").length} / ${count}`;
  }
  async function unlock(e) {
    e.preventDefault();
    const device = $("#slots-device").value, slot = $("#unlock-slot").textContent;
    $("#unlock-btn").disabled = true;
    $("#unlock-outcome").innerHTML = `<p class="muted">${t("sending")}</p>`;
    try {
      const r = await ctx.call("unlock", { device, slot }, { body: { reason: $("#unlock-reason").value }, headers: { "Idempotency-Key": HG.newKey() } });
      $("#unlock-outcome").innerHTML = `<p class="notice" id="unlock-ok">${t("unlocked_ok")}: ${esc(device)} #${esc(slot)} · ${esc(r.outcome)} · ${esc(r.actor)} · ${esc(dt(r.at))}${r.latency_ms != null ? ` · ${Math.round(r.latency_ms)} ms` : ""}</p>`;
    } catch (err) {
      $("#unlock-outcome").innerHTML = `<p class="notice fail" id="unlock-fail">${t("failed")}: ${esc(err.message)}</p>`;
    }
    $("#unlock-btn").disabled = false;
    await slots();
  }

  const canUnlock = ctx.may("unlock");
  $("#slots-device").onchange = () => { $("#unlock-form").hidden = true; $("#unlock-slot").textContent = ""; slots(); };
  $("#slots").onclick = (e) => {
    const c = e.target.closest("[data-slot]"); if (!c || !canUnlock) return;
    $("#unlock-slot").textContent = c.dataset.slot; $("#unlock-form").hidden = false; $("#unlock-outcome").innerHTML = "";
    document.querySelectorAll("#slots .cell").forEach((x) => x.classList.toggle("sel", x === c));
  };
  $("#unlock-form").onsubmit = unlock;
  HG.every(1000, slots); // a door opened by an unlock shuts again within seconds
});
