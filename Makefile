# minzheng — two commands on a fresh machine:  make demo   |   make test
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
DEMO_SCALE ?= 0.005
export PIP_DISABLE_PIP_VERSION_CHECK = 1

.PHONY: demo test install venv keys migrate seed serve lint typecheck importlint checkmigrations browser ci clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

venv: install

# Development keys: generated once into var/dev.env (never committed). Production passes its own.
var/dev.env:
	@mkdir -p var
	@$(PY) -c "import secrets; print('MINZHENG_SECRET_KEY=' + secrets.token_urlsafe(48)); print('MINZHENG_ENC_KEY=' + secrets.token_hex(16)); print('MINZHENG_IDX_KEY=' + secrets.token_hex(32)); print('MINZHENG_AUDIT_KEY=' + secrets.token_hex(32)); print('MINZHENG_TOKEN_KEY=' + secrets.token_hex(32))" > $@
	@chmod 600 $@
	@echo "generated development keys in $@"

keys: var/dev.env

migrate: install keys
	$(BIN)/minzheng migrate --noinput

seed: migrate
	@if [ ! -f var/.seeded ]; then $(BIN)/minzheng seed --scale $(DEMO_SCALE) --seed 1 && touch var/.seeded; fi
	$(BIN)/minzheng demo-accounts
	$(BIN)/minzheng meals-demo-operator
	$(BIN)/minzheng meals-demo-recent

serve:
	@echo "余杭民政平台: http://127.0.0.1:8000"
	$(BIN)/minzheng serve

demo: seed serve

# Browser tests need Debian's chromium and CJK fonts; installed when missing (root on CI and dev boxes).
browser:
	@command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || \
	  (apt-get update -qq && apt-get install -y -qq chromium fonts-noto-cjk >/dev/null)

test: install browser
	$(BIN)/pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check minzheng config bench tests e2e conftest.py || true

typecheck:
	$(BIN)/mypy minzheng config

importlint:
	$(BIN)/lint-imports

checkmigrations:
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python manage.py makemigrations --check --dry-run

ci: test lint typecheck importlint checkmigrations

clean:
	rm -rf var/minzheng.sqlite3* var/.seeded
