// The pickup locker's fragment of the staff page: a locker's door grid, a deposit at a free door
// (the pickup code and its QR, shown once), and the items near or past expiry. Run by
// HG.fragments (dashboards/web/hallgate.js).
"use strict";
HG.fragment(async (ctx) => {
  const { t, $, esc, dt } = HG;
  const DAY_MS = 86400000;
  const DOORS = 24; // when the device's info does not say
  ctx.root.innerHTML = `<section class="card"><h2 data-t="lockers"></h2>
    <div class="row"><select id="doors-device"></select></div>
    <div class="cells" id="doors"></div>
    <form class="row" id="deposit-form" hidden>
      <b><span data-t="door"></span> <span id="deposit-door"></span></b>
      <input id="deposit-item" data-tp="item" required maxlength="200"><input id="deposit-applicant" data-tp="applicant" required maxlength="200">
      <button class="act" id="deposit-btn" data-t="deposit"></button></form>
    <div id="deposit-outcome"></div></section>
  <section class="card"><h2 data-t="near_expiry"></h2>
    <div class="scroll"><table><thead><tr><th data-t="expires"></th><th data-t="door"></th><th data-t="item"></th><th data-t="applicant"></th>
      <th data-t="state"></th><th data-t="deposited_by"></th></tr></thead><tbody id="expiring"></tbody></table></div></section>`;
  HG.translate(ctx.root);
  $("#doors-device").innerHTML = (await ctx.devices()).map((i) => `<option>${esc(i)}</option>`).join("");
  const doorCount = {}; // locker id -> doors
  let shown = "";

  async function doors() {
    const locker = $("#doors-device").value; if (!locker) return;
    if (!doorCount[locker]) {
      const d = await HG.api(`/api/v1/devices/${encodeURIComponent(locker)}`);
      doorCount[locker] = Number(d.info?.doors || d.info?.door_count || 0) || DOORS;
    }
    const items = await ctx.call("items", { locker });
    const live = new Map(items.filter((i) => i.state === "waiting" || i.state === "expired").map((i) => [i.door, i]));
    const chosen = $("#deposit-door").textContent;
    let html = "";
    for (let n = 1; n <= doorCount[locker]; n++) { // the API numbers doors from 1
      const it = live.get(n);
      const cls = it ? (it.state === "expired" ? "expired" : "busy") : "free";
      html += `<div class="cell ${cls} ${String(n) === chosen ? "sel" : ""}" data-door="${n}" data-free="${it ? 0 : 1}"><b>${n}</b>
        <small>${it ? esc(it.item) : t("free")}</small><small>${it ? t(it.state) : ""}</small></div>`;
    }
    if (html !== shown) { shown = html; $("#doors").innerHTML = html; }
    const soon = Date.now() + DAY_MS;
    const near = [...live.values()].filter((i) => i.state === "expired" || Date.parse(i.expires_at) < soon)
      .sort((a, b) => a.expires_at.localeCompare(b.expires_at));
    $("#expiring").innerHTML = near.map((i) => `<tr><td class="${i.state === "expired" ? "bad" : "warn"}">${dt(i.expires_at)}</td><td>${i.door}</td>
      <td>${esc(i.item)}</td><td>${esc(i.applicant)}</td><td>${t(i.state)}</td><td>${esc(i.deposited_by)}</td></tr>`).join("") || `<tr><td class="muted">${t("none")}</td></tr>`;
  }
  function qrSvg(text) {
    const qr = qrcode(0, "M"); // type 0: the smallest version that holds the text
    qr.addData(text); qr.make();
    return qr.createSvgTag({ cellSize: 4, margin: 4, scalable: true });
  }
  async function deposit(e) {
    e.preventDefault();
    const locker = $("#doors-device").value, door = $("#deposit-door").textContent;
    $("#deposit-btn").disabled = true;
    $("#deposit-outcome").innerHTML = `<p class="muted">${t("sending")}</p>`;
    try {
      const r = await ctx.call("deposit", { locker, door }, {
        body: { item: $("#deposit-item").value, applicant: $("#deposit-applicant").value }, headers: { "Idempotency-Key": HG.newKey() } });
      $("#deposit-outcome").innerHTML = `<div class="notice row" id="deposit-ok"><div><div>${t("pickup_code")}</div>
        <div class="code" id="pickup-code">${esc(r.pickup_code)}</div><div>${t("door")} ${esc(door)} · ${t("expires")} ${dt(r.expires_at)}</div>
        <div class="muted">${t("code_once")}</div></div><div class="qr" id="pickup-qr" data-qr="${esc(r.qr)}">${qrSvg(r.qr)}</div></div>`;
      $("#deposit-item").value = ""; $("#deposit-applicant").value = "";
    } catch (err) {
      $("#deposit-outcome").innerHTML = `<p class="notice fail" id="deposit-fail">${t("failed")}: ${esc(err.message)}</p>`;
    }
    $("#deposit-btn").disabled = false;
    await doors();
  }

  const canDeposit = ctx.may("deposit");
  if (canDeposit) await HG.script("/web/vendor/qrcode-generator-2.0.4.js"); // the pickup code's QR
  $("#doors-device").onchange = () => { $("#deposit-form").hidden = true; $("#deposit-door").textContent = ""; doors(); };
  $("#doors").onclick = (e) => {
    const c = e.target.closest("[data-door]"); if (!c || !canDeposit || c.dataset.free !== "1") return;
    $("#deposit-door").textContent = c.dataset.door; $("#deposit-form").hidden = false; $("#deposit-outcome").innerHTML = "";
    document.querySelectorAll("#doors .cell").forEach((x) => x.classList.toggle("sel", x === c));
  };
  $("#deposit-form").onsubmit = deposit;
  HG.every(5000, doors);
});
