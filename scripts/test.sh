#!/usr/bin/env bash
# Set up (only what is missing) and run the whole test suite: lint, Rasa data validation, the
# conversation test stories, and pytest (logic, SQLite + PostgreSQL, real HTTP, real browser).
set -euo pipefail
cd "$(dirname "$0")/.."
# Rasa telemetry would try to reach the internet (crash reports, usage events): off.
export RASA_TELEMETRY_ENABLED=false
bash scripts/setup.sh
export TF_CPP_MIN_LOG_LEVEL=2
# The shared secrets the set-up generated (var/secrets.env, or SECRETS_FILE) for the servers the tests
# start; a variable already set in the environment wins.
secrets_file="${SECRETS_FILE:-var/secrets.env}"
if [ -f "$secrets_file" ]; then
  while IFS='=' read -r name value; do
    if [[ "$name" =~ ^[A-Z][A-Z0-9_]*$ ]] && [ -z "${!name:-}" ]; then export "$name=$value"; fi
  done < "$secrets_file"
fi

printf '\n==> Lint\n'
.venv/bin/ruff check .

printf '\n==> Rasa data validation\n'
.venv/bin/rasa data validate --data data --domain domain.yml --config config.yml --fail-on-warnings

printf '\n==> Conversation test stories\n'
.venv/bin/rasa test core --model models/retention.tar.gz --stories tests/stories \
  --fail-on-prediction-errors --out results/stories

printf '\n==> pytest\n'
.venv/bin/python -m pytest "$@"
