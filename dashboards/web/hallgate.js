// hallgate pages: token, language, the API, role checks, small SVG charts. No build step, no CDN.
"use strict";
const HG = (() => {
  // The words come from the gateway's catalogue (gateway/i18n/, served as /web/words.js, loaded
  // before this file): one table for the pages and the API, not a copy here.
  const CATALOGUE = window.HG_WORDS || { pages: {}, labels: {}, errors: {} };
  const WORDS = CATALOGUE.pages; // key: [中文, English]
  const params = new URLSearchParams(location.search);
  let lang = params.get("lang") || localStorage.getItem("hallgate-lang") || "zh";
  const t = (k) => (WORDS[k] ? WORDS[k][lang === "en" ? 1 : 0] : k);
  // A value the API returns (a state, a role, a severity) as a person reads it: its catalogue label.
  // (The catalogue's labels are Chinese; in English the code is the word.)
  const label = (group, value) => (lang === "en" ? value : (CATALOGUE.labels[group] || {})[value] ?? value);
  // A code beside its words, small and marked as a code (<code>): what a person reads, what to quote.
  const beside = (code) => ` <code class="tag muted">${esc(code)}</code>`;
  // A value as HTML: its label with the code beside it (the code alone when it has no label).
  const coded = (group, value) => (label(group, value) === value ? esc(value) : `${esc(label(group, value))}${beside(value)}`);
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
  // Quick ranges (今天/本周/本月/上月) of the hall's days, as [start, end] dates, both included.
  const RANGES = ["today", "this_week", "this_month", "last_month"];
  function range(which) {
    const d = today(), day = Date.parse(`${d}T00:00:00Z`), iso = (ms) => new Date(ms).toISOString().slice(0, 10);
    if (which === "this_week") return [iso(day - ((new Date(day).getUTCDay() + 6) % 7) * 86400000), d]; // from Monday
    if (which === "this_month") return [`${d.slice(0, 8)}01`, d];
    if (which === "last_month") { const first = Date.parse(`${d.slice(0, 8)}01T00:00:00Z`); return [iso(first - 86400000).slice(0, 8) + "01", iso(first - 86400000)]; }
    return [d, d];
  }
  // Its buttons for a pair of date inputs: a click sets both and runs `then`.
  function quickRanges(startInput, endInput, then) {
    const box = document.createElement("span");
    box.className = "quick";
    box.innerHTML = RANGES.map((r) => `<button type="button" data-range="${r}">${t(r)}</button>`).join("");
    box.onclick = (e) => { const b = e.target.closest("[data-range]"); if (b) { [startInput.value, endInput.value] = range(b.dataset.range); then(); } };
    return box;
  }
  // What is wrong with a range of dates, in words (empty when nothing): both given, in order, not too long.
  function rangeError(start, end, maxDays) {
    if (!start || !end) return t("range_empty");
    if (end < start) return t("range_reversed");
    const days = (Date.parse(end) - Date.parse(start)) / 86400000 + 1;
    return days > maxDays ? t("range_too_long").replace("{n}", maxDays) : "";
  }
  const clockText = () => zoned({ hour: "2-digit", minute: "2-digit", second: "2-digit" }).format(hallNow());

  // The token: from the link's fragment (never sent to the server), else this tab's session.
  if (location.hash.startsWith("#token=")) {
    sessionStorage.setItem("hallgate-token", decodeURIComponent(location.hash.slice(7)));
    history.replaceState(null, "", location.pathname + location.search);
  }
  const token = () => sessionStorage.getItem("hallgate-token") || "";

  // An error as a person reads it: the API's Chinese message and next step, the code beside it
  // (in English, the API's English detail).
  class ApiError extends Error {
    constructor(status, code, detail, message, next) {
      super(message && lang !== "en" ? `${message}${next ? `。${next}` : ""}（${code}）` : `${status} ${code}: ${detail}`);
      Object.assign(this, { status, code, detail, next });
    }
  }
  async function api(path, opts = {}) {
    // A token (a machine's, or typed in) goes as a header; a signed-in person's session is its cookie.
    // The page's language, not the browser's: the API says alerts (and errors) in the one asked for.
    const headers = { "Accept-Language": lang === "en" ? "en" : "zh-CN", ...(token() ? { Authorization: `Bearer ${token()}` } : {}), ...(opts.headers || {}) };
    let body;
    if (opts.body !== undefined) { headers["Content-Type"] = "application/json"; body = JSON.stringify(opts.body); }
    let r;
    try { r = await fetch(path, { method: opts.method || "GET", headers, body, signal: opts.signal }); }
    catch (e) { setLink("down"); throw new ApiError(0, "unreachable", e.message, t("down")); }
    const text = await r.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = { error: "bad_response", detail: text.slice(0, 200), message: t("bad_response") }; }
    if (!r.ok) { if (r.status >= 500 && r.status !== 503 && r.status !== 504) setLink("down"); throw new ApiError(r.status, data?.error, data?.detail, data?.message, data?.next); }
    return data;
  }
  // A file the API writes (an export): fetched with the token (a link cannot send it), then saved
  // under the name the API gives it.
  async function download(path) {
    const r = await fetch(path, { headers: { Authorization: `Bearer ${token()}` } });
    if (!r.ok) { const d = await r.json().catch(() => ({})); throw new ApiError(r.status, d.error, d.detail, d.message, d.next); }
    const name = decodeURIComponent((r.headers.get("Content-Disposition") || "").split("filename*=UTF-8''")[1] || "export");
    const a = Object.assign(document.createElement("a"), { href: URL.createObjectURL(await r.blob()), download: name });
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 60000);
    return name;
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
  const kindHtml = (code) => { const k = kindOf(code); return k && k.label !== code ? `${esc(k.label)}${beside(code)}` : esc(code); };

  // A person as the pages name them: the staff registry's name (GET /api/v1/staff, loaded at the
  // start), the 工号 small beside it; a staff id the registry does not know, as it is.
  let staffNames = new Map();
  const person = (id) => { const n = staffNames.get(id); return n ? `${esc(n)}${beside(id)}` : esc(id ?? "–"); };
  const personText = (id) => { const n = staffNames.get(id); return n ? `${n} (${id})` : String(id ?? "–"); };

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
    $("#logout").onclick = async () => {
      sessionStorage.removeItem("hallgate-token");
      try { await api("/api/v1/session", { method: "DELETE" }); } catch { /* ended already: reload anyway */ }
      location.reload();
    };
    const tick = () => { if (hallZone) $("#clock").textContent = clockText(); };
    setInterval(tick, 1000);
    tickClock = tick;
  }
  function translate(root = document) {
    document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
    root.querySelectorAll("[data-t]").forEach((el) => { el.textContent = t(el.dataset.t); });
    root.querySelectorAll("[data-tp]").forEach((el) => { el.placeholder = t(el.dataset.tp); });
  }
  // Sign in: a person with a name and password (a session cookie), or a token (a machine, a wall
  // link, the demo's) as the alternative. Checked here, in Chinese, not by the browser's own bubbles.
  function showLogin(message) {
    const main = $("main");
    main.innerHTML = `<section class="card" id="login"><h2>${t("login")}</h2>
      <form id="signin" class="row" novalidate><input id="user-input" autocomplete="username" placeholder="${t("username")}" size="16">
      <input id="password-input" type="password" autocomplete="current-password" placeholder="${t("password")}" size="16">
      <button class="act">${t("login")}</button></form>
      <details><summary>${t("login_token")}</summary><p class="muted">${t("login_hint")}</p>
      <form id="token-form" class="row" novalidate><input id="token-input" type="password" autocomplete="off" placeholder="${t("token")}" size="28">
      <button class="act">${t("login")}</button></form></details><p class="error">${esc(message || "")}</p></section>`;
    const say = (text) => { $("#login .error").textContent = text; };
    $("#signin").onsubmit = async (e) => {
      e.preventDefault();
      const username = $("#user-input").value.trim(), password = $("#password-input").value;
      if (!username || !password) { say(t("login_missing")); return; }
      try { await api("/api/v1/session", { method: "POST", body: { username, password } }); }
      catch (err) { $("#password-input").value = ""; say(err.message); return; }
      sessionStorage.removeItem("hallgate-token");
      location.reload();
    };
    $("#token-form").onsubmit = (e) => {
      e.preventDefault();
      const value = $("#token-input").value.trim();
      if (!value) { say(t("login_missing")); return; }
      sessionStorage.setItem("hallgate-token", value); location.reload();
    };
  }
  // Forms are checked by the page, in Chinese, never by the browser's own bubbles ("Please fill out
  // this field."): every form gets novalidate (those a fragment draws later too), and a submit of
  // one with an invalid field stops here, before the form's own handler, with the field named.
  const checkWord = (v) => (v.valueMissing ? "check_missing" : v.tooLong ? "check_long"
    : v.rangeUnderflow || v.rangeOverflow ? "check_range" : "check_bad");
  function check(form) {
    const bad = [...form.elements].filter((el) => el.willValidate && !el.checkValidity());
    form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
    let out = $(".error.check", form);
    if (!out && !bad.length) return true;
    if (!out) { out = document.createElement("p"); out.className = "error check"; form.append(out); }
    out.textContent = bad.map((el) => {
      el.setAttribute("aria-invalid", "true");
      const name = el.dataset.tp ? t(el.dataset.tp) : el.closest("label")?.textContent.trim() || el.placeholder || el.id;
      return `${t(checkWord(el.validity))}${name}`;
    }).join("；");
    bad[0]?.focus();
    return !bad.length;
  }
  const noBubbles = () => document.querySelectorAll("form:not([novalidate])").forEach((f) => { f.noValidate = true; });
  new MutationObserver(noBubbles).observe(document.documentElement, { childList: true, subtree: true });
  document.addEventListener("submit", (e) => { if (!check(e.target)) { e.preventDefault(); e.stopImmediatePropagation(); } }, true);

  // Start a page: header, words, who the token is; hide what its role may not use; then run it.
  async function start(page, run) {
    header(page);
    translate();
    // No token: perhaps a signed-in session (its cookie); /me says, else the login box.
    try { me = await api("/api/v1/me"); }
    catch (e) { if (e.status === 401) { showLogin(token() || e.code !== "unauthenticated" ? e.message : ""); return; } $("main").innerHTML = `<p class="error">${esc(e.message)}</p>`; return; }
    $("#role").textContent = me.person ? `${me.person} · ${label("role", me.role)}` : label("role", me.role);
    $("#role").title = me.role;
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
    if (me.role !== "viewer" && may("GET", "/api/v1/staff")) {
      try { staffNames = new Map((await api("/api/v1/staff")).map((p) => [p.id, p.name])); } catch (e) { console.warn(e.message); }
    }
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
        const r = await fetch(path, { headers: token() ? { Authorization: `Bearer ${token()}` } : {} });
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
  // The features (the discipline ledger) bring fragments too, in every hall: as a kind with a device.
  let featureList = null;
  const features = async () => (featureList ??= (await api("/api/v1/features")).map((f) => ({ ...f, devices: 1 })));
  async function fragments(page, where) {
    const runs = [];
    for (const k of [...await kinds(), ...await features()]) {
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
  // A page says what it draws, then each fragment what it draws, as it starts: one set until all are.
  function expect(parts) { pending = new Set([...(pending || []), ...parts]); }
  function drawn(part) {
    if (!pending || !pending.delete(part) || pending.size) return;
    pending = null;
    performance.mark("hallgate-rendered");
    document.documentElement.dataset.rendered = String(Math.round(performance.now()));
  }

  // An in-page dialog with a note (window.prompt cannot be styled, translated or tested well).
  // `action(note)` runs on confirm; its error is shown in the dialog, which stays open to retry.
  // `choice` ({ label, options: [[value, text], ...] }): a list to pick from, its value passed as `action(note, value)`.
  function dialog({ title, text = "", noteRequired = false, confirmClass = "", choice = null }, action) {
    const d = document.createElement("dialog");
    d.className = "hg-dialog";
    const pick = choice ? `<label for="dlg-choice">${esc(choice.label)}</label><select id="dlg-choice">${choice.options.map(([v, label]) => `<option value="${esc(v)}">${esc(label)}</option>`).join("")}</select>` : "";
    d.innerHTML = `<form><h2>${esc(title)}</h2>${text ? `<p class="muted">${esc(text)}</p>` : ""}${pick}
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
        try { const out = await action(note, choice ? $("#dlg-choice", d).value : undefined); done(out ?? true); }
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
    labels.forEach((l, i) => { if (i % every === 0) out += `<text x="${(pad.l + i * bw + bw / 2).toFixed(1)}" y="${height - 8}" text-anchor="middle">${esc(l)}</text>`; });
    return out + "</svg>";
  }
  function legend(items) { return items.map(([name, color]) => `<span style="color:${color}">■</span> ${esc(name)}`).join(" &nbsp; "); }

  return { t, label, $, esc, pct, hm, dt, today, hallNow, steps, expect, drawn, dialog, api, ApiError, newKey, may, start, every, stream, setLink, barChart, legend, translate,
    kinds, kindText, kindHtml, fragment, fragments, script, range, quickRanges, rangeError, download, check, person, personText, coded, beside, get me() { return me; } };
})();
