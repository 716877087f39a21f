#!/usr/bin/env bash
# The house style in .editorconfig, checked the way an editor applies it: whitespace, then the style rules set to
# warning. Prints what to run to fix it.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! dotnet format whitespace EmailGuard.sln --verify-no-changes -v q; then
  echo "format: whitespace differs from .editorconfig; run 'dotnet format whitespace EmailGuard.sln'" >&2
  exit 1
fi
if ! dotnet format style EmailGuard.sln --verify-no-changes --severity warn -v q; then
  echo "format: style rules in .editorconfig are broken; run 'dotnet format style EmailGuard.sln --severity warn'" >&2
  exit 1
fi
echo "format: clean"
