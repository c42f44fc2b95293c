"""An alert's summary in the reader's language, said when read: the catalogue's template with the
specifics the alert kept (so a Chinese reader gets the catalogue's words of today), the English it
was raised with for an English reader; an alert stored before its words were kept has only the
summary it was stored with, which it keeps in either language."""

from __future__ import annotations

from gateway.alerts.lifecycle import Alert
from gateway.i18n.catalogue import say


def summary(a: Alert, lang: str) -> str:
    if lang == "en":
        return a.english or a.summary
    if a.template is not None and a.params is not None:
        return say(a.template, a.params, a.summary)
    return a.summary
