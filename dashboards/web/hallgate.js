// hallgate pages: token, language, the API, role checks, small SVG charts. No build step, no CDN.
"use strict";
const HG = (() => {
  const WORDS = {
    // key: [中文, English]
    wall: ["大厅总览", "Hall overview"], tech: ["设备运维", "Technician"], staff: ["窗口/值班", "Staff & duty"],
    manager: ["管理", "Manager"], lang: ["English", "中文"], logout: ["退出", "Log out"],
    token: ["令牌", "Token"], login: ["登录", "Log in"], login_hint: ["输入本大厅的 API 令牌（演示程序会打印）", "Type this hall's API token (the demo prints them)"],
    live: ["实时", "Live"], stale: ["数据未更新", "Not updating"], down: ["无法连接网关", "Gateway unreachable"],
    stale_banner: ["数据已停止更新：显示的是最后收到的数据", "Data has stopped updating: showing the last figures received"],
    down_banner: ["无法连接网关：显示的是最后收到的数据", "Cannot reach the gateway: showing the last figures received"],
    zones: ["各区域人数 / 容量", "Zones: people / capacity"], hall: ["全厅", "Whole hall"], capacity: ["容量", "capacity"],
    flow_today: ["今日客流（每小时进入）", "Today's flow (entered per hour)"], entered: ["进入", "entered"], left: ["离开", "left"],
    occupancy: ["人数", "occupancy"], ratings_today: ["今日评价", "Today's ratings"], rating_rate: ["评价率", "Rated"],
    good_rate: ["好评率", "Good"], bad_rate: ["差评率", "Bad"], window: ["窗口", "Window"], rated: ["已评", "Rated"],
    latest_bad: ["最新差评", "Latest bad ratings"], posts: ["岗位", "Posts"], empty_post: ["空岗", "Empty post"],
    on_post: ["在岗", "on post"], vacant: ["无人", "vacant"], alerts_open: ["未处理告警", "Open alerts"], none: ["无", "none"],
    devices: ["设备", "Devices"], kind: ["类型", "Kind"], health: ["状态", "Health"], zone: ["区域", "Zone"],
    search: ["搜索", "Search"], all: ["全部", "all"], link: ["链路", "Link"], detail: ["详情", "Detail"],
    last_seen: ["最后上报", "Last seen"], since: ["自", "Since"], history: ["状态历史", "Health history"],
    counters: ["错误计数", "Error counters"], info: ["设备信息", "Device info"], last_error: ["最近错误", "Last error"],
    alerts: ["告警", "Alerts"], ack: ["确认", "Acknowledge"], close: ["关闭", "Close"], note: ["备注", "Note"],
    severity: ["级别", "Severity"], state: ["状态", "State"], summary: ["内容", "Summary"], opened: ["开始", "Opened"],
    quarantine: ["隔离消息", "Quarantined messages"], reason: ["原因", "Reason"], topic: ["主题", "Topic"], at: ["时间", "Time"],
    unknown_devices: ["未配置的设备", "Unknown devices"], messages: ["消息数", "Messages"],
    unknown_channels: ["未知通道（配置文件未定义）", "Unknown channels (not in its profile)"],
    lockboxes: ["手机柜", "Lockboxes"], slot: ["格口", "Slot"], unlock: ["开锁", "Unlock"], unlock_reason: ["开锁原因", "Reason for the unlock"],
    door_open: ["门开", "open"], door_closed: ["门关", "closed"], door_unknown: ["未知", "unknown"], phone: ["有手机", "phone"],
    unlocked_ok: ["柜门已确认打开", "The cabinet confirmed the unlock"], failed: ["失败", "Failed"], sending: ["正在发送…", "Sending…"],
    lockers: ["取件柜", "Pickup lockers"], door: ["柜门", "Door"], deposit: ["存件", "Deposit"], item: ["物品", "Item"],
    applicant: ["取件人", "Applicant"], pickup_code: ["取件码", "Pickup code"], expires: ["到期", "Expires"],
    code_once: ["取件码只显示一次，请交给取件人", "The code is shown once: hand it to the applicant"],
    near_expiry: ["即将到期 / 已过期的物品", "Items near or past expiry"], free: ["空闲", "free"], waiting: ["待取", "waiting"],
    expired: ["已过期", "expired"], deposited_by: ["存件人", "Deposited by"],
    occ_history: ["客流历史", "Occupancy history"], start: ["开始", "Start"], end: ["结束", "End"], step: ["粒度", "Step"],
    show: ["查询", "Show"], ratings_by: ["评价统计", "Ratings by"], staff_id: ["工号", "Staff"], mean: ["平均分", "Mean"],
    workorders: ["差评整改工单", "Work orders (差评 rectification)"], deadline: ["期限", "Deadline"], overdue: ["已超期", "overdue"],
    case: ["办件号", "Case"], score: ["评分", "Score"], attendance_daily: ["考勤（按日）", "Attendance by day"], date: ["日期", "Date"],
    first_in: ["首次签到", "First in"], last_out: ["最后签退", "Last out"], late: ["迟到", "late"], early_leave: ["早退", "left early"],
    missing: ["缺卡", "missing"], punches: ["打卡次数", "Punches"], audit: ["操作审计", "Audit"], actor: ["操作人", "Actor"],
    action: ["操作", "Action"], outcome: ["结果", "Outcome"], device: ["设备", "Device"], source: ["来源", "source"],
    callback: ["回访", "Call back"], rectify: ["整改", "Rectify"], appeal: ["申诉", "Appeal"], not_allowed: ["此令牌无权查看", "This token may not view this"],
    cancel: ["取消", "Cancel"], confirm: ["确定", "Confirm"], note_required: ["请填写备注", "A note is required"],
    ack_title: ["确认告警", "Acknowledge the alert"], close_title: ["关闭告警", "Close the alert"],
    ack_hint: ["告警在其条件消除前保持显示。", "The alert stays until its condition clears."],
    close_hint: ["仅用于无法自动消除的告警（如被强行打开的门）。", "Only for alerts no condition can clear (a forced-open door)."],
    wo_hint: ["工单 #", "Work order #"], note_ph: ["例如：已电话联系，已安排整改", "e.g. called the citizen back, rectification planned"],
    phone_in: ["有手机", "phone"], unlocked: ["未锁", "unlocked"],
    per_hour: ["按小时", "per hour"], per_day: ["按天", "per day"], per_minute: ["按分钟", "per minute"],
    by_window: ["按窗口", "by window"], by_staff: ["按人员", "by staff"], by_item: ["按事项", "by item"], by_zone: ["按区域", "by zone"], by_day: ["按日", "by day"],
    windows_sorted: ["{n} 个窗口 · 好评率低的在前", "{n} windows · lowest good rate first"],
    yes: ["是", "yes"], no: ["否", "no"], minutes: ["分钟", "min"], refresh: ["刷新", "Refresh"], back: ["返回", "Back"],
    queue_now: ["排队等候", "Queues now"], queue_all: ["共", "In all"], queue_waiting: ["当前等候", "Waiting"], people: ["人", "people"],
    queue_expected: ["预计等候", "Expected wait"], queue_day: ["取号与办结（按取号时段）", "Tickets issued and served (by hour taken)"],
    queue_tickets: ["号数", "Tickets"], queue_issued: ["取号", "issued"], queue_served: ["办结", "served"], queue_no_shows: ["过号", "no-shows"],
    queue_wait_mean: ["平均等候（分钟）", "Mean wait (min)"], queue_wait_p90: ["90% 等候（分钟）", "90% wait (min)"],
    queue_handle_mean: ["平均办理（分钟）", "Mean handling (min)"], queue_handle_p90: ["90% 办理（分钟）", "90% handling (min)"],
  };
  const params = new URLSearchParams(location.search);
  let lang = params.get("lang") || localStorage.getItem("hallgate-lang") || "zh";
  const t = (k) => (WORDS[k] ? WORDS[k][lang === "en" ? 1 : 0] : k);
  const $ = (sel, root = document) => root.querySelector(sel);
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const pct = (x) => (x == null ? "–" : `${(x * 100).toFixed(0)}%`);
  // Times come in the hall's own offset: show the hall's clock, not the browser's.
  const hm = (s) => (s ? String(s).slice(11, 16) : "–");
  const dt = (s) => (s ? String(s).slice(0, 16).replace("T", " ") : "–");
  // The hall's clock: its time zone and the gateway's time from /api/v1/me (a wall screen's own
  // clock or zone may be wrong); until then, the browser's.
  let hallZone, skewMs = 0;
  const hallNow = () => new Date(Date.now() + skewMs);
  const zoned = (opts) => new Intl.DateTimeFormat("en-CA", { timeZone: hallZone, hourCycle: "h23", ...opts });
  const today = () => zoned({ year: "numeric", month: "2-digit", day: "2-digit" }).format(hallNow());
  // Every hour (or day) of a range up to now, with the history's point where there is one: a chart
  // of a week with one busy hour shows one bar in a week, not one bar across the whole width.
  // Keys are the hall's local "YYYY-MM-DDTHH" (or the date), as the API's times are written.
  const nextDay = (d) => new Date(Date.parse(`${d}T00:00:00Z`) + 86400000).toISOString().slice(0, 10);
  function steps(points, step, from, to, firstHour = 0) {
    if (step === "minute") return points.map((p) => ({ key: p.start.slice(0, 16), p }));
    const len = step === "hour" ? 13 : 10;
    const byKey = new Map(points.map((p) => [p.start.slice(0, len), p]));
    const now = `${today()}T${zoned({ hour: "2-digit" }).format(hallNow())}`.slice(0, len);
    const out = [];
    for (let d = from; d <= to && d <= now.slice(0, 10); d = nextDay(d)) {
      if (step === "day") { out.push({ key: d, p: byKey.get(d) }); continue; }
      for (let h = firstHour; h < 24; h++) {
        const key = `${d}T${String(h).padStart(2, "0")}`;
        if (key > now) break;
        out.push({ key, p: byKey.get(key) });
      }
    }
    return out;
  }
  const clockText = () => zoned({ hour: "2-digit", minute: "2-digit", second: "2-digit" }).format(hallNow());

  // The token: from the link's fragment (never sent to the server), else this tab's session.
  if (location.hash.startsWith("#token=")) {
    sessionStorage.setItem("hallgate-token", decodeURIComponent(location.hash.slice(7)));
    history.replaceState(null, "", location.pathname + location.search);
  }
  const token = () => sessionStorage.getItem("hallgate-token") || "";

  class ApiError extends Error {
    constructor(status, code, detail) { super(`${status} ${code}: ${detail}`); this.status = status; this.code = code; this.detail = detail; }
  }
  async function api(path, opts = {}) {
    const headers = { Authorization: `Bearer ${token()}`, ...(opts.headers || {}) };
    let body;
    if (opts.body !== undefined) { headers["Content-Type"] = "application/json"; body = JSON.stringify(opts.body); }
    let r;
    try { r = await fetch(path, { method: opts.method || "GET", headers, body, signal: opts.signal }); }
    catch (e) { setLink("down"); throw new ApiError(0, "unreachable", e.message); }
    const text = await r.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = { error: "bad_response", detail: text.slice(0, 200) }; }
    if (!r.ok) { if (r.status >= 500 && r.status !== 503 && r.status !== 504) setLink("down"); throw new ApiError(r.status, data?.error, data?.detail); }
    return data;
  }
  // Idempotency keys without crypto.randomUUID, which browsers offer only on https or localhost.
  const newKey = () => Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");

  // The registered kinds (GET /api/v1/kinds): what to call each and what it adds to which page.
  // The pages name no kind: a kind added as a package reaches them through this list alone.
  let kindList = null;
  const kinds = async () => (kindList ??= await api("/api/v1/kinds"));
  const kindOf = (code) => (kindList || []).find((k) => k.name === code);
  // A kind as a person reads it: its Chinese label, with the machine code beside it.
  const kindText = (code) => { const k = kindOf(code); return k && k.label !== code ? `${k.label} (${code})` : String(code ?? ""); };
  const kindHtml = (code) => { const k = kindOf(code); return k && k.label !== code ? `${esc(k.label)} <small class="muted">${esc(code)}</small>` : esc(code); };

  let me = null, tickClock = () => {};
  const may = (method, path) => !!me && me.may.includes(`${method} ${path}`);

  // Connection sign: live, stale (nothing new for a while), down (requests fail).
  let linkState = "ok";
  function setLink(state) {
    linkState = state;
    const el = $("#live");
    if (el) { el.className = `live ${state}`; el.textContent = t(state === "ok" ? "live" : state); }
    document.body.classList.toggle("is-stale", state === "stale");
    document.body.classList.toggle("is-down", state === "down");
    const b = $(".stale-banner");
    if (b) b.textContent = t(state === "down" ? "down_banner" : "stale_banner");
  }

  // What a token must be able to read to use a page. The wall, staff and manager pages draw what the
  // kinds bring them (GET /api/v1/kinds), so they need that list (and name no kind's route here).
  const NEEDS = { wall: "/api/v1/kinds", tech: "/api/v1/devices", staff: "/api/v1/kinds", manager: "/api/v1/kinds" };
  const PAGES = [["wall", "/"], ["tech", "/web/tech.html"], ["staff", "/web/staff.html"], ["manager", "/web/manager.html"]];
  function header(page) {
    const h = document.createElement("header");
    h.innerHTML = `<h1 id="title">hallgate</h1><nav>${PAGES.map(([p, href]) =>
      `<a href="${href}" class="${p === page ? "here" : ""}" data-page="${p}">${t(p)}</a>`).join("")}</nav>
      <span class="spacer"></span><span id="live" class="live ok">${t("live")}</span>
      <span class="badge" id="role"></span><span id="clock"></span>
      <button id="lang" type="button">${t("lang")}</button><button id="logout" type="button">${t("logout")}</button>`;
    document.body.prepend(h);
    const banner = document.createElement("div");
    banner.className = "stale-banner";
    document.body.append(banner);
    $("#lang").onclick = () => { localStorage.setItem("hallgate-lang", lang === "en" ? "zh" : "en"); location.reload(); };
    $("#logout").onclick = () => { sessionStorage.removeItem("hallgate-token"); location.reload(); };
    const tick = () => { if (hallZone) $("#clock").textContent = clockText(); };
    setInterval(tick, 1000);
    tickClock = tick;
  }
  function translate(root = document) {
    document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
    root.querySelectorAll("[data-t]").forEach((el) => { el.textContent = t(el.dataset.t); });
    root.querySelectorAll("[data-tp]").forEach((el) => { el.placeholder = t(el.dataset.tp); });
  }
  function showLogin(message) {
    const main = $("main");
    main.innerHTML = `<section class="card" id="login"><h2>${t("login")}</h2><p class="muted">${t("login_hint")}</p>
      <form class="row"><input id="token-input" type="password" autocomplete="off" placeholder="${t("token")}" size="28">
      <button class="act">${t("login")}</button></form><p class="error">${esc(message || "")}</p></section>`;
    $("#login form").onsubmit = (e) => { e.preventDefault(); sessionStorage.setItem("hallgate-token", $("#token-input").value.trim()); location.reload(); };
  }
  // Start a page: header, words, who the token is; hide what its role may not use; then run it.
  async function start(page, run) {
    header(page);
    translate();
    if (!token()) { showLogin(); return; }
    try { me = await api("/api/v1/me"); }
    catch (e) { if (e.status === 401) { showLogin(e.detail); return; } $("main").innerHTML = `<p class="error">${esc(e.message)}</p>`; return; }
    $("#role").textContent = me.role;
    // A token that may not read what this page shows (a locker's kiosk token) gets the login box
    // and a word, not a page of failing requests and a false "gateway unreachable" sign. The
    // wall's token (`viewer`, a link on a PC in the public hall) opens the wall only.
    if (!may("GET", NEEDS[page]) || (me.role === "viewer" && page !== "wall")) { showLogin(t("not_allowed")); return; }
    // The wall in public mode: nothing to click through to, no role or buttons (issue 22).
    if (me.role === "viewer") { document.body.classList.add("public"); document.querySelectorAll("header nav, #role, #lang, #logout").forEach((el) => el.remove()); }
    hallZone = me.hall.timezone;
    skewMs = Date.parse(me.hall.now) - Date.now();
    $("#clock").title = me.hall.timezone;
    tickClock();
    $("#title").textContent = me.hall.name;
    document.title = `${t(page)} · ${me.hall.name}`;
    document.querySelectorAll("[data-may]").forEach((el) => { const [m, p] = el.dataset.may.split(" "); if (!may(m, p)) el.hidden = true; });
    await run(me);
  }
  // Run fn now and every `ms`, marking the link down while it fails and live once it works again.
  function every(ms, fn) {
    const go = async () => {
      try { await fn(); if (linkState === "down") setLink("ok"); }
      catch (e) { if (e.status === 0 || e.status >= 500) setLink("down"); else console.warn(e.message); }
    };
    go();
    return setInterval(go, ms);
  }

  // Server-Sent Events over fetch (EventSource cannot send the Authorization header).
  function stream(path, onEvent, staleAfterMs = 35000) {
    let last = Date.now();
    setInterval(() => { if (linkState !== "down" && Date.now() - last > staleAfterMs) setLink("stale"); }, 1000);
    const run = async () => {
      try {
        const r = await fetch(path, { headers: { Authorization: `Bearer ${token()}` } });
        if (!r.ok || !r.body) throw new Error(`stream: ${r.status}`);
        setLink("ok");
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          last = Date.now();
          if (linkState !== "ok") setLink("ok");
          buf += value;
          let i;
          while ((i = buf.indexOf("\n\n")) >= 0) {
            const chunk = buf.slice(0, i); buf = buf.slice(i + 2);
            const data = chunk.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("\n");
            if (data) onEvent(JSON.parse(data));
          }
        }
        setLink("stale");
      } catch { setLink("down"); }
      setTimeout(run, 3000); // reconnect: the gateway restarted or the network came back
    };
    run();
  }

  // What the kinds bring to a page (GET /api/v1/kinds: `fragments`): each kind the hall has a
  // device of gets its fragment's script, from its package, run into a box of its own in `where`,
  // if this token may call every route the fragment needs. A script file, not inline code.
  const scripts = new Map(); // url -> its load, once however often it is asked for
  const script = (src) => {
    if (!scripts.has(src)) scripts.set(src, new Promise((ok, fail) => {
      const el = document.createElement("script");
      el.src = src; el.onload = ok; el.onerror = () => fail(new Error(`${src} did not load`));
      document.head.append(el);
    }));
    return scripts.get(src);
  };
  const loaded = new Map(); // script url -> its run(ctx), registered by the script itself
  function fragment(run) { loaded.set(document.currentScript.src, run); }
  // One kind's fragment in its box: its script loaded, then run with what it may use. Its own error
  // boundary: a fragment that fails says so in its box, and the page and the others go on.
  const mayCall = (f, name) => !!f.routes[name] && may(...f.routes[name].split(" "));
  async function runFragment(k, f, root) {
    // The fragment calls its routes by its own names for them: "GET /api/v1/x/{id}" filled from params.
    const path = (name, params = {}) => f.routes[name].split(" ")[1].replace(/\{(\w+)\}/g, (_, p) => encodeURIComponent(params[p]));
    const call = (name, params, { query, ...opts } = {}) =>
      api(path(name, params) + (query ? `?${new URLSearchParams(query)}` : ""), { ...opts, method: f.routes[name].split(" ")[0] });
    const devices = async () => (await api(`/api/v1/devices?kind=${encodeURIComponent(k.name)}`)).map((d) => d.id).sort();
    try {
      await script(f.script);
      const run = loaded.get(new URL(f.script, location.href).href);
      if (!run) throw new Error(`${f.script}: no HG.fragment(...) in it`);
      await run({ kind: k.name, label: k.label, root, call, path, may: (name) => mayCall(f, name), devices });
    } catch (e) {
      console.warn(e);
      root.insertAdjacentHTML("beforeend", `<section class="card"><p class="error">${esc(kindText(k.name))}: ${esc(e.message)}</p></section>`);
    }
  }
  async function fragments(page, where) {
    const runs = [];
    for (const k of await kinds()) {
      const f = k.fragments[page];
      if (!f || !k.devices || !f.needs.every((name) => mayCall(f, name))) continue;
      if (f.style) document.head.insertAdjacentHTML("beforeend", `<link rel="stylesheet" href="${esc(f.style)}">`);
      const root = document.createElement("div"); // in the registry's order, whichever script comes first
      Object.assign(root.dataset, { fragment: f.name, kind: k.name });
      root.className = "fragment";
      where.append(root);
      runs.push(runFragment(k, f, root));
    }
    await Promise.all(runs);
    document.documentElement.dataset.fragments = String(runs.length); // loaded and run: tests wait for it
  }

  // "Rendered": every part a page draws from its first data is drawn. The page says so with a
  // Performance API mark and <html data-rendered>, which tests and bench/screens.py wait for.
  let pending = null;
  function expect(parts) { pending = new Set(parts); }
  function drawn(part) {
    if (!pending || !pending.delete(part) || pending.size) return;
    pending = null;
    performance.mark("hallgate-rendered");
    document.documentElement.dataset.rendered = String(Math.round(performance.now()));
  }

  // An in-page dialog with a note (window.prompt cannot be styled, translated or tested well).
  // `action(note)` runs on confirm; its error is shown in the dialog, which stays open to retry.
  function dialog({ title, text = "", noteRequired = false, confirmClass = "" }, action) {
    const d = document.createElement("dialog");
    d.className = "hg-dialog";
    d.innerHTML = `<form><h2>${esc(title)}</h2>${text ? `<p class="muted">${esc(text)}</p>` : ""}
      <label for="dlg-note">${t("note")}${noteRequired ? " *" : ""}</label>
      <textarea id="dlg-note" rows="3" maxlength="1000" placeholder="${esc(t("note_ph"))}"></textarea>
      <p class="error" id="dlg-error"></p>
      <div class="row end"><button type="button" id="dlg-cancel">${t("cancel")}</button>
      <button class="act ${confirmClass}" id="dlg-ok">${t("confirm")}</button></div></form>`;
    document.body.append(d);
    return new Promise((resolve) => {
      const done = (v) => { d.close(); d.remove(); resolve(v); };
      $("#dlg-cancel", d).onclick = () => done(null);
      d.addEventListener("cancel", (e) => { e.preventDefault(); done(null); }); // Esc
      $("form", d).onsubmit = async (e) => {
        e.preventDefault();
        const note = $("#dlg-note", d).value.trim();
        if (noteRequired && !note) { $("#dlg-error", d).textContent = t("note_required"); return; }
        $("#dlg-ok", d).disabled = true;
        try { const out = await action(note); done(out ?? true); }
        catch (err) { $("#dlg-error", d).textContent = err.message; $("#dlg-ok", d).disabled = false; }
      };
      d.showModal();
      $("#dlg-note", d).focus();
    });
  }

  // --- charts: plain SVG ---
  // Draw at the container's pixel width (callers pass it) so the text keeps its size.
  function barChart(labels, series, { height = 220, width = 640, lineSeries = null, pad: margins = {} } = {}) {
    const pad = { l: 36, r: 8, t: 10, b: 22, ...margins }; // larger type (the wall's) needs larger margins
    const all = series.flatMap((s) => s.values).concat(lineSeries ? lineSeries.values : []);
    const max = Math.max(1, ...all.map((v) => v || 0));
    const w = width - pad.l - pad.r, h = height - pad.t - pad.b, n = Math.max(1, labels.length);
    const bw = w / n, inner = (bw * 0.8) / series.length;
    const y = (v) => pad.t + h - (h * (v || 0)) / max;
    let out = `<svg class="chart" viewBox="0 0 ${width} ${height}" role="img">`;
    for (const f of [0, 0.5, 1]) { const v = Math.round(max * f); out += `<line x1="${pad.l}" x2="${width - pad.r}" y1="${y(v)}" y2="${y(v)}" stroke="rgba(127,127,127,.25)"/><text x="${pad.l - 4}" y="${y(v) + 4}" text-anchor="end">${v}</text>`; }
    series.forEach((s, si) => s.values.forEach((v, i) => {
      const x = pad.l + i * bw + bw * 0.1 + si * inner;
      out += `<rect x="${x.toFixed(1)}" y="${y(v).toFixed(1)}" width="${Math.max(1, inner - 1).toFixed(1)}" height="${(pad.t + h - y(v)).toFixed(1)}" fill="${s.color}"><title>${esc(labels[i])} ${esc(s.name)}: ${v}</title></rect>`;
    }));
    if (lineSeries) {
      const pts = lineSeries.values.map((v, i) => `${(pad.l + i * bw + bw / 2).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
      out += `<polyline points="${pts}" fill="none" stroke="${lineSeries.color}" stroke-width="2"/>`;
      // dots too: a line of one point (the first hour of the day) draws nothing
      if (n <= 48) lineSeries.values.forEach((v, i) => { out += `<circle cx="${(pad.l + i * bw + bw / 2).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3.5" fill="${lineSeries.color}"/>`; });
    }
    const every = Math.ceil(n / Math.max(2, Math.floor(width / 90))); // a label every 90 px at most
    labels.forEach((l, i) => { if (i % every === 0) out += `<text x="${(pad.l + i * bw + bw / 2).toFixed(1)}" y="${height - 6}" text-anchor="middle">${esc(l)}</text>`; });
    return out + "</svg>";
  }
  function legend(items) { return items.map(([name, color]) => `<span style="color:${color}">■</span> ${esc(name)}`).join(" &nbsp; "); }

  return { t, $, esc, pct, hm, dt, today, hallNow, steps, expect, drawn, dialog, api, ApiError, newKey, may, start, every, stream, setLink, barChart, legend, translate,
    kinds, kindText, kindHtml, fragment, fragments, script, get me() { return me; } };
})();
