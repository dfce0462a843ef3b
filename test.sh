#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian machine: installs what is missing, starts a
# throwaway PostgreSQL cluster on a free loopback port, runs every test project against
# SQLite and PostgreSQL, and stops the cluster whatever happens.
set -euo pipefail
cd "$(dirname "$0")"
root=$(pwd)

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=0
need_package() { # need_package <probe-path> <debian-package>...
  local probe=$1; shift
  if [ ! -e "$probe" ]; then
    if [ "$apt_updated" -eq 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  fi
}

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then
  need_package /usr/lib/postgresql/15/bin/initdb postgresql
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null \
  || node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

# The cluster runs as an unprivileged user: PostgreSQL refuses to run as root.
pg_user=$(id -un)
if [ "$(id -u)" -eq 0 ]; then
  pg_user=postgres
  id postgres >/dev/null 2>&1 || useradd --system --home /var/lib/postgresql --shell /bin/bash postgres
fi
as_pg() { if [ "$(id -un)" = "$pg_user" ]; then "$@"; else runuser -u "$pg_user" -- "$@"; fi; }

pg_dir=$(mktemp -d /tmp/tessera-pg.XXXXXX)
chown "$pg_user" "$pg_dir" 2>/dev/null || true
pg_port=$(free_port)
stop_cluster() {
  as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$pg_dir"
}
trap stop_cluster EXIT

as_pg "$pg_bin/initdb" -D "$pg_dir/data" -U tessera -A trust --no-sync -E UTF8 >/dev/null
as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $pg_dir -c fsync=off -c max_connections=300" start >/dev/null
echo "PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port"
export TESSERA_TEST_POSTGRES="Host=127.0.0.1;Port=$pg_port;Username=tessera;Database=postgres;Pooling=true;Maximum Pool Size=50"

# The node test peers (OpenID Connect provider, SMTP sink) need node 20+ and npm.
command -v node >/dev/null 2>&1 || need_package /usr/bin/node nodejs
command -v npm >/dev/null 2>&1 || need_package /usr/bin/npm npm
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "test.sh: node and npm are required for the test peers and could not be installed (Debian nodejs, npm)." >&2
  exit 1
fi
bash tests/support/install.sh

# The scale-out tests put Debian's HAProxy in front of several instances; the metrics test scrapes with Prometheus.
need_package /usr/sbin/haproxy haproxy
need_package /usr/bin/prometheus prometheus

# The browser tests drive Debian's Chromium through Playwright (never Playwright's own download).
need_package /usr/bin/chromium chromium fonts-liberation

results="$root/TestResults"
rm -rf "$results"
dotnet build Tessera.slnx -c Debug -nologo -v quiet
status=0
dotnet test Tessera.slnx -c Debug --no-build --nologo --logger "trx" --results-directory "$results" "$@" || status=$?

# The benchmarks in smoke mode (10,000 users on SQLite, bounded runs), so that they cannot rot.
bench_status=0
dotnet bench/Tessera.Bench/bin/Debug/net10.0/Tessera.Bench.dll smoke --users 10000 >"$results/bench-smoke.log" 2>&1 || bench_status=$?
if [ "$bench_status" -eq 0 ]; then
  echo "Benchmark smoke: passed (log: TestResults/bench-smoke.log)"
else
  tail -n 40 "$results/bench-smoke.log"; echo "Benchmark smoke: failed"; status=1
fi

# One closing line over every project, and proof that the PostgreSQL tests ran rather than skipped.
passed=0; failed=0; skipped=0; pg_ran=0
for trx in "$results"/*.trx; do
  [ -e "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1 || true)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters"); f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  n=$(sed -n 's/.* notExecuted="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${n:-0}))
  pg_ran=$((pg_ran + $( (grep -o '<UnitTestResult [^>]*testName="[^"]*Postgres[^"]*"[^>]*outcome="Passed"' "$trx" || true) | wc -l)))
done
echo "PostgreSQL tests passed: $pg_ran"
if [ "$pg_ran" -eq 0 ]; then echo "No PostgreSQL test ran: that is a failure."; status=1; fi
echo "Tests: $passed passed, $failed failed, $skipped skipped"
exit $status
