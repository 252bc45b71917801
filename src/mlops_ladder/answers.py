"""The template's rules for its answers, in the runtime: `assess` proposes answers for the
adoption command (adopt.py), and copier must accept every one it proposes.

The same rules live in copier.yml (`patterns` and each question's validator, which copier
runs); cookiecutter's hooks (hooks/answers.py) load this file from the template's tree, standard
library only. tests/test_assess.py checks that the patterns are copier.yml's and that all give
the same verdict and message on the same hostile values. Whole-string anchors (`\\A`...`\\Z`):
`$` would let a trailing newline through.
"""

from __future__ import annotations

import keyword
import re
import sys

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")
SLUG = re.compile(r"\A[a-z][a-z0-9]*(-[a-z0-9]+)*\Z")
PACKAGE = re.compile(r"\A[a-z][a-z0-9_]*\Z")
EMAIL = re.compile(r'\A[^@\s"<>,;:()\\]+@[^@\s"<>,;:()\\]+[.][A-Za-z]{2,}\Z')
OWNER = re.compile(r"\A[A-Za-z0-9](-?[A-Za-z0-9])*\Z")

ONE_LINE = "must be a single line of text: no line breaks, tabs or other control characters"
NAME_LENGTH = 63  # Kubernetes names (deploy/k8s) are the slug: at most 63 characters
SUMMARY_LENGTH = 512  # PyPI's limit for a package summary (pyproject's description)
EMAIL_LENGTH = 254
OWNER_LENGTH = 39  # GitHub's limit for a user or organisation name
RUNTIME = "mlops_ladder"
STDLIB = {name for name in sys.stdlib_module_names if not name.startswith("_")}

# copier.yml's project_slug default: lowercase, common Latin accents dropped (é -> e, ß -> ss; a
# combining accent, as macOS writes é, too), every run of other characters one hyphen.
ACCENTS = str.maketrans(
    "àáâãäåāăąçćčďđèéêëēėęěğìíîïīįıłñńňòóôõöøōőŕřśşšșţťțùúûüūůűųýÿźżž",
    "aaaaaaaaacccddeeeeeeeegiiiiiiilnnnoooooooorrsssstttuuuuuuuuyyzzz",
)
SLUG_CHARACTERS = set("abcdefghijklmnopqrstuvwxyz0123456789")


def lowercase_name_error(value: str, pattern: re.Pattern[str], rule: str, length: str) -> str:
    if " " in value:
        return "must not contain spaces"
    if value != value.lower():
        return "must not contain capitals"
    if not pattern.search(value):
        return rule
    if len(value) > NAME_LENGTH:
        return length
    return ""


def package_name_error(value: str) -> str:
    rule = (
        "must be a Python identifier: lowercase letters, digits and underscores,"
        " starting with a letter"
    )
    error = lowercase_name_error(
        value, PACKAGE, rule, f"at most {NAME_LENGTH} characters, as the slug"
    )
    if error:
        return error
    if keyword.iskeyword(value):
        return f"'{value}' is a Python keyword"
    if value in STDLIB:
        return f"'{value}' is the name of a standard-library module"
    if value == RUNTIME:
        return f"'{value}' is the name of the runtime every project imports"
    return ""


def email_error(value: str) -> str:
    # The length first: it also bounds the pattern's backtracking on a long answer.
    if len(value) > EMAIL_LENGTH or not EMAIL.search(value):
        return f"must be an email address: name@domain.tld, at most {EMAIL_LENGTH} characters"
    return ""


def text_error(field: str, value: str) -> str:
    """The first rule a free-text or name answer breaks ("" if none), as copier says it."""
    if CONTROL.search(value):
        return ONE_LINE
    if field == "project_name":
        return "" if value.strip() else "must not be empty"
    if field == "project_slug":
        rule = "use lowercase letters, digits and single hyphens, starting with a letter"
        length = f"at most {NAME_LENGTH} characters (it names the Kubernetes objects)"
        return lowercase_name_error(value, SLUG, rule, length)
    if field == "package_name":
        return package_name_error(value)
    if field == "description" and len(value) > SUMMARY_LENGTH:
        return f"at most {SUMMARY_LENGTH} characters (PyPI's limit for a summary)"
    if field == "author_email":
        return email_error(value)
    if field == "github_owner" and (len(value) > OWNER_LENGTH or not OWNER.search(value)):
        return (
            f"use letters, digits and single hyphens, at most {OWNER_LENGTH} characters"
            " (a GitHub user or organisation name)"
        )
    return ""


def slug_from(name: str) -> str:
    """copier.yml's default slug for a project name (it may still break the slug's rule: a
    name that starts with a digit, or none of whose characters are kept)."""
    name = name.lower().replace("ß", "ss").replace("æ", "ae").replace("œ", "oe")
    kept = "".join(
        c if c in SLUG_CHARACTERS else "" if "\u0300" <= c <= "\u036f" else "-"
        for c in name.translate(ACCENTS)
    )
    return "-".join(part for part in kept.split("-") if part)


def valid_slug(name: str) -> str:
    """A slug the rules accept, from a project name: copier's default, made to start with a
    letter and cut to the length allowed; `ml-project` when the name keeps no character."""
    slug = slug_from(name)
    if slug and not slug[0].isalpha():
        slug = f"project-{slug}"
    slug = slug[:NAME_LENGTH].rstrip("-")
    return slug if slug and not text_error("project_slug", slug) else "ml-project"


def valid_package(slug: str) -> str:
    """A package name the rules accept, from a valid slug: copier's default (hyphens made
    underscores), suffixed `_model` where that is a keyword, a standard module or the runtime."""
    package = slug.replace("-", "_")
    if package_name_error(package):
        package = f"{package[: NAME_LENGTH - len('_model')]}_model"
    return package
