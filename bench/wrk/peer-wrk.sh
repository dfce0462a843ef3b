#!/bin/bash
# Cross-check of the peer scenario with wrk as the client (the issue's tool): both servers started as the bench starts them,
# alternately 10 s at concurrency 2 and 8, two rounds; tokens per server CPU-second from /proc/PID/stat (utime+stime).
set -u
cd "$(dirname "$0")/../.."
here=$PWD/bench/wrk
dll=$PWD/src/Tessera.Server/bin/Release/net10.0/Tessera.Server.dll
db=${1:?usage: bench/wrk/peer-wrk.sh <seeded SQLite database> (wrk and tests/support/install.sh first)}
tport=5391
out=${TMPDIR:-/tmp}/tessera-peer-wrk; mkdir -p $out
cfg=$out/peer.json
CFG=$cfg python3 - <<'PY'
import json
clients=[{"client_id":"bench-client-%02d"%i,"client_secret":"bench-Secret-4f1c9e27!","grant_types":["client_credentials"],"response_types":[],"redirect_uris":[],"token_endpoint_auth_method":"client_secret_post"} for i in range(20)]
json.dump({"clients":clients,"clientCredentials":{"resource":"urn:tessera:bench"}},open(__import__("os").environ["CFG"],"w"))
PY
(cd src/Tessera.Server/bin/Release/net10.0 && ASPNETCORE_URLS=http://127.0.0.1:$tport ASPNETCORE_ENVIRONMENT=Production Tessera__PublicUrl=http://127.0.0.1:$tport/ \
  Tessera__Database__Provider=sqlite ConnectionStrings__Tessera="Data Source=$db" Tessera__Bootstrap__AdminPassword='bench-Admin-Secret-1!x' \
  Tessera__Bootstrap__ApiClientId=bench-admin Tessera__Bootstrap__ApiClientSecret='bench-Admin-Secret-1!x' Tessera__RateLimits__Token__PermitLimit=0 \
  exec dotnet $dll > $out/wrk-tessera.log 2>&1) &
tpid=$!
(cd tests/support/oidc-provider && sleep 100000 | EXIT_WITH_STDIN=1 NODE_ENV=production node server.js 0 $cfg > $out/wrk-peer.out 2>$out/wrk-peer.err) &
for i in $(seq 1 100); do curl -sf http://127.0.0.1:$tport/healthz >/dev/null && break; sleep 0.2; done
sleep 1; purl=$(sed -n 's/^READY //p' $out/wrk-peer.out | head -1); ppid_=$(pgrep -f "node server.js 0 $cfg" | head -1)
tpid=$(pgrep -f "dotnet $dll" | head -1)
echo "tessera pid $tpid port $tport; peer pid $ppid_ url $purl"
for i in $(seq 0 19); do c=$(printf "bench-client-%02d" $i)
  curl -s -o /dev/null -w "%{http_code} " http://127.0.0.1:$tport/connect/token -d grant_type=client_credentials -d client_id=$c --data-urlencode 'client_secret=bench-Secret-4f1c9e27!'
  curl -s -o /dev/null -w "%{http_code} " ${purl%/}/token -d grant_type=client_credentials -d client_id=$c --data-urlencode 'client_secret=bench-Secret-4f1c9e27!'
done; echo
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
tick=$(getconf CLK_TCK)
measure() { # name pid url conc
  local before=$(cpu $2); local out=$(wrk -t1 -c$4 -d10s --latency -s $here/token.lua "$3" 2>&1); local after=$(cpu $2)
  local reqs=$(echo "$out" | awk '/requests in/{print $1}'); local non2xx=$(echo "$out" | awk '/Non-2xx/{print $NF}')
  local p50=$(echo "$out" | awk '$1=="50%"{print $2}'); local p99=$(echo "$out" | awk '$1=="99%"{print $2}')
  python3 -c "r=$reqs; c=($after-$before)/$tick; print(f'| $1 | $4 | {r} | ${non2xx:-0} | {r/10:.0f} | {r/c:.0f} | $p50 | $p99 |')"
}
# warm-up
wrk -t1 -c2 -d3s -s $here/token.lua http://127.0.0.1:$tport/connect/token >/dev/null 2>&1
wrk -t1 -c2 -d3s -s $here/token.lua ${purl%/}/token >/dev/null 2>&1
echo "| server | concurrency | tokens | non-2xx | tokens/s | tokens per server CPU-s | p50 | p99 |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for round in 1 2; do for c in 2 8; do
  measure "Tessera, round $round" $tpid http://127.0.0.1:$tport/connect/token $c
  measure "oidc-provider, round $round" $ppid_ ${purl%/}/token $c
done; done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
kill $tpid; pkill -f "sleep 100000"; pkill -f "node server.js 0 $cfg"; wait 2>/dev/null
