#!/usr/bin/env bash
# Builds the Grafana dashboards and provisioning files into dashboards/grafana/build/, when a
# source is newer than the last build (scripts/setup.sh runs this on every start).
set -euo pipefail
cd "$(dirname "$0")/../.."
stamp=dashboards/grafana/build/.built
if [ -f "$stamp" ] && [ -z "$(find dashboards/grafana shared -name '*.ts' -newer "$stamp" | head -1)" ] && [ ! package-lock.json -nt "$stamp" ]; then
  exit 0
fi
node_modules/.bin/tsc -p dashboards/grafana
node dist/dashboards/grafana/build.js dashboards/grafana/build
touch "$stamp"
