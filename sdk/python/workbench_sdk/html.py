"""Small builders for plugin pages. Every text is escaped; pass
:class:`Markup` (what the builders return) to nest them. The workbench
styles the document and makes its links and forms work inside the frame."""

from __future__ import annotations

from html import escape as _escape
from typing import Iterable


class Markup(str):
    """HTML that is already safe to include as it is."""


def escape(text: object) -> Markup:
    """``text`` with ``& < > " '`` escaped; Markup is kept as it is."""
    return text if isinstance(text, Markup) else Markup(_escape(str(text), quote=True))


def _join(parts: Iterable[object]) -> str:
    return "".join(escape(p) for p in parts)


def document(title: str, *body: object, lang: str = "zh-CN") -> str:
    """A whole page with ``title`` and ``body``."""
    return (
        f'<!doctype html><html lang="{escape(lang)}"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head><body>{_join(body)}</body></html>"
    )


def heading(text: object, level: int = 1) -> Markup:
    """``<h1>`` … ``<h6>``."""
    level = min(max(level, 1), 6)
    return Markup(f"<h{level}>{escape(text)}</h{level}>")


def paragraph(*parts: object) -> Markup:
    """``<p>``."""
    return Markup(f"<p>{_join(parts)}</p>")


def link(href: str, text: object) -> Markup:
    """A link inside the plugin (a relative ``href`` such as ``?day=2`` or ``/notes``)."""
    return Markup(f'<a href="{escape(href)}">{escape(text)}</a>')


def items(entries: Iterable[object], empty: str = "") -> Markup:
    """A ``<ul>`` of the entries, or a paragraph saying ``empty`` when there are none."""
    entries = list(entries)
    if not entries:
        return Markup(f'<p class="empty">{escape(empty)}</p>') if empty else Markup("")
    return Markup("<ul>" + "".join(f"<li>{escape(e)}</li>" for e in entries) + "</ul>")


def notice(text: object, tone: str = "ok") -> Markup:
    """A status line; ``tone`` is ``ok``, ``warn`` or ``error``."""
    role = "alert" if tone == "error" else "status"
    return Markup(f'<p class="notice {escape(tone)}" role="{role}">{escape(text)}</p>')


def form(action: str, label: str, fields: Iterable[Markup], submit: str, method: str = "post") -> Markup:
    """A form that posts to ``action`` inside the plugin."""
    return Markup(
        f'<form method="{escape(method)}" action="{escape(action)}" aria-label="{escape(label)}">'
        f'{"".join(fields)}<button type="submit">{escape(submit)}</button></form>'
    )


def field(name: str, label: str, value: str = "", kind: str = "text", required: bool = False,
          max_length: int | None = None) -> Markup:
    """A labelled input; ``kind`` ``textarea`` makes a text area."""
    extra = (" required" if required else "") + (f' maxlength="{max_length}"' if max_length else "")
    tag = (
        f'<textarea id="{escape(name)}" name="{escape(name)}"{extra}>{escape(value)}</textarea>'
        if kind == "textarea"
        else f'<input id="{escape(name)}" name="{escape(name)}" type="{escape(kind)}" value="{escape(value)}"{extra}>'
    )
    return Markup(f'<label for="{escape(name)}">{escape(label)}</label>{tag}')
