# The two set-up commands of the README:
#   make run   - serve the admin at http://127.0.0.1:8000/admin/ (SQLite unless DATABASE_URL says otherwise;
#                PORT=8001 for another port)
#   make test  - lint (ruff, the import-linter layer contracts), migration check, and the whole test suite on
#                PostgreSQL and on SQLite

PYTHON ?= python3
VENV ?= .venv
# `make run PORT=8001` serves on another port
PORT ?= 8000
BIN := $(VENV)/bin
# The PostgreSQL the tests use; pytest-django creates and drops a test_<name> database there.
TEST_POSTGRES_URL ?= $(or $(filter postgres%,$(DATABASE_URL)),postgres://postgres@127.0.0.1:5432/configurations)
TEST_SQLITE_URL := sqlite:///$(CURDIR)/.test-db.sqlite3

.PHONY: run serve manage test lint check-migrations test-postgres test-sqlite bench clean messages

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required")'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@ $(VENV)/.runtime

# axe-core for the accessibility tests (tests/browser/package.json, pinned by its lock file). Without npm those tests
# skip with a message, which CI=true counts as a failure.
AXE := tests/browser/node_modules/axe-core/axe.min.js
$(AXE): tests/browser/package.json tests/browser/package-lock.json
	@if command -v npm >/dev/null; then npm ci --prefix tests/browser --no-audit --no-fund --silent && touch $@; \
	else echo "npm not found: the accessibility tests will skip (install Node.js and npm)" >&2; fi

run: $(VENV)/.runtime
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py migrate --noinput
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py ensure_admin
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

# Production: migrate, create the history's month partitions ahead, collect hashed and compressed static files, and serve with gunicorn (README, Production).
# DEBUG stays off; SECRET_KEY, CONFIG_ENCRYPTION_KEYS and the database come from the environment.
serve: $(VENV)/.runtime
	$(BIN)/python manage.py migrate --noinput
	@# A failure must not keep the server down: the default partition catches new history meanwhile (check W006).
	$(BIN)/python manage.py history_partitions --quiet || echo "history_partitions failed; see docs/operations.md" >&2
	CONFIG_STATIC_MANIFEST=true $(BIN)/python manage.py collectstatic --noinput -v0
	CONFIG_STATIC_MANIFEST=true exec $(BIN)/gunicorn -c config_site/gunicorn.conf.py

# Any management command, with the same virtualenv and settings as `make run`: make manage ARGS="export_configs"
manage: $(VENV)/.runtime
	@DEBUG=$${DEBUG:-true} $(BIN)/python manage.py $(ARGS)

test: lint check-migrations test-postgres test-sqlite

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	@# The translations compile (msgfmt --check), and the compiled catalogs in the repository are their current build.
	@for po in configurations/locale/*/LC_MESSAGES/django.po; do \
		msgfmt --check -o $(VENV)/catalog.mo $$po && cmp -s $(VENV)/catalog.mo $${po%.po}.mo \
		|| { echo "$$po: does not compile, or its django.mo is stale: run make messages" >&2; exit 1; }; \
	done

check-migrations: $(VENV)/.dev
	SECRET_KEY=migration-check DATABASE_URL=$(TEST_SQLITE_URL) $(BIN)/python manage.py makemigrations --check --dry-run

test-postgres: $(VENV)/.dev $(AXE)
	@if $(BIN)/python tests/postgres_ready.py "$(TEST_POSTGRES_URL)"; then \
		DATABASE_URL="$(TEST_POSTGRES_URL)" $(BIN)/pytest $(PYTEST_ARGS); \
	elif [ -n "$$CI" ]; then \
		echo "CI=true: PostgreSQL at $(TEST_POSTGRES_URL) is not reachable; its tests cannot be skipped on CI." >&2; exit 1; \
	else \
		echo "SKIPPED: PostgreSQL at $(TEST_POSTGRES_URL) is not reachable; only the SQLite run follows." >&2; \
	fi

test-sqlite: $(VENV)/.dev $(AXE)
	DATABASE_URL=$(TEST_SQLITE_URL) $(BIN)/pytest $(PYTEST_ARGS)

# After changing a translatable string: update the catalogs (then translate the new entries) and compile them.
messages: $(VENV)/.dev
	DEBUG=true $(BIN)/python manage.py makemessages -l de -l fr -l es -l ar --no-obsolete \
		--ignore=.venv --ignore=tests --ignore=benchmarks --ignore=artifacts --ignore=node_modules
	@# msgmerge's guesses for new strings are cleared (a guessed translation is worse than English until checked).
	@for po in configurations/locale/*/LC_MESSAGES/django.po; do \
		msgattrib --clear-fuzzy --empty --clear-previous -o $$po $$po && msgfmt --check -o $${po%.po}.mo $$po; \
	done

bench: $(VENV)/.dev
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .test-db.sqlite3 tests/browser/node_modules
