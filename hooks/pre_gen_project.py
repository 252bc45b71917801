"""Validate cookiecutter answers before any file is written.

The rules are hooks/answers.py's (copier checks the same with the `validator:` entries of
copier.yml, in the same words; tests/test_answers.py holds the two to it). On the first broken
rule this prints one line naming the field and the rule and exits non-zero, and cookiecutter
removes the project folder it made. hooks/answers.py's extension checks the answers earlier
still, while cookiecutter prompts, before that folder is made; this check covers what reaches
generation another way (a replay, a cookiecutter whose prompt the extension did not see).
"""

import json
import sys

# The Jinja in this hook: cookiecutter renders the answers in as JSON. `_cookiecutter` holds
# them as given (the command line's before cookiecutter rendered them); hooks/answers.py's
# extension says where this template is and whether it kept the answers as typed.
ANSWERS = json.loads(r"""{{ cookiecutter | tojson }}""")
GIVEN = json.loads(r"""{{ _cookiecutter | default({}) | tojson }}""")
ROOT, KEPT = json.loads(r"""[{{ template_root | tojson }}, {{ answers_kept_as_typed | tojson }}]""")
sys.path.insert(0, ROOT)
from hooks.answers import errors, message, own, rendered_as_template  # noqa: E402

if __name__ == "__main__":
    found = errors(ANSWERS)
    # Should the extension not have seen cookiecutter's prompt (another cookiecutter, a replay),
    # an answer given with Jinja in it may have been run: stop (too late to prevent it).
    ran = None if KEPT else rendered_as_template(GIVEN, ANSWERS, own())
    if ran:
        found.insert(0, ran)
    if found:
        print(message(*found[0]), file=sys.stderr)
        sys.exit(1)
