"""MkDocs hooks of the documentation site (mkdocs.yml names this file).

- A nav entry that names a folder (``tutorial/en/``) becomes that folder's ``index.md``
  followed by its notebooks in name order, so adding a notebook needs no edit of mkdocs.yml.
- ``<!-- tensor-methods -->`` on the Tensor reference page becomes a table of the methods
  that ops bind to :class:`minigrad.Tensor` at import (``x.sum()`` is ``mg.sum(x)``), made
  from the live class, so the page follows every op added.
- ``<!-- submodules: minigrad.optim -->`` becomes a ``:::`` directive for each public
  submodule of that package whose names the package does not export itself
  (``minigrad.optim.lr_scheduler``), so a page follows a package as it grows.
- The notebooks' LaTeX (``$...$``, ``$$...$$``) becomes MathML when the site is built
  (latex2mathml), which browsers draw themselves: no MathJax to fetch, so the pages work
  offline. A formula it cannot convert is a warning, so ``--strict`` fails on it.
"""
from __future__ import annotations

import html
import inspect
import logging
import pathlib
import re

NOTEBOOK_SUFFIX = ".py"
TENSOR_METHODS = "<!-- tensor-methods -->"
log = logging.getLogger("mkdocs.hooks.minigrad")


def _expand(entry, docs_dir):
    """One nav entry with folder entries replaced by their pages."""
    if isinstance(entry, str):
        if not entry.endswith("/"):
            return entry
        folder = docs_dir / entry
        pages = [entry + "index.md"] if (folder / "index.md").exists() else []
        pages += sorted(entry + p.name for p in folder.glob("*" + NOTEBOOK_SUFFIX))
        return pages
    if isinstance(entry, dict):
        return {title: _expand(value, docs_dir) for title, value in entry.items()}
    return [_expand(item, docs_dir) for item in entry]


def on_config(config):
    docs_dir = pathlib.Path(config["docs_dir"])
    if config["nav"]:
        config["nav"] = _expand(config["nav"], docs_dir)
    return config


ROLE = re.compile(r":\w+:`~?([\w.]+)`")


def _summary(obj):
    """The first paragraph of ``obj``'s docstring on one line, its roles as plain code."""
    doc = inspect.getdoc(obj) or ""
    return ROLE.sub(r"`\1`", " ".join(doc.split("\n\n")[0].split()))


def tensor_method_rows():
    """``(name, how it is reached, summary)`` for each public method of Tensor that is
    defined outside minigrad/tensor.py (bound there by minigrad.ops)."""
    import minigrad
    rows = []
    for name, member in sorted(vars(minigrad.Tensor).items()):
        if name.startswith("_"):
            continue
        function = member.fget if isinstance(member, property) else member
        module = getattr(function, "__module__", None)
        if not callable(function) or module == "minigrad.tensor":
            continue
        qualname = getattr(function, "__qualname__", "")
        if "<" in qualname or qualname.startswith("_"):   # no page of its own: shown here
            target = None
        else:
            target = f"{module}.{qualname}"
        rows.append((name, isinstance(member, property), target, _summary(function)))
    return rows


def _tensor_methods_table():
    lines = ["| method | the op | what it does |", "| --- | --- | --- |"]
    for name, is_property, target, summary in tensor_method_rows():
        shown = f"`x.{name}`" if is_property else f"`x.{name}(...)`"
        # a method made for Tensor alone has no entry of its own: this row describes it
        reached = f"[`{target.rsplit('.', 1)[1]}`][{target}]" if target else "—"
        lines.append(f"| {shown} | {reached} | {summary.replace('|', '&#124;')} |")
    return "\n".join(lines)


SUBMODULES = re.compile(r"<!-- submodules: ([\w.]+) -->")


def unexported_submodules(package_name):
    """The public submodules of ``package_name`` that are not just where its own names
    are defined (an empty list for a plain module)."""
    import importlib
    import pkgutil
    package = importlib.import_module(package_name)
    if not hasattr(package, "__path__"):
        return []
    exported = {id(value) for value in vars(package).values()}
    found = []
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package_name}.{info.name}")
        public = [v for k, v in vars(module).items() if not k.startswith("_")
                  and getattr(v, "__module__", None) == module.__name__]
        if any(id(value) not in exported for value in public):
            found.append(module.__name__)
    return found


def _submodule_directives(match):
    return "\n\n".join(f"::: {name}\n    options:\n      show_root_heading: true"
                         for name in unexported_submodules(match.group(1)))


def on_page_markdown(markdown, page, config, files):
    if TENSOR_METHODS in markdown:
        markdown = markdown.replace(TENSOR_METHODS, _tensor_methods_table())
    return SUBMODULES.sub(_submodule_directives, markdown)


# what math is never looked for in: code, scripts and styles (a $ there is not LaTeX)
VERBATIM = re.compile(r"(<(pre|code|script|style)\b.*?</\2>)", re.S | re.I)
DISPLAY_MATH = re.compile(r"\$\$(.+?)\$\$", re.S)
INLINE_MATH = re.compile(r"(?<![\\$])\$([^$\n]+?)\$")


def _mathml(match, display, where):
    from latex2mathml.converter import convert
    latex = html.unescape(match.group(1)).strip()
    try:
        return convert(latex, display="block" if display else "inline")
    except Exception as error:                # the formula stays as text; strict fails
        log.warning(f"{where}: cannot convert ${latex}$ to MathML ({error})")
        return match.group(0)


def _math_to_mathml(page_html, where):
    parts = VERBATIM.split(page_html)
    out = []
    # split() gives text, then each verbatim element with its tag name, in turn
    for index in range(0, len(parts), 3):
        text = parts[index]
        text = DISPLAY_MATH.sub(lambda m: _mathml(m, True, where), text)
        text = INLINE_MATH.sub(lambda m: _mathml(m, False, where), text)
        out.append(text)
        if index + 1 < len(parts):
            out.append(parts[index + 1])
    return "".join(out)


def on_post_page(output, page, config):
    if page.file.src_uri.endswith(NOTEBOOK_SUFFIX):
        return _math_to_mathml(output, page.file.src_uri)
    return output
