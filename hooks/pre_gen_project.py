"""Validate cookiecutter answers before anything is written.

Copier checks the same rules with the `validator:` entries in copier.yml; the messages are the
same, and tests/test_validation.py runs every rule through both engines. On the first broken
rule this prints one line naming the field and the rule and exits non-zero, and cookiecutter
removes the half-made project folder.
"""

import json
import keyword
import re
import sys

# The one line of Jinja in the hooks: cookiecutter renders the answers in as JSON.
ANSWERS = json.loads(r"""{{ cookiecutter | tojson }}""")

CHOICES = {
    "python_version": ("3.11", "3.12", "3.13"),
    "maturity_level": ("0", "1", "2"),
    "task": ("classification", "regression"),
    "license": ("MIT", "Apache-2.0", "BSD-3-Clause", "Proprietary"),
    "feature_store": ("none", "feast"),
}
STDLIB = {name for name in sys.stdlib_module_names if not name.startswith("_")}


def lowercase_name_error(value: str, pattern: str, rule: str) -> str:
    if " " in value:
        return "must not contain spaces"
    if value != value.lower():
        return "must not contain capitals"
    if not re.fullmatch(pattern, value):
        return rule
    return ""


def package_name_error(value: str) -> str:
    rule = (
        "must be a Python identifier: lowercase letters, digits and underscores,"
        " not starting with a digit"
    )
    error = lowercase_name_error(value, r"[a-z_][a-z0-9_]*", rule)
    if error:
        return error
    if keyword.iskeyword(value):
        return f"'{value}' is a Python keyword"
    if value in STDLIB:
        return f"'{value}' is the name of a standard-library module"
    return ""


def errors(answers: dict) -> list[tuple[str, str]]:
    checks = {
        "project_name": "" if answers["project_name"].strip() else "must not be empty",
        "project_slug": lowercase_name_error(
            answers["project_slug"],
            r"[a-z][a-z0-9]*(-[a-z0-9]+)*",
            "use lowercase letters, digits and single hyphens, starting with a letter",
        ),
        "package_name": package_name_error(answers["package_name"]),
        "author_email": ""
        if re.fullmatch(r"[^@ ]+@[^@ ]+[.][A-Za-z]{2,}", answers["author_email"])
        else f"'{answers['author_email']}' is not an email address (expected name@domain.tld)",
        "github_owner": ""
        if re.fullmatch(r"[A-Za-z0-9](-?[A-Za-z0-9])*", answers["github_owner"])
        and len(answers["github_owner"]) <= 39
        else "use letters, digits and single hyphens, at most 39 characters"
        " (a GitHub user or organisation name)",
    }
    for field, allowed in CHOICES.items():
        if answers[field] not in allowed:
            checks[field] = f"'{answers[field]}' is not one of {', '.join(allowed)}"
    return [(field, message) for field, message in checks.items() if message]


if __name__ == "__main__":
    found = errors(ANSWERS)
    if found:
        field, message = found[0]
        print(f"Validation error for question '{field}': {message}", file=sys.stderr)
        sys.exit(1)
