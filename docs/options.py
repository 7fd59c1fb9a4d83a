"""The option tables of the guides, generated from the command line's own parsers so that they cannot drift.

A guide holds a table between two markers::

    <!-- options:train classify -->
    ...generated...
    <!-- /options -->

``python docs/options.py`` rewrites every such table in docs/*.md; ``python docs/options.py --check`` lists the
files whose tables differ from the parsers (``tests/test_docs.py`` runs the check).
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
MARKED = re.compile(r"(<!-- options:([a-z0-9@ ]+) -->\n)(.*?)(<!-- /options -->)", re.S)
REGENERATE = "python docs/options.py"


def subparser(words: list[str], task: str | None = None) -> argparse.ArgumentParser:
    """The parser of ``lstmkit WORD WORD ...`` (``["train", "classify"]``); ``task``: as for a run of that task
    (``evaluate`` and ``predict`` then take its own options)."""
    from lstmkit.cli import build_parser
    from lstmkit.tasks import task_spec

    parser = build_parser(task_spec(task).cli if task else None)
    for word in words:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[word]
    return parser


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _default(action) -> str:
    d = action.default
    if action.required:
        return "required"
    if isinstance(action, argparse._StoreTrueAction):
        return "off"
    if d is None or d == argparse.SUPPRESS or d == "":
        return ""
    if isinstance(d, bool):
        return "on" if d else "off"
    if isinstance(d, (list, tuple)):
        return ", ".join(f"`{v}`" for v in d) if d else ""
    return f"`{d}`"


def _help(parser, action) -> str:
    text = parser._get_formatter()._expand_help(action) if action.help else ""
    if action.default not in (None, False, argparse.SUPPRESS):   # the default has a column of its own
        text = re.sub(r"\s*\(default:?[^()]*\)", "", text)
    return _cell(text)


def _default_and_help(parser, action) -> tuple[str, str]:
    """The default column and the help column; a default the help states in words ("default: 200 for --kind
    entities, 100 otherwise") moves to the default column when argparse's own is None."""
    default, text = _default(action), _help(parser, action)
    if not default:
        m = re.search(r"\(?\bdefault:?\s+([^()]+?)\)?$", text)
        if m:
            default, text = m.group(1), text[:m.start()].rstrip(" ;,")
    return default, text


def options_table(words: list[str]) -> str:
    """Markdown tables of a sub-command's options, one per argparse group, with defaults. A last word ``@TASK``
    (``["predict", "@seq2seq"]``) keeps only the options a run of that task adds."""
    task = words[-1][1:] if words[-1].startswith("@") else None
    parser = subparser(words[:-1] if task else words, task)
    formatter = parser._get_formatter()
    groups = []
    for group in parser._action_groups:
        actions = [a for a in group._group_actions
                   if a.option_strings and not isinstance(a, argparse._HelpAction)]
        if actions and (task is None or group.title == f"{task} runs"):
            groups.append((group.title, actions))
    if not groups:
        return "(none)\n"
    out = []
    for title, actions in groups:
        if len(groups) > 1:
            out += [f"*{'data and run' if title in ('options', 'optional arguments') else title}*", ""]
        out += ["| option | default | what it does |", "|---|---|---|"]
        for a in actions:
            invocation = formatter._format_action_invocation(a)
            default, text = _default_and_help(parser, a)
            out.append(f"| `{_cell(invocation)}` | {_cell(default)} | {text} |")
        out.append("")
    return "\n".join(out)


def render(text: str) -> str:
    """``text`` with every marked table regenerated."""
    return MARKED.sub(lambda m: m.group(1) + "\n" + options_table(m.group(2).split()) + "\n" + m.group(4), text)


def stale(docs: Path = DOCS) -> list[str]:
    """The guides whose option tables differ from the parsers'."""
    return [p.name for p in sorted(docs.glob("*.md")) if render(p.read_text(encoding="utf-8")) !=
            p.read_text(encoding="utf-8")]


def main(argv: list[str]) -> int:
    if "--check" in argv:
        names = stale()
        for name in names:
            print(f"docs/{name}: option tables out of date; run: {REGENERATE}")
        return 1 if names else 0
    for p in sorted(DOCS.glob("*.md")):
        text = p.read_text(encoding="utf-8")
        new = render(text)
        if new != text:
            p.write_text(new, encoding="utf-8")
            print(f"rewrote docs/{p.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
