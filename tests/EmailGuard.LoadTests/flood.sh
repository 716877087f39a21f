#!/usr/bin/env bash
# The one-client flood on Redis, side by side: for each build of the load app given, /bare, /flood (every request but
# the first over its limit) and /bare-429 (the flood's answer written with no limiter), in alternating rounds; prints
# the median requests/s and the ratios flood/bare and flood/bare-429 of each build, the app's CPU time per request
# (user + system, from /proc; less disturbed than requests/s by other work on a shared machine) and the scripts Redis
# received during each flood.
# Every measurement holds /tmp/eg-bench.lock, so runs of several people on one machine do not overlap.
# Usage: tests/EmailGuard.LoadTests/flood.sh [rounds (6)] [seconds (10)] [label=app-dir ...]
#   With no label=app-dir, builds this tree into tests/EmailGuard.LoadTests/bin/flood and measures that alone.
#   To compare with main: git worktree add /tmp/base main && dotnet build /tmp/base/tests/EmailGuard.LoadTests -c Release -o /tmp/base-out
#   then flood.sh 6 10 base=/tmp/base-out branch=tests/EmailGuard.LoadTests/bin/flood
set -euo pipefail
cd "$(dirname "$0")/../.."

rounds="${1:-6}"
duration="${2:-10}"
shift $(( $# >= 2 ? 2 : $# ))
builds=("$@")
if [[ ${#builds[@]} -eq 0 ]]; then
  dotnet build tests/EmailGuard.LoadTests/EmailGuard.LoadTests.csproj -c Release -o tests/EmailGuard.LoadTests/bin/flood -v q -nologo >/dev/null
  builds=("this=tests/EmailGuard.LoadTests/bin/flood")
fi

pids=()
redis_dir=$(mktemp -d)
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$redis_dir"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$redis_dir" --daemonize no >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
scripts() { redis-cli -p "$redis_port" info commandstats | awk -F'[:=,]' '/^cmdstat_(evalsha|eval):/ {n += $3} END {print n + 0}'; }

declare -A url app_pid
labels=()
for build in "${builds[@]}"; do
  label="${build%%=*}"
  dir="${build#*=}"
  port=$(free_port)
  # A max age as long as the flood's window, as run.sh: Redis then sees at most one script per key per window.
  "$dir/EmailGuard.LoadTests" --urls "http://127.0.0.1:$port" --store redis --redis "127.0.0.1:$redis_port" \
    --overLimitMaxAge 00:01:00 >"$redis_dir/app-$label.log" 2>&1 &
  pids+=($!)
  app_pid[$label]=$!
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -fs "http://127.0.0.1:$port/ready" >/dev/null || { echo "flood: $label did not start"; cat "$redis_dir/app-$label.log"; exit 1; }
  url[$label]="http://127.0.0.1:$port"
  labels+=("$label")
done

declare -A results
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
measure() { # $1 = label, $2 = endpoint; prints requests/s and the app's CPU microseconds per request
  local out before after
  out=$(flock /tmp/eg-bench.lock bash -c "wrk -t1 -c8 -d2s '$2' >/dev/null && echo \$(awk '{print \$14 + \$15}' /proc/${app_pid[$1]}/stat) && wrk -t2 -c64 -d${duration}s '$2' && echo \$(awk '{print \$14 + \$15}' /proc/${app_pid[$1]}/stat)")
  before=$(head -1 <<<"$out")
  after=$(tail -1 <<<"$out")
  python3 -c "import os, sys; n = float(sys.argv[1]); print(sys.argv[2], (int(sys.argv[4]) - int(sys.argv[3])) * 1e6 / os.sysconf('SC_CLK_TCK') / n)" \
    "$(awk '/requests in/ {print $1}' <<<"$out")" "$(awk '/Requests\/sec:/ {print $2}' <<<"$out")" "$before" "$after"
  [[ "$2" != */bare || -z "$(grep Non-2xx <<<"$out")" ]] || echo "flood: $1 $2 had $(grep Non-2xx <<<"$out")" >&2
}

for round in $(seq 1 "$rounds"); do
  # The builds take turns going first.
  order=("${labels[@]}")
  if (( round % 2 == 0 )); then order=($(printf '%s\n' "${labels[@]}" | tac)); fi
  for label in "${order[@]}"; do
    read -r bare bare_cpu <<<"$(measure "$label" "${url[$label]}/bare")"
    before=$(scripts)
    read -r flood flood_cpu <<<"$(measure "$label" "${url[$label]}/flood")"
    after=$(scripts)
    read -r bare429 bare429_cpu <<<"$(measure "$label" "${url[$label]}/bare-429")"
    results[$label]+="$bare $flood $bare429 $((after - before)) $bare_cpu $flood_cpu $bare429_cpu;"
    printf 'round %d %-8s bare %7.0f  flood %7.0f  bare-429 %7.0f  flood/bare %.3f  flood/bare-429 %.3f  app CPU us/request %.1f %.1f %.1f  scripts %d\n' \
      "$round" "$label" "$bare" "$flood" "$bare429" "$(python3 -c "print($flood/$bare)")" "$(python3 -c "print($flood/$bare429)")" \
      "$bare_cpu" "$flood_cpu" "$bare429_cpu" "$((after - before))"
  done
done

echo "medians over $rounds rounds (wrk -t2 -c64 -d${duration}s, 2 s warm-up each)"
for label in "${labels[@]}"; do
  python3 - "$label" "${results[$label]}" <<'EOF'
import statistics, sys
rows = [list(map(float, r.split())) for r in sys.argv[2].split(';') if r.strip()]
med = lambda xs: statistics.median(xs)
bare, flood, b429 = (med([r[i] for r in rows]) for i in range(3))
cpu = [med([r[i] for r in rows]) for i in (4, 5, 6)]
print(f"  {sys.argv[1]:<8} bare {bare:7.0f}  flood {flood:7.0f}  bare-429 {b429:7.0f}  "
      f"flood/bare {med([r[1] / r[0] for r in rows]):.3f}  flood/bare-429 {med([r[1] / r[2] for r in rows]):.3f}  "
      f"app CPU us/request bare {cpu[0]:.1f} flood {cpu[1]:.1f} bare-429 {cpu[2]:.1f} (flood - bare-429 {med([r[5] - r[6] for r in rows]):.1f})  "
      f"scripts per flood run: max {max(int(r[3]) for r in rows)}")
EOF
done
