"""cookiecutter.json, made from copier.yml: the questions are written once.

copier.yml is the source: the questions (names, order, defaults, choices, prompts), the values
derived from the answers (its computed `cookiecutter` map), the Jinja options and what each
level or option leaves out (`_exclude`). This writes the same for cookiecutter, plus the list of
the template's plain files (`_copy_without_render`: only `.jinja` files are templates, as for
copier) and the standard-library names of copier.yml's package-name rule.

    uv run python tests/engines.py          # rewrite cookiecutter.json and that list
    uv run python tests/engines.py --check  # exit 1 if either is out of date (the tests do)
"""

from __future__ import annotations

import json
import keyword
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template"
SUFFIX = ".jinja"
STDLIB_KEY = "python_stdlib_modules"
# Derived values whose Jinja differs between the engines: cookiecutter has no strftime filter,
# copier no `now` tag.
COOKIECUTTER_ONLY = {"__year": "{% now 'utc', '%Y' %}"}


def load_copier() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "copier.yml").read_text(encoding="utf-8"))


def questions(copier: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The questions copier asks, in order (computed values have `when: false`)."""
    return {
        name: spec
        for name, spec in copier.items()
        if not name.startswith("_") and isinstance(spec, dict) and spec.get("when") is not False
    }


def for_cookiecutter(expression: str, names: list[str]) -> str:
    """A copier Jinja expression with each question's name as cookiecutter.<name>."""
    pattern = r"(?<![\w.])(" + "|".join(map(re.escape, names)) + r")(?!\w)"
    return re.sub(pattern, r"cookiecutter.\1", expression)


def derived(copier: dict[str, Any]) -> dict[str, str]:
    """The `__x` values of copier's computed `cookiecutter` map: name -> Jinja expression."""
    computed = copier["cookiecutter"]["default"]
    return dict(re.findall(r'^(__\w+): "(.*)"$', computed, flags=re.MULTILINE))


def plain_files() -> list[str]:
    """Patterns for cookiecutter's `_copy_without_render`: every file of template/ that is not
    a template, by its suffix (`*.py`) or, without one, by its path."""
    patterns = set()
    for path in sorted(TEMPLATE.rglob("*")):
        if not path.is_file() or path.name.endswith(SUFFIX) or "__pycache__" in path.parts:
            continue
        relative = path.relative_to(TEMPLATE).as_posix()
        patterns.add(f"*{path.suffix}" if path.suffix else relative)
    return sorted(patterns)


def conditional_exclusions(copier: dict[str, Any]) -> list[str]:
    """The `_exclude` blocks that depend on the answers (each renders to one path per line)."""
    return [rule for rule in copier["_exclude"] if "{%" in rule]


def build(copier: dict[str, Any]) -> dict[str, Any]:
    asked = questions(copier)
    names = list(asked)
    result: dict[str, Any] = {}
    prompts: dict[str, Any] = {}
    for name, spec in asked.items():
        choices = spec.get("choices")
        if choices is None:
            result[name] = for_cookiecutter(str(spec["default"]), names)
            prompts[name] = spec["help"]
            continue
        labels = (
            {str(value): label for label, value in choices.items()}
            if isinstance(choices, dict)
            else {str(value): str(value) for value in choices}
        )
        default = str(spec["default"])
        result[name] = [default, *(value for value in labels if value != default)]
        if isinstance(choices, dict):
            prompts[name] = {"__prompt__": spec["help"], **labels}
        else:
            prompts[name] = spec["help"]
    for name, expression in derived(copier).items():
        result[name] = COOKIECUTTER_ONLY.get(name, for_cookiecutter(expression, names))
    result["__prompts__"] = prompts
    envops = copier["_envops"]
    result["_jinja2_env_vars"] = {
        key: envops[key] for key in ("lstrip_blocks", "trim_blocks") if key in envops
    }
    # cookiecutter renders answers given up front as templates: hooks/answers.py keeps them as
    # typed (copier does), and checks them before the project folder is made.
    result["_extensions"] = ["hooks.answers.KeepAnswersAsTyped"]
    # copier's answers file is copier's alone: cookiecutter copies it raw, the hook removes it.
    result["_copy_without_render"] = [*plain_files(), "*_copier_conf*"]
    result["_exclude_by_answers"] = conditional_exclusions(copier)
    return result


def stdlib_rule(copier_text: str) -> str:
    """copier.yml with its list of standard-library module names (Jinja cannot import Python's
    own) set to this Python's `sys.stdlib_module_names` (public names only)."""
    names = sorted(name for name in sys.stdlib_module_names if not name.startswith("_"))
    listed = ", ".join(names)
    lines, line = [], "    ["
    for word in listed.split(" "):
        if len(line) + len(word) + 1 > 100:
            lines.append(line.rstrip())
            line = "    "
        line += word + " "
    lines.append(line.rstrip() + "]")
    block = "\n".join(lines)
    return re.sub(
        rf"(^{STDLIB_KEY}:\n  type: yaml\n  when: false\n  default: >-\n)(    \[.*?\]\n)",
        lambda match: match.group(1) + block + "\n",
        copier_text,
        flags=re.MULTILINE | re.DOTALL,
    )


def render_json(data: dict[str, Any]) -> str:
    """JSON indented by two, with short lists of scalars kept on one line."""
    text = json.dumps(data, indent=2, ensure_ascii=False)

    def joined(match: re.Match[str]) -> str:
        items = [item.strip() for item in match.group(1).split(",\n")]
        flat = "[" + ", ".join(items) + "]"
        return flat if len(flat) <= 80 else match.group(0)

    return re.sub(r"\[\n((?:\s+\"[^\"\n]*\",?\n)+)\s*\]", joined, text) + "\n"


def runtime_version(copier_text: str) -> str:
    """copier.yml with `__runtime_version` at the version of pyproject.toml: a project pins the
    runtime released with the template it was made from."""
    import tomllib

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    return re.sub(r'(__runtime_version: )".*"', rf'\1"{version}"', copier_text)


def main(argv: list[str]) -> int:
    copier_file, cookiecutter_file = ROOT / "copier.yml", ROOT / "cookiecutter.json"
    copier_text = copier_file.read_text(encoding="utf-8")
    wanted_copier = runtime_version(stdlib_rule(copier_text))
    wanted_json = render_json(build(yaml.safe_load(wanted_copier)))
    stale = [
        path.name
        for path, wanted in ((copier_file, wanted_copier), (cookiecutter_file, wanted_json))
        if path.read_text(encoding="utf-8") != wanted
    ]
    if "--check" in argv:
        if stale:
            print(f"out of date: {', '.join(stale)} (run: uv run python tests/engines.py)")
            return 1
        return 0
    copier_file.write_text(wanted_copier, encoding="utf-8")
    cookiecutter_file.write_text(wanted_json, encoding="utf-8")
    print(f"wrote {', '.join(stale) or 'nothing (up to date)'}")
    return 0


# keyword.kwlist is what copier.yml's keyword rule must know; the test reads it from here.
KEYWORDS = keyword.kwlist

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
