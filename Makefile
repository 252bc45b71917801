# mlops-ladder: the template's own commands. Needs python3, git and make; uv is bootstrapped
# into .tools/ when it is not on PATH.
.DEFAULT_GOAL := help
SHELL := bash
PYTHON ?= python3
DEMO_LEVEL ?= 2

# The PATH this make started with: the demo project runs under it, as it will for you.
MACHINE_PATH := $(PATH)
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
export PATH := $(dir $(UV)):$(PATH)
# Python builds are never downloaded: the tests use the interpreter the machine has.
export UV_PYTHON_DOWNLOADS ?= never

.PHONY: help demo test test-fast lint assess docs docs-build
DOCS_PORT ?= 8000

help: ## Show the commands
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-11s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(CURDIR)/.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet uv

.venv/synced: pyproject.toml uv.lock | $(UV)
	uv sync --frozen
	@touch $@

# demo/ gets a git repository of its own, as a generated project has: this one ignores demo/.
# The demo needs copier only (uv runs the version the tests run, in a throwaway environment: not
# this repository's development tools), then the project's own `make setup all` and a first
# commit, as the generated README says. Its make runs with the machine's PATH, not this one's
# .tools/: where uv is not installed, the demo's `make setup` installs it into demo/.tools/, so
# that the commands printed at the end work.
COPIER_VERSION := 9.19.1
demo: | $(UV) ## Generate a demo project (the highest level) in demo/, run its whole job, commit it
	rm -rf demo
	uv tool run --quiet --from copier==$(COPIER_VERSION) copier copy --quiet --defaults --vcs-ref HEAD \
	  -d maturity_level=$(DEMO_LEVEL) $(CURDIR) demo
	git init --quiet --initial-branch=main demo
	PATH='$(MACHINE_PATH)' $(MAKE) -C demo setup all
	git -C demo add --all
	git -C demo -c user.name="$${GIT_AUTHOR_NAME:-mlops-ladder demo}" \
	  -c user.email="$${GIT_AUTHOR_EMAIL:-demo@example.com}" \
	  commit --quiet -m "A new project from mlops-ladder"
	@echo
	@echo "The demo project (level $(DEMO_LEVEL)) is in demo/, its whole job run and committed. Next:"
	@echo
	@echo "    cd demo && make test   # its own tests"
	@echo "    cd demo && make lint   # every pre-commit check, as its CI runs them"
	@echo "    cd demo && make help   # every command"

# Two workers more than the cores: a worker waiting on a server, an image build or act leaves its
# core idle. On 2 cores: 2 workers had idle stretches (63-68% busy) that 3 filled (2254 s against
# 1996 to 2263 s); 4 kept the cores 84% busy where 3 kept them 80% (2026-12-06).
TEST_WORKERS ?= $(shell $(PYTHON) -c "import os; print((os.cpu_count() or 1) + 2)")
test: .venv/synced ## Run the template's test suite: render, lint, execute every level
	uv run pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder

test-fast: .venv/synced ## The quick part: questions, validation, rendering, linting (no installs)
	uv run pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder -m "not slow"

lint: .venv/synced ## Lint the template's own code
	uv run ruff check .
	uv run ruff format --check .
	uv run mypy  # the runtime, typed ([tool.mypy]; tests/runtime/test_types.py too)

# Reads the repository's files only (nothing in it is run). ARGS="--json", "--html -o FILE" or
# "--interactive" change the report; the adoption command it prints points at this template.
assess: .venv/synced ## Assess a repository's MLOps level, and how to adopt the next: REPO=PATH
	@test -n "$(REPO)" || { echo "usage: make assess REPO=PATH [ARGS=--json|--html|--interactive]" >&2; exit 2; }
	@uv run --frozen mlops-ladder assess "$(REPO)" $(ARGS)

docs: .venv/synced ## Serve the user guide (docs/) as a site on 127.0.0.1 (DOCS_PORT=8000)
	uv run --frozen zensical serve --dev-addr 127.0.0.1:$(DOCS_PORT)

docs-build: .venv/synced ## Build the site into build/site, strict: a broken link or anchor fails
	uv run --frozen zensical build --strict
