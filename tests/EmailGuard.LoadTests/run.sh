#!/usr/bin/env bash
# Drives the load app with wrk: bare endpoint, ASP.NET Core's built-in limiter, EmailGuard in memory, EmailGuard on
# Redis. Prints requests/s and the ratio to the bare endpoint of the same app. Everything it starts, it stops.
# Usage: tests/EmailGuard.LoadTests/run.sh [duration-seconds (default 10)] [rounds (default 2)]
set -euo pipefail
cd "$(dirname "$0")/../.."

duration="${1:-10}"
rounds="${2:-2}"
conns=64
threads=2
out="tests/EmailGuard.LoadTests/bin/run"

if ! command -v wrk >/dev/null 2>&1; then
  echo "run: installing wrk"
  timeout 120 apt-get install -y -qq wrk >/dev/null
fi

dotnet build tests/EmailGuard.LoadTests/EmailGuard.LoadTests.csproj -c Release -o "$out" -v q -nologo >/dev/null

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ -n "${redis_dir:-}" ]]; then rm -rf "$redis_dir"; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# Sets app_url. Not called in $(...): a subshell would lose the pid, and the app would outlive the run.
start_app() { # $@ = store args
  local port; port=$(free_port)
  "$out/EmailGuard.LoadTests" --urls "http://127.0.0.1:$port" "$@" >"$out/app-$port.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do
    if curl -fs "http://127.0.0.1:$port/ready" >/dev/null 2>&1; then app_url="http://127.0.0.1:$port"; return 0; fi
    sleep 0.1
  done
  echo "run: the app did not start; see $out/app-$port.log" >&2
  app_url=""
  return 1
}

declare -A total
measure() { # $1 = label, $2 = url
  timeout $((duration + 20)) wrk -t1 -c8 -d2s "$2" >/dev/null
  local result rps
  result=$(timeout $((duration + 20)) wrk -t$threads -c$conns -d"${duration}s" "$2")
  rps=$(awk '/Requests\/sec:/ {print $2}' <<<"$result")
  if grep -q "Non-2xx" <<<"$result"; then echo "  warning: $1 had $(grep Non-2xx <<<"$result")"; fi
  total[$1]=$(python3 -c "print(${total[$1]:-0} + $rps)")
  printf '  %-22s %12.0f req/s\n' "$1" "$rps"
}

# The flood: wrk is one client over its limit (1/min) on every request but the first; 429s are the point here.
evalsha_calls() { redis-cli -p "$redis_port" info commandstats | awk -F'[:=,]' '/^cmdstat_(evalsha|eval):/ {n += $3} END {print n + 0}'; }
measure_flood() { # $1 = label, $2 = url, $3 = redis (count its script calls)
  local result rps before after started ended
  # The warm-up puts the key over its limit; the measured run is the flood's steady state.
  timeout $((duration + 20)) wrk -t1 -c8 -d2s "$2" >/dev/null
  [[ -n "${3:-}" ]] && before=$(evalsha_calls)
  started=$(date +%s)
  result=$(timeout $((duration + 20)) wrk -t$threads -c$conns -d"${duration}s" "$2")
  ended=$(date +%s)
  rps=$(awk '/Requests\/sec:/ {print $2}' <<<"$result")
  total[$1]=$(python3 -c "print(${total[$1]:-0} + $rps)")
  printf '  %-22s %12.0f req/s  (%s)\n' "$1" "$rps" "$(grep -o 'Non-2xx or 3xx responses: [0-9]*' <<<"$result" || echo 'no 429s')"
  if [[ -n "${3:-}" ]]; then
    after=$(evalsha_calls)
    # One counter (wrk's client IP) under a 1-minute window: how many minute windows the run touched.
    printf '  %-22s %12d scripts for 1 key over %d minute window(s) (%d requests)\n' "  redis received" "$((after - before))" \
      "$(( ended / 60 - started / 60 + 1 ))" "$(awk '/requests in/ {print $1}' <<<"$result")"
  fi
}

start_app --store memory
mem="$app_url"
redis_url=""
if command -v redis-server >/dev/null 2>&1; then
  redis_port=$(free_port)
  redis_dir=$(mktemp -d)
  redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$redis_dir" --daemonize no >/dev/null 2>&1 &
  pids+=($!)
  for _ in $(seq 1 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  # A max age as long as the flood's window: Redis then sees at most one script per key per window.
  if start_app --store redis --redis "127.0.0.1:$redis_port" --overLimitMaxAge 00:01:00; then redis_url="$app_url"; else echo "run: EmailGuard on Redis not run (see app log)"; fi
fi

for round in $(seq 1 "$rounds"); do
  echo "round $round (wrk -t$threads -c$conns -d${duration}s)"
  measure bare "$mem/bare"
  measure builtin "$mem/builtin"
  measure emailguard-memory "$mem/emailguard"
  measure_flood flood-memory "$mem/flood"
  if [[ -n "$redis_url" ]]; then
    measure bare-redis-app "$redis_url/bare"
    measure raw-redis-call "$redis_url/raw-redis"
    measure emailguard-redis "$redis_url/emailguard"
    measure_flood flood-redis "$redis_url/flood" redis
    measure_flood bare-429-redis-app "$redis_url/bare-429"
  fi
done

echo "mean over $rounds rounds; ratio = endpoint / bare"
for label in bare builtin emailguard-memory flood-memory bare-redis-app raw-redis-call emailguard-redis flood-redis bare-429-redis-app; do
  [[ -n "${total[$label]:-}" ]] || continue
  python3 -c "b=${total[bare]}/$rounds; v=${total[$label]}/$rounds; print(f'  {\"$label\":<22} {v:12.0f} req/s  ratio {v/b:5.3f}')"
done
if [[ -n "${total[raw-redis-call]:-}" && -n "${total[emailguard-redis]:-}" ]]; then
  python3 -c "print(f'  emailguard-redis / raw-redis-call: {${total[emailguard-redis]}/${total[raw-redis-call]}:5.3f} (the same single Redis round trip per request)')"
fi
if [[ -n "${total[bare-redis-app]:-}" && -n "${total[flood-redis]:-}" ]]; then
  python3 -c "print(f'  flood-redis / bare-redis-app: {${total[flood-redis]}/${total[bare-redis-app]}:5.3f} (a one-client flood, denied locally after its first denial)')"
fi
if [[ -n "${total[bare-429-redis-app]:-}" && -n "${total[flood-redis]:-}" ]]; then
  python3 -c "print(f'  flood-redis / bare-429-redis-app: {${total[flood-redis]}/${total[bare-429-redis-app]}:5.3f} (the flood against an endpoint writing the same 429 answer with no limiter)')"
fi
