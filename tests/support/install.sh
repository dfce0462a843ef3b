#!/usr/bin/env bash
# Installs the node test peers (OpenID Connect provider, SMTP sink, OpenID client, webhook receiver) and axe-core from their lock files.
# Runs npm ci in a folder when its node_modules is missing or older than its package-lock.json.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "tests/support/install.sh: node and npm are required (node 20 or later)" >&2
  exit 1
fi

for dir in oidc-provider smtp-sink openid-client axe webhook-receiver; do
  folder="$here/$dir"
  stamp="$folder/node_modules/.package-lock.json" # written by npm on every install
  if [ ! -d "$folder/node_modules" ] || [ ! -e "$stamp" ] || [ "$folder/package-lock.json" -nt "$stamp" ]; then
    echo "npm ci in tests/support/$dir"
    (cd "$folder" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done
