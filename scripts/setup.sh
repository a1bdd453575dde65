#!/usr/bin/env bash
# Everything the assistant needs on a fresh Debian machine, each step skipped when already done:
# system packages, a Python 3.10 virtual environment with the locked dependencies, the chat widget
# from npm, the German spaCy pipeline, the migrated and seeded database, and the trained model.
set -euo pipefail
cd "$(dirname "$0")/.."
# Rasa telemetry would try to reach the internet (crash reports, usage events): off.
export RASA_TELEMETRY_ENABLED=false

step() { printf '\n==> %s\n' "$*"; }

step "System packages"
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
# The load balancer in front of several Rasa servers (bot.scaling.haproxy, `python -m bot.cli run-cluster`).
command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
if ((${#missing[@]})); then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
else
  echo "chromium and npm present"
fi

step "Python 3.10 virtual environment"
find_python310() {
  local candidate
  # pyenv's shim answers to python3.10 even when 3.10 is not selected, so each candidate must really run as 3.10.
  for candidate in "${PYTHON310:-}" "$HOME"/.pyenv/versions/3.10.*/bin/python3.10 /root/.pyenv/versions/3.10.*/bin/python3.10 \
                   "$(command -v python3.10 || true)"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ] \
       && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' >/dev/null 2>&1; then
      echo "$candidate"; return 0
    fi
  done
  return 1
}
if [ ! -x .venv/bin/python ]; then
  python310=$(find_python310) || { echo "Python 3.10 is required (Rasa 3.6 does not run on 3.11): install it, e.g. 'pyenv install 3.10.13', or set PYTHON310." >&2; exit 1; }
  "$python310" -m venv .venv
fi
lock_hash=$(sha256sum requirements.lock | cut -d' ' -f1)
if [ "$(cat .venv/.requirements-hash 2>/dev/null)" != "$lock_hash" ]; then
  .venv/bin/python -m pip install --quiet --upgrade "pip==24.0"
  .venv/bin/python -m pip install --quiet --no-deps -r requirements.lock
  .venv/bin/python -m pip check >/dev/null || .venv/bin/python -m pip check
  echo "$lock_hash" > .venv/.requirements-hash
  echo "dependencies installed"
else
  echo "dependencies up to date"
fi

step "Chat widget (npm)"
widget_hash=$(sha256sum bot/web/package-lock.json | cut -d' ' -f1)
if [ "$(cat bot/web/node_modules/.lock-hash 2>/dev/null)" != "$widget_hash" ]; then
  (cd bot/web && npm ci --no-audit --no-fund --loglevel=error)
  echo "$widget_hash" > bot/web/node_modules/.lock-hash
else
  echo "widget up to date"
fi

step "spaCy pipeline, database, demo customers, model"
export TF_CPP_MIN_LOG_LEVEL=2
.venv/bin/python -m bot.cli setup
