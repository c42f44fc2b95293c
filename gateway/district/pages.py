"""The district's pages (zh-CN), drawn on the server from what the API returns: the overview (sites
by level in their state's colour, counts online/offline, open alerts, the levels' figures), the
ranking, and one site. Words from the catalogue (gateway/district/words.py, the gateway's LABELS);
a code is shown only inside <code>, beside its words. /login takes the token in a POST and keeps it
in an HttpOnly cookie (gateway/district/guard.py): never in a URL the server sees, never in a script.
Every text that came from a site or from district.yaml is escaped where it is drawn."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Awaitable, Callable
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gateway.api.errors import ApiError
from gateway.district.api import COOKIE, guard_of, site_of, span_of
from gateway.district.config import LEVELS
from gateway.district.guard import retry_after, set_cookie
from gateway.district.service import District
from gateway.district.store import StoreUnreachable
from gateway.district.words import w
from gateway.domain.ranking import CRITERIA
from gateway.i18n.catalogue import explain
from gateway.i18n.catalogue import label as _label

SHOWN = ("tickets", "served", "rating_rate", "good_rate", "bad", "visitors", "availability", "handling_mean_min")
RATES = ("rating_rate", "good_rate", "availability")

CSS = (Path(__file__).parent / "style.css").read_text(encoding="utf-8")


def install(app: FastAPI) -> None:
    d: District = app.state.district

    def page(draw: Callable[[Request], Awaitable[str]]) -> Callable[[Request], Awaitable[Response]]:
        async def serve(request: Request) -> Response:
            token = request.cookies.get(COOKIE)
            if not token:
                return RedirectResponse("/login", status_code=303)
            try:
                guard_of(request).role(request, token)
            except ApiError as e:
                if e.status == 429:
                    return _refused(d, e)
                gone = RedirectResponse("/login?bad=1", status_code=303)
                gone.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")  # a stale one counts once
                return gone
            try:
                return html(await draw(request))
            except ApiError as e:
                return html(_shell(d, w("overview"), _error(e)), e.status)
            except StoreUnreachable:
                return html(_shell(d, w("overview"), f'<p class="banner">{w("store_down")}</p>'), 503)

        return serve

    async def overview(request: Request) -> str:
        period = request.query_params.get("period")
        span = span_of(d, period)
        states, figs = await d.states(), await d.figures(span)
        return _shell(d, w("overview"), _overview(states, figs, span.label))

    async def ranking(request: Request) -> str:
        span = span_of(d, request.query_params.get("period"))
        return _shell(d, w("ranking"), _ranking(await d.ranking(span), span.label))

    async def one(request: Request) -> str:
        site = site_of(d, request.path_params["site_id"])
        span = span_of(d, request.query_params.get("period"))
        return _shell(d, site.name, _site(await d.site(site, span), span.label))

    app.add_api_route("/", page(overview), include_in_schema=False, response_class=HTMLResponse)
    app.add_api_route("/ranking", page(ranking), include_in_schema=False, response_class=HTMLResponse)
    app.add_api_route("/sites/{site_id}", page(one), include_in_schema=False, response_class=HTMLResponse)

    @app.get("/login", include_in_schema=False, response_class=HTMLResponse)
    async def login(bad: str | None = None) -> HTMLResponse:
        return html(_login(d, bad is not None), script=LOGIN_SCRIPT)

    @app.post("/login", include_in_schema=False, response_class=HTMLResponse)
    async def sign_in(request: Request) -> Response:
        raw = await request.body()
        token = parse_qs(raw.decode("utf-8", "replace")).get("token", [""])[0].strip()
        try:
            guard_of(request).role(request, token)
        except ApiError as e:
            return _refused(d, e) if e.status == 429 else html(_login(d, True), 401, script=LOGIN_SCRIPT)
        response = RedirectResponse("/", status_code=303)
        set_cookie(request, response, token)
        return response


# A wall screen's link may carry its token in the fragment (never sent to a server): it is posted
# like a typed one, and taken out of the address and the history first.
LOGIN_SCRIPT = (
    "if(location.hash.startsWith('#token=')){const t=decodeURIComponent(location.hash.slice(7));"
    "history.replaceState(null,'',location.pathname);document.getElementById('token').value=t;"
    "document.getElementById('login-form').submit();}"
)
# No page runs a script but the login's own (by its hash), loads anything, or is framed: a text
# an escape missed still cannot run.
CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"


def html(body: str, status: int = 200, headers: dict[str, str] | None = None, script: str = "") -> HTMLResponse:
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    csp = CSP + (f"; script-src 'sha256-{digest}'" if script else "")
    said = {"Content-Security-Policy": csp, "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
    return HTMLResponse(body, status, headers={**said, **(headers or {})})


def _login(d: District, bad: bool) -> str:
    note = f'<p class="banner" id="login-bad">{w("login_bad")}</p>' if bad else ""
    form = (
        f'{note}<form id="login-form" method="post" action="/login"><label>{w("token")} '
        '<input id="token" name="token" type="password" autocomplete="off"></label> '
        f'<button id="login" type="submit">{w("login")}</button></form><p class="muted">{w("login_hint")}</p>'
        f"<script>{LOGIN_SCRIPT}</script>"
    )
    return _shell(d, w("login"), form, nav=False)


def _refused(d: District, e: ApiError) -> HTMLResponse:
    return html(_shell(d, w("login"), _error(e), nav=False), e.status, retry_after(e))


def _shell(d: District, title: str, body: str, nav: bool = True) -> str:
    links = f'<nav><a href="/">{w("overview")}</a> · <a href="/ranking">{w("ranking")}</a></nav>' if nav else ""
    return (
        f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)} · {escape(d.cfg.name)}</title>"
        f"<style>{CSS}</style></head><body><header><h1>{escape(d.cfg.name)} · {escape(title)}</h1>{links}</header>"
        f"<main>{body}</main></body></html>"
    )


def _error(e: ApiError) -> str:
    said = explain(e.code, e.params)
    return f'<p class="banner" id="error">{escape(said["message"])}<br>{escape(said.get("next", ""))}</p>'


def _time(iso: str | None) -> str:
    return w("never") if iso is None else iso[:19].replace("T", " ")


def _value(key: str, v: Any) -> str:
    if v is None:
        return w("none")
    if key in RATES:
        return f"{v * 100:.1f}%"
    if key == "handling_mean_min":
        return f"{v:.2f}"
    return str(v)


def _period_form(action: str, period: str) -> str:
    return (
        f'<form method="get" action="{action}"><label>{w("period")} '
        f'<input name="period" id="period" value="{escape(period)}" size="12"></label> '
        f'<button type="submit">{w("show")}</button></form>'
    )


def _figures_table(rows: list[tuple[str, str, dict[str, Any]]]) -> str:
    head = "".join(f"<th>{w(k)}</th>" for k in SHOWN)
    body = "".join(
        f'<tr id="{escape(rid)}"><td>{name}</td>'
        + "".join(f'<td data-key="{k}">{_value(k, f.get(k))}</td>' for k in SHOWN)
        + "</tr>"
        for rid, name, f in rows
    )
    return f'<div class="scroll"><table><tr><th></th>{head}</tr>{body}</table></div>'


def _overview(states: dict[str, Any], figs: dict[str, Any], period: str) -> str:
    c = states["counts"]
    counts = "".join(
        f'<div class="count" id="count-{k}"><b>{c[k]}</b>{w(k)}</div>'
        for k in ("sites", "online", "offline", "open_alerts", "open_workorders", "open_violations")
    )
    out = [f'<div class="counts">{counts}</div>']
    if states["broker"] == "disconnected":
        out.append(f'<p class="banner" id="broker-down">{w("broker_down")}</p>')
    for lv in LEVELS:
        sites = [s for s in states["sites"] if s["level"] == lv]
        if not sites:
            continue
        on = c["by_level"][lv]["online"]
        out.append(
            f'<h2 id="level-{lv}">{shown("site_level", lv)}（{w("online")} {on} / {len(sites)}）</h2><div class="grid">'
        )
        out += [_card(s) for s in sites]
        out.append("</div>")
    if states["unknown_sites"]:
        rows = "".join(
            f"<tr><td><code>{escape(u['site'])}</code></td><td>{_time(u['last_data'])}</td></tr>"
            for u in states["unknown_sites"]
        )
        out.append(
            f'<h2 id="unknown">{w("unknown_sites")}</h2><div class="scroll"><table>'
            f"<tr><th>{w('site')}</th><th>{w('last_data')}</th></tr>{rows}</table></div>"
        )
    levels = [(f"level-row-{lv}", shown("site_level", lv), figs["levels"][lv]) for lv in LEVELS]
    out.append(f"<h2>{w('figures')} · {w('by_level')}</h2>{_period_form('/', period)}")
    out.append(_figures_table([*levels, ("level-row-all", w("whole"), figs["district"])]))
    return "".join(out)


def _card(s: dict[str, Any]) -> str:
    cls = f"site {s['state']}" + (" alerting" if s["open_alerts"] else "")
    why = f" · {shown('offline_reason', s['reason'])}" if s["reason"] else ""
    alerts = f"{w('open_alerts')} {s['open_alerts']}" if s["open_alerts"] else w("no_alerts")
    return (
        f'<a class="{cls}" href="/sites/{escape(s["id"])}" data-site="{escape(s["id"])}" data-state="{s["state"]}">'
        f'<b>{escape(s["name"])}</b><br><span class="state-{s["state"]}">{shown("site_state", s["state"])}{why}</span>'
        f'<br><span class="muted">{w("last_data")} {_time(s["last_data"])} · {alerts}</span>'
        f'<br><span class="muted feeds">{w("open_workorders")} {_count(s["workorders"], "open")} · '
        f"{w('open_violations')} {_count(s['violations'], 'open')}</span></a>"
    )


def _count(counts: dict[str, Any] | None, key: str) -> str:
    """A count a site's feed said, or 未收到 when the district has not heard its summary."""
    return w("not_heard") if counts is None else str(counts.get(key, 0))


def _ranking(r: dict[str, Any], period: str) -> str:
    crit = list(r["weights"])
    head = "".join(f"<th>{escape(r['criteria'][c]['label'])}</th>" for c in crit)
    rows = []
    for row in r["rows"]:
        vals = "".join(
            f"<td>{_value('handling_mean_min' if c == 'handling_mean' else c, row['values'][c])}</td>" for c in crit
        )
        flag = f'<span class="flag">{w("red_flag")}</span>' if row["red_flag"] else ""
        rows.append(
            f'<tr data-site="{escape(row["site"])}"><td>{row["rank"]}</td>'
            f'<td><a href="/sites/{escape(row["site"])}">{escape(row["name"])}</a></td>'
            f"<td>{shown('site_level', row['level'])}</td><td>{row['score']:.2f}</td><td>{flag}</td>{vals}</tr>"
        )
    left = ""
    if r["left_out"]:
        left = f'<p class="muted" id="left-out">{w("left_out")}：{"、".join(CRITERIA[c][0] for c in r["left_out"])}</p>'
    return (
        _period_form("/ranking", period)
        + f'<div class="scroll"><table id="ranking"><tr><th>{w("rank")}</th><th>{w("site")}</th><th>{w("level")}</th>'
        f"<th>{w('score')}</th><th>{w('red_flag')}</th>{head}</tr>{''.join(rows)}</table></div>{left}"
    )


def _site(s: dict[str, Any], period: str) -> str:
    why = f" · {shown('offline_reason', s['reason'])}" if s["reason"] else ""
    bridge = {"up": w("bridge_up"), "down": w("bridge_down"), None: w("unknown")}[s["bridge"]]
    facts = [
        (w("level"), shown("site_level", s["level"])),
        (w("state"), f'<span class="state-{s["state"]}" id="site-state">{shown("site_state", s["state"])}{why}</span>'),
        (w("last_data"), _time(s["last_data"])),
        (
            w("gateway_said"),
            shown("site_state", s["gateway"]) if s["gateway"] in ("online", "offline") else w("unknown"),
        ),
        (w("bridge"), bridge),
        (w("open_workorders"), f'<span id="open-workorders">{_count(s["workorders"], "open")}</span>'),
        (w("overdue_workorders"), f'<span id="overdue-workorders">{_count(s["workorders"], "overdue")}</span>'),
        (w("open_violations"), f'<span id="open-violations">{_count(s["violations"], "open")}</span>'),
        (w("confirmed_violations"), f'<span id="confirmed-violations">{_count(s["violations"], "confirmed")}</span>'),
    ]
    out = (
        ['<div class="scroll"><table>'] + [f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts] + ["</table></div>"]
    )
    here = f"/sites/{escape(s['id'])}"
    out.append(f"<h2>{w('figures')}</h2>{_period_form(here, period)}")
    out.append(_figures_table([("site-figures", escape(s["name"]), s["figures"])]))
    out.append(f'<h2 id="alerts">{w("open_alerts")}（{s["open_alerts"]}）</h2>')
    if s["alerts"]:
        rows = "".join(
            f'<tr class="alert"><td>{shown("alert", a["rule"] or "")}<code>{escape(str(a["rule"]))}</code></td>'
            f"<td>{shown('severity', a['severity'] or '')}</td><td>{_device(a['device'])}</td>"
            f"<td>{_time(a['opened'])}</td></tr>"
            for a in s["alerts"]
        )
        out.append(
            f'<div class="scroll"><table><tr><th>{w("alert")}</th><th>{w("severity")}</th><th>{w("device")}</th>'
            f"<th>{w('opened')}</th></tr>{rows}</table></div>"
        )
    else:
        out.append(f'<p class="muted">{w("no_alerts")}</p>')
    out.append(f'<p><a href="/">{w("back")}</a></p>')
    return "".join(out)


def shown(group: str, value: str) -> str:
    """A value's Chinese label, escaped: a value the catalogue does not know (an alert kind or a
    severity a site made up) is shown as itself, and it came from a site."""
    return escape(_label(group, value))


def _device(device: str | None) -> str:
    return w("none") if not device else f"<code>{escape(device)}</code>"
