#!/usr/bin/env bash
# Proves the NuGet promise the way a user meets it: pack the packages into a local folder, create a fresh
# ASP.NET Core app that references them by version from that folder (never by project), paste the README quick start
# in as Program.cs, build and run it, and send requests until it limits. Then the same app again on a real Redis.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
app_pid=""
redis_pid=""
cleanup() {
  [[ -n "$app_pid" ]] && kill "$app_pid" 2>/dev/null || true
  [[ -n "$redis_pid" ]] && kill "$redis_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# A version no earlier run used, so NuGet's global cache can never hand back a stale package of the same number.
version="0.1.0-ci.$(date -u +%Y%m%d%H%M%S).$$"
feed="$work/feed"
echo "packages: packing $version"
for project in EmailGuard EmailGuard.Redis EmailGuard.AspNetCore EmailGuard.Dashboard; do
  dotnet pack "$root/src/$project/$project.csproj" -c Release -o "$feed" -p:Version="$version" --nologo -v q >"$work/pack-$project.log" 2>&1 \
    || { cat "$work/pack-$project.log"; exit 1; }
done
for project in EmailGuard EmailGuard.Redis EmailGuard.AspNetCore EmailGuard.Dashboard; do
  for ext in nupkg snupkg; do
    [[ -f "$feed/$project.$version.$ext" ]] || { echo "packages: $project.$version.$ext is missing" >&2; exit 1; }
  done
  nuspec=$(unzip -p "$feed/$project.$version.nupkg" "$project.nuspec")
  for field in '<readme>README.md</readme>' '<tags>' '<repository type="git" url=' '<releaseNotes>'; do
    grep -qF "$field" <<<"$nuspec" || { echo "packages: $project's nuspec lacks $field" >&2; exit 1; }
  done
  # Every listing is read whole before grep sees it: grep -q stops reading at the first match, and under pipefail the
  # writer's broken pipe would fail the check whenever the match comes before the listing's end (it did, on CI).
  listing=$(unzip -l "$feed/$project.$version.nupkg")
  grep -q ' README.md$' <<<"$listing" || { echo "packages: $project has no README.md" >&2; exit 1; }
  # SourceLink: the symbols map the sources to the repository at this commit, also from a clone without a GitHub remote.
  unzip -p "$feed/$project.$version.snupkg" "lib/net10.0/$project.pdb" >"$work/$project.pdb"
  grep -aq 'raw.githubusercontent.com/emailguard/emailguard/' "$work/$project.pdb" \
    || { echo "packages: $project's symbols carry no SourceLink map to the repository" >&2; exit 1; }
  if [[ "$project" != EmailGuard ]]; then
    # The packages share no internals, so a sibling accepts any version of the same major: [version, next major).
    next_major="$(( ${version%%.*} + 1 )).0.0"
    grep -qF "id=\"EmailGuard\" version=\"[$version, $next_major)\"" <<<"$nuspec" \
      || { echo "packages: $project does not depend on EmailGuard [$version, $next_major)" >&2; grep dependency <<<"$nuspec" >&2; exit 1; }
  fi
done

app="$work/app"
dotnet new web -o "$app" -n QuickStart --no-restore >/dev/null
cat >"$app/nuget.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="emailguard-local" value="$feed" />
  </packageSources>
</configuration>
XML
(cd "$app" && for project in EmailGuard EmailGuard.Redis EmailGuard.AspNetCore; do
  dotnet add package "$project" --version "$version" >"$work/add-$project.log" 2>&1 || { cat "$work/add-$project.log"; exit 1; }
done)
grep -q "ProjectReference" "$app/QuickStart.csproj" && { echo "packages: the app must not reference projects" >&2; exit 1; }
# The first C# block of README.md is the quick start, pasted in as it stands.
awk '/^```csharp$/{f=1;next} /^```$/{if(f){exit}} f' "$root/README.md" >"$app/Program.cs"
dotnet build "$app" -c Release --nologo -v q >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

run_until_limited() { # $1: label, rest: extra app arguments
  local label=$1; shift
  local port; port=$(free_port)
  (cd "$app" && exec dotnet bin/Release/net10.0/QuickStart.dll --urls "http://127.0.0.1:$port" "$@") >"$work/app-$label.log" 2>&1 &
  app_pid=$!
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && break
    sleep 0.2
  done
  local first second headers
  first=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data 'email=new.user@example.com' "http://127.0.0.1:$port/signup")
  headers=$(curl -s -D - -o /dev/null -X POST --data 'email=new.user@example.com' "http://127.0.0.1:$port/signup")
  second=$(head -n1 <<<"$headers" | awk '{print $2}')
  kill "$app_pid" 2>/dev/null || true; wait "$app_pid" 2>/dev/null || true; app_pid=""
  if [[ "$first" != 200 || "$second" != 429 ]] || ! grep -qi '^retry-after: [0-9]' <<<"$headers"; then
    echo "packages: $label: expected 200 then 429 with Retry-After, got $first then $second" >&2
    echo "$headers" >&2; cat "$work/app-$label.log" >&2
    exit 1
  fi
  echo "packages: $label: 200, then 429 with $(grep -i '^retry-after' <<<"$headers" | tr -d '\r')"
}

run_until_limited in-memory
if command -v redis-server >/dev/null 2>&1; then
  redis_port=$(free_port)
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
  redis_pid=$!
  for _ in $(seq 1 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  run_until_limited redis "--Redis=127.0.0.1:$redis_port"
  keys=$(redis-cli -p "$redis_port" dbsize)
  [[ "$keys" -gt 0 ]] || { echo "packages: redis: the app wrote no counters to Redis" >&2; exit 1; }
  echo "packages: redis: $keys counters in Redis"
elif [[ "${CI:-}" == true ]]; then
  echo "packages: redis-server is missing under CI=true" >&2; exit 1
fi
rm -rf "$HOME/.nuget/packages"/emailguard*/"$version"
echo "packages: passed"
