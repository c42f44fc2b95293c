// The queue's fragment of the wall: per line, the people waiting now (当前等候) and how long a
// ticket taken now can expect to wait, from GET /api/v1/queue. Run by HG.fragments.
"use strict";
HG.fragment(async (ctx) => {
  const { t, $, esc } = HG;
  ctx.root.innerHTML = `<section class="card queue-wall" id="queue-card"><h2><span data-t="queue_now"></span>
    <span class="muted" id="queue-total"></span></h2><div class="queue-lines" id="queue-lines"></div></section>`;
  HG.translate(ctx.root);
  const minutes = (s) => (s == null ? "–" : String(Math.ceil(s / 60)));
  async function lines() {
    const ls = await ctx.call("lines");
    // The queue server's own count; the events' while it has sent no snapshot of the line.
    const waiting = (l) => (l.waiting ?? l.events_waiting);
    $("#queue-total").textContent = `${t("queue_all")} ${ls.reduce((n, l) => n + waiting(l), 0)}`;
    $("#queue-lines").innerHTML = ls.map((l) => `<div class="queue-line" data-line="${esc(l.line)}">
      <div class="queue-name">${esc(l.name || l.line)}</div>
      <div><span class="queue-label">${t("queue_waiting")}</span> <b class="queue-n" data-waiting>${waiting(l)}</b> <span class="queue-label">${t("people")}</span></div>
      <div><span class="queue-label">${t("queue_expected")}</span> <b class="queue-n" data-expected>${minutes(l.expected_wait_s)}</b> <span class="queue-label">${t("minutes")}</span></div>
      </div>`).join("") || `<span class="muted">${t("none")}</span>`;
  }
  HG.every(5000, lines);
});
