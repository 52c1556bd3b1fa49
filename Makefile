# Developer shortcuts. CI runs `bash .ci/run`: system packages, then the checks below, then the tests.
PYTHON ?= python3

.PHONY: check test ci format

check:  ## lint, formatting and types, as CI checks them
	ruff check .
	ruff format --check .
	mypy

test:  ## the whole suite (tests needing Nix, podman or PyPI skip or run by what is installed)
	$(PYTHON) -m pytest

ci:  ## what CI runs: apt packages, the package with its extras, checks, tests
	bash .ci/run

format:  ## rewrite formatting and apply safe lint fixes
	ruff format . && ruff check --fix .
