// The pickup locker's fragment of the staff page: a locker's door grid, a deposit at a free door
// (the pickup code and its QR, shown once, and a slip to print with them), and the items near or
// past expiry. A door that cannot take a deposit (taken, jammed, the locker offline) says why when
// clicked. Run by HG.fragments (dashboards/web/hallgate.js).
"use strict";
HG.fragment(async (ctx) => {
  const { t, $, esc, dt } = HG;
  const DAY_MS = 86400000;
  const DOORS = 24; // when the device's info does not say
  ctx.root.innerHTML = `<section class="card"><h2 data-t="lockers"></h2>
    <div class="row"><select id="doors-device"></select> <span class="muted" id="doors-state"></span></div>
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
    // The board's health each time: offline, and its jammed doors ("door <bit>", the API's door - 1).
    const [d, items] = await Promise.all([HG.api(`/api/v1/devices/${encodeURIComponent(locker)}`), ctx.call("items", { locker })]);
    const stuck = new Set((d.info?.jammed || []).map((p) => Number(String(p).split(" ")[1]) + 1));
    $("#doors-state").innerHTML = d.online ? "" : `<span class="bad" id="locker-offline">${esc(t("locker_offline"))}（${esc(t("last_seen"))} ${esc(dt(d.last_seen))}）</span>`;
    const live = new Map(items.filter((i) => i.state === "waiting" || i.state === "expired").map((i) => [i.door, i]));
    const chosen = $("#deposit-door").textContent;
    let html = "";
    for (let n = 1; n <= doorCount[locker]; n++) { // the API numbers doors from 1
      const it = live.get(n);
      const cls = it ? (it.state === "expired" ? "expired" : "busy") : "free";
      const state = !d.online ? "offline" : stuck.has(n) ? "jammed" : cls;
      html += `<div class="cell ${cls} ${state === cls ? "" : state} ${String(n) === chosen ? "sel" : ""}" data-door="${n}" data-free="${it ? 0 : 1}" data-state="${state}"><b>${n}</b>
        <small>${it ? esc(it.item) : t("free")}</small><small>${stuck.has(n) ? `<span class="bad">${t("door_jammed")}</span>` : it ? t(it.state) : ""}</small></div>`;
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
      // Done: the form closes and the slip (code, QR, expiry, door, item) can be printed for the applicant.
      const item = $("#deposit-item").value, applicant = $("#deposit-applicant").value;
      $("#deposit-outcome").innerHTML = `<div class="notice slip" id="deposit-ok"><h3>${t("slip_title")} · ${esc(HG.me?.hall?.name || "")}</h3>
        <div class="row"><div><div>${t("pickup_code")}</div><div class="code" id="pickup-code">${esc(r.pickup_code)}</div>
        <div id="slip-lines">${esc(locker)} · ${t("door")} ${esc(door)}<br>${t("item")}：${esc(item)}<br>${t("applicant")}：${esc(applicant)}<br>${t("expires")}：${dt(r.expires_at)}</div>
        <div class="muted">${t("code_once")}</div></div><div class="qr" id="pickup-qr" data-qr="${esc(r.qr)}">${qrSvg(r.qr)}</div></div>
        <div class="row no-print"><button type="button" class="act" id="slip-print">${t("print_slip")}</button>
        <button type="button" id="slip-new">${t("new_deposit")}</button></div></div>`;
      $("#slip-print").onclick = () => window.print();
      $("#slip-new").onclick = () => { $("#deposit-outcome").innerHTML = ""; };
      $("#deposit-ok").scrollIntoView({ block: "nearest" }); // on a phone it lies below the grid
      $("#deposit-item").value = ""; $("#deposit-applicant").value = "";
      close();
    } catch (err) {
      $("#deposit-outcome").innerHTML = `<p class="notice fail" id="deposit-fail">${t("failed")}: ${esc(err.message)}</p>`;
    }
    $("#deposit-btn").disabled = false;
    await doors();
  }

  function close() {
    $("#deposit-form").hidden = true; $("#deposit-door").textContent = "";
    document.querySelectorAll("#doors .cell.sel").forEach((x) => x.classList.remove("sel"));
  }
  // A door that cannot take a deposit says why instead of doing nothing.
  const why = (c) => ({ offline: "locker_down", jammed: "door_stuck", busy: "door_busy", expired: "door_expired" })[c.dataset.state];
  const canDeposit = ctx.may("deposit");
  if (canDeposit) await HG.script("/web/vendor/qrcode-generator-2.0.4.js"); // the pickup code's QR
  $("#doors-device").onchange = () => { $("#deposit-form").hidden = true; $("#deposit-door").textContent = ""; doors(); };
  $("#doors").onclick = (e) => {
    const c = e.target.closest("[data-door]"); if (!c || !canDeposit) return;
    if (why(c)) {
      close();
      $("#deposit-outcome").innerHTML = `<p class="notice fail" id="door-why" data-door="${esc(c.dataset.door)}">${t("door")} ${esc(c.dataset.door)}：${esc(t(why(c)))}</p>`;
      return;
    }
    $("#deposit-door").textContent = c.dataset.door; $("#deposit-form").hidden = false; $("#deposit-outcome").innerHTML = "";
    document.querySelectorAll("#doors .cell").forEach((x) => x.classList.toggle("sel", x === c));
  };
  $("#deposit-form").onsubmit = deposit;
  HG.expect(["doors"]);
  HG.every(5000, async () => { await doors(); HG.drawn("doors"); });
});
