"""Griffe extension for the API pages: docstrings written for Sphinx, rendered as Markdown.

The package's docstrings name other objects with Sphinx roles (:class:`~pkg.mod.Name`,
:func:`name`, :mod:`pkg.mod`, ...) and hold doctest examples. Rendered as Markdown the roles
would show verbatim and a doctest's output could read as a link. This extension rewrites
each role into an optional autorefs cross-reference (a link where the target is documented
on the site, plain code otherwise, no warning either way) and fences every doctest block
as a ``pycon`` code block.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

__all__ = ["SphinxRoles"]

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj|const):`([^`]+)`")
_TITLED = re.compile(r"^(?P<title>.*?)\s*<(?P<target>[^>]+)>$")


def _context(obj: griffe.Object) -> str:
    """The path a relative target is looked up in: the class of a member, else the module."""
    if obj.is_class:
        return obj.path
    parent = obj.parent
    if parent is not None and parent.is_class:
        return parent.path
    return obj.module.path


def _rewrite(text: str, obj: griffe.Object) -> str:
    def replace(match: re.Match[str]) -> str:
        body = match.group(1)
        titled = _TITLED.match(body)
        if titled:
            title, target = titled["title"], titled["target"].lstrip("~")
        else:
            target = body.lstrip("~.")
            title = target.rsplit(".", 1)[-1] if body.startswith("~") else target
        if target.startswith("resonant_ad"):
            identifier, fallback = target, target
        else:
            identifier, fallback = f"{_context(obj)}.{target}", f"{obj.module.path}.{target}"
        return (
            f'<autoref identifier="{identifier}" slug="{fallback}" optional>'
            f"<code>{title}</code></autoref>"
        )

    return _ROLE.sub(replace, text)


def _markdown(text: str, obj: griffe.Object) -> str:
    """``text`` with its doctest blocks fenced and the roles outside them rewritten."""
    out: list[str] = []
    in_doctest = False
    indent = ""
    for line in text.splitlines():
        stripped = line.lstrip()
        if not in_doctest and stripped.startswith(">>>"):
            indent = line[: len(line) - len(stripped)]
            out.append(f"{indent}```pycon")
            in_doctest = True
        elif in_doctest and not stripped:
            out.append(f"{indent}```")
            in_doctest = False
        out.append(line if in_doctest else _rewrite(line, obj))
    if in_doctest:
        out.append(f"{indent}```")
    return "\n".join(out)


class SphinxRoles(griffe.Extension):
    """Rewrite the docstring of every object (see the module's docstring)."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _markdown(obj.docstring.value, obj)
