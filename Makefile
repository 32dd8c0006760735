# The two commands: `make run` and `make test`. Everything else is a step of theirs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
HOST   ?= 127.0.0.1
PORT   ?= 8000
SEED   ?= 42
EXPENDITURES ?= 5000
# Local runs are development runs; production sets DEBUG=0 and a SECRET_KEY of its own.
export DEBUG ?= 1

.PHONY: install browser redis run test lint check-migrations schema bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

run: install
	mkdir -p var
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_seed --with-revision
	$(PY) manage.py generate_history --seed $(SEED) --expenditures $(EXPENDITURES) --if-empty
	$(PY) manage.py create_demo_users
	@echo "API: http://$(HOST):$(PORT)/api/v1/  docs: http://$(HOST):$(PORT)/api/docs/  admin: http://$(HOST):$(PORT)/admin/"
	@echo "Partner's page: http://$(HOST):$(PORT)/portal/ (log in as bnce, password bnce)"
	$(PY) manage.py runserver --noreload $(HOST):$(PORT)

test: install browser redis lint check-migrations schema
	$(PY) -m pytest -n 2 --dist loadfile -q

# Chromium and its driver for the browser test, when missing and installable (else it is skipped).
browser:
	bash bin/install-browser

# Redis for the real Celery worker's test, when it is not running and can be started (else skipped).
redis:
	bash bin/start-redis

lint: install
	$(VENV)/bin/ruff check .

check-migrations: install
	$(PY) manage.py makemigrations --check --dry-run

schema: install
	$(PY) manage.py spectacular --validate --fail-on-warn --file /dev/null

bench: install
	$(PY) -m pytest bench -q

clean:
	rm -rf $(VENV) var
