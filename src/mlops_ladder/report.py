"""The report, three ways: a table for the terminal, a self-contained HTML page, JSON.

What a repository says (paths, answers read from its files) may hold control characters: text
and HTML write each field through printable(), and the whole text once more, so that nothing
reaches a terminal raw; JSON escapes them itself. A report whose reading hit a limit says it
is partial, before the checklist, in all three forms.
"""

from __future__ import annotations

import html
import json
import shutil
import textwrap
from collections.abc import Sequence

from mlops_ladder.adopt import LEVEL_NAMES, Adoption
from mlops_ladder.checks import MAX_EVIDENCE, Findings, Item
from mlops_ladder.scan import printable, printable_lines

MARK = {True: "[x]", False: "[ ]", None: "[?]"}
WORD = {True: "met", False: "missing", None: "not visible in files"}


def missing_for_next(findings: Findings) -> list[Item]:
    if findings.level >= 2:
        return []
    target = findings.level + 1
    return [i for i in findings.items if i.core and 1 <= i.level <= target and not i.met]


def partial(limits: Sequence[str]) -> str:
    return (
        f"Partial report: {len(limits)} limit(s) reached while reading the repository; "
        "what they left out is in the notes."
    )


def as_json(
    findings: Findings,
    adoption: Adoption,
    path: str,
    notes: list[str],
    answers: dict[str, str],
    limits: Sequence[str] = (),
) -> dict:
    return {
        "path": printable(path),
        "partial": bool(limits),
        "limits": list(limits),
        "level": findings.level,
        "items": [i.as_json() for i in findings.items],
        "missing_for_next": [i.item for i in missing_for_next(findings)],
        "ml_test_score": [t.as_json() for t in findings.ml_test_score],
        "tools": {tool: [e.ref for e in ev[:MAX_EVIDENCE]] for tool, ev in findings.tools.items()},
        "adopt": adoption.command,
        "adoption": adoption.as_json(),
        "answers": answers,
        "notes": notes,
    }


def _wrap(text: str, indent: int, width: int) -> list[str]:
    """Wrapped at `width`; a bullet's (`- `) next lines hang under its text."""
    hang = indent + 2 if text.startswith("- ") else indent
    return textwrap.wrap(
        text,
        width=max(40, width),
        initial_indent=" " * indent,
        subsequent_indent=" " * hang,
        break_on_hyphens=False,
    ) or [""]


def text(
    findings: Findings,
    adoption: Adoption,
    path: str,
    notes: list[str],
    limits: Sequence[str] = (),
) -> str:
    width = min(shutil.get_terminal_size((100, 24)).columns, 110)
    out = [f"mlops-ladder assess {printable(path)}", ""]
    out.append(f"Level reached: {findings.level} ({LEVEL_NAMES[findings.level]})")
    if limits:
        out += _wrap(partial(limits), 0, width)
    out.append("")
    for level in (0, 1, 2):
        out.append(f"Level {level}: {LEVEL_NAMES[level]}")
        for item in (i for i in findings.items if i.level == level):
            flag = "" if item.core or level == 0 else " (does not cap the level)"
            head = f"  {MARK[item.met]} {item.item + flag:<52} {WORD[item.met]}"
            out.append(head)
            if item.note:
                out += _wrap(item.note, 8, width)
            refs = [e.ref for e in item.evidence[:MAX_EVIDENCE]]
            if refs:
                more = len(item.evidence) - len(refs)
                out += _wrap(", ".join(refs) + (f" (+{more} more)" if more > 0 else ""), 8, width)
        out.append("")
    judged = findings.ml_test_score
    out.append(
        f"ML Test Score, the tests files can show: {sum(t.met for t in judged)} of "
        f"{len(judged)} met (the others need people, not files)"
    )
    for test in judged:
        shown = ", ".join(e.ref for e in test.evidence[:3])
        out.append(f"  {MARK[test.met]} {test.test}")
        if shown or test.note:
            out += _wrap(shown or test.note, 8, width)
    out.append("")
    if findings.tools:
        tools = ", ".join(f"{tool} ({len(ev)})" for tool, ev in findings.tools.items())
        out += ["Recognised:", *_wrap(tools, 2, width), ""]
    missing = missing_for_next(findings)
    if missing:
        out.append(f"Missing for level {findings.level + 1}:")
        for item in missing:
            out += _wrap(f"- {item.item}: {item.note}", 2, width)
        out.append("")
    if adoption.level is not None:
        out.append(f"Adopt level {adoption.level} here (copier keeps every file you have):")
        if adoption.command:
            out += ["", "  " + adoption.command, ""]
        if adoption.layout:
            out += [*_wrap(printable(adoption.layout), 2, width), ""]
        out.append("  Answers read from the repository:")
        for key, answer in adoption.answers.items():
            out += _wrap(f"{key} = {printable(answer.value)}   ({answer.source})", 4, width)
        out.append("  Then by hand:")
        for step in adoption.by_hand:
            out += _wrap(f"- {step}", 4, width)
        out.append("")
    for note in adoption.notes + notes:
        out += _wrap(f"note: {printable(note)}", 0, width)
    return printable_lines("\n".join(out).rstrip() + "\n")


CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem;color:#222}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.35rem .5rem;
text-align:left;vertical-align:top}th{background:#f4f4f4}
.met{color:#17632a;font-weight:600}.missing{color:#a3161a;font-weight:600}.unknown{color:#8a6100}
code,pre{font:13px ui-monospace,monospace;background:#f6f6f6}pre{padding:.7rem;overflow-x:auto}
.level{font-size:2.2rem;font-weight:700}small{color:#666}
"""


def _cls(met: bool | None) -> str:
    return {True: "met", False: "missing", None: "unknown"}[met]


def _flag(item: Item) -> str:
    return "" if item.core or item.level == 0 else " <small>(does not cap the level)</small>"


def _refs(evidence: list) -> str:
    return "<br>".join(f"<code>{_e(x.ref)}</code>" for x in evidence)


def _e(value: str) -> str:
    return html.escape(printable(value))


def page(
    findings: Findings,
    adoption: Adoption,
    path: str,
    notes: list[str],
    limits: Sequence[str] = (),
) -> str:
    e = _e
    rows = "".join(
        f"<tr><td>{i.level}</td><td>{e(i.item)}{_flag(i)}</td>"
        f"<td class='{_cls(i.met)}'>{WORD[i.met]}</td><td>{e(i.note)}</td>"
        f"<td>{_refs(i.evidence[:MAX_EVIDENCE])}</td></tr>"
        for i in findings.items
    )
    tests = "".join(
        f"<tr><td>{e(t.section)}</td><td>{e(t.test)}</td><td class='{_cls(t.met)}'>{WORD[t.met]}"
        f"</td><td>{'<br>'.join(f'<code>{e(x.ref)}</code>' for x in t.evidence[:3]) or e(t.note)}"
        "</td></tr>"
        for t in findings.ml_test_score
    )
    missing = "".join(f"<li>{e(i.item)}: {e(i.note)}</li>" for i in missing_for_next(findings))
    adopt = ""
    if adoption.level is not None:
        answers = "".join(
            f"<li><code>{e(k)} = {e(a.value)}</code> <small>({e(a.source)})</small></li>"
            for k, a in adoption.answers.items()
        )
        steps = "".join(f"<li>{e(s)}</li>" for s in adoption.by_hand)
        command = f"<pre>{e(adoption.command)}</pre>" if adoption.command else ""
        command += f"<p>{e(adoption.layout)}</p>" if adoption.layout else ""
        adopt = (
            f"<h2>Adopt level {adoption.level}</h2>{command}<h3>Answers read from the "
            f"repository</h3><ul>{answers}</ul><h3>Then by hand</h3><ul>{steps}</ul>"
        )
    all_notes = "".join(f"<li>{e(n)}</li>" for n in adoption.notes + notes)
    tools = "".join(
        f"<li>{e(tool)}: {', '.join(f'<code>{e(x.ref)}</code>' for x in ev[:3])}</li>"
        for tool, ev in findings.tools.items()
    )
    reached = (
        f'<p>Level reached: <span class="level">{findings.level}</span> '
        f"({e(LEVEL_NAMES[findings.level])})</p>"
    )
    warning = f"<p class='missing'>{e(partial(limits))}</p>" if limits else ""
    return printable_lines(f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>mlops-ladder assess: {e(path)}</title>
<style>{CSS}</style></head><body>
<h1>mlops-ladder assess <code>{e(path)}</code></h1>
{reached}{warning}
{f"<h2>Missing for level {findings.level + 1}</h2><ul>{missing}</ul>" if missing else ""}
<h2>The maturity checklist</h2>
<table><tr><th>level</th><th>item</th><th>status</th><th>what was found</th><th>evidence</th></tr>
{rows}</table>
<h2>ML Test Score: the tests files can show</h2>
<table><tr><th>section</th><th>test</th><th>status</th><th>evidence</th></tr>{tests}</table>
{f"<h2>Recognised</h2><ul>{tools}</ul>" if tools else ""}
{adopt}
{f"<h2>Notes</h2><ul>{all_notes}</ul>" if all_notes else ""}
</body></html>
""")


def dumps(data: dict) -> str:
    return json.dumps(data, indent=2) + "\n"
