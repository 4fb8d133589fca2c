#!/usr/bin/env bash
# Debian packages the tests need: the PostgreSQL server (the e2e tier's metadata database),
# Chromium (the UI test drives it through Playwright, which never downloads a browser),
# patch (tests/controlplane/build.sh patches kwok) and dumb-init (the Airflow image's PID 1,
# under which farflow.local runs every container that, like FarFlow's, sets no command).
set -euo pipefail

packages=(postgresql chromium patch dumb-init)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "installing Debian packages: ${missing[*]}"
sudo=()
[[ $(id -u) -eq 0 ]] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
apt=("${sudo[@]}" apt-get -o Acquire::Retries=5 -qq)
"${apt[@]}" update
"${apt[@]}" install -y --no-install-recommends "${missing[@]}"
