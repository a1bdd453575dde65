#!/usr/bin/env bash
# Set up (only what is missing) and start the assistant: Rasa server, action server and the demo
# website with the chat widget, on the embedded SQLite database unless DATABASE_URL says otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
# Rasa telemetry would try to reach the internet (crash reports, usage events): off.
export RASA_TELEMETRY_ENABLED=false
bash scripts/setup.sh
export TF_CPP_MIN_LOG_LEVEL=2
exec .venv/bin/python -m bot.cli run "$@"
