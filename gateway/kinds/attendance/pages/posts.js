// The attendance machines' fragment of the wall: each window's post, who is on it, and the posts
// left empty (空岗), from GET /api/v1/attendance/posts. Public mode (the wall's `viewer`): the
// person's name from the staff registry, masked as configured, never a staff id. Run by HG.fragments.
"use strict";
HG.fragment(async (ctx) => {
  const { t, $, esc } = HG;
  const pub = HG.me.role === "viewer";
  ctx.root.innerHTML = `<section class="card posts-wall" id="posts-card"><h2><span data-t="posts"></span> <span class="muted" id="posts-summary"></span></h2>
    <p class="muted legend" data-t="posts_legend"></p><div class="posts" id="posts"></div></section>`;
  HG.translate(ctx.root);
  HG.expect(["posts"]);
  async function posts() {
    const ps = await ctx.call("posts");
    const over = ps.filter((p) => p.over_limit).length;
    $("#posts-summary").textContent = `${t("on_post")} ${ps.filter((p) => !p.empty).length} / ${ps.length} · ${t("empty_post")} ${over}`;
    // 空岗 first, then vacant posts, then the staffed ones: a card too small for all cuts the last.
    const who = (p) => esc(p.name || (pub ? t("on_post") : p.on_post));
    const rank = (p) => (p.over_limit ? 0 : p.empty ? 1 : 2);
    $("#posts").innerHTML = [...ps].sort((a, b) => rank(a) - rank(b) || a.window.localeCompare(b.window)).map((p) => `<div class="post ${p.over_limit ? "over" : p.empty ? "empty" : ""}"${pub ? "" : ` title="${esc(p.a)}"`}>
      <b>${esc(p.window)}</b><br>${p.over_limit ? t("empty_post") : p.empty ? t("vacant") : who(p)}</div>`).join("") || `<span class="muted">${t("none")}</span>`;
    HG.drawn("posts");
  }
  HG.every(10000, posts);
});
