#!/usr/bin/env bash
# Install the Debian packages the test suite starts for real (PostgreSQL, Redis, OpenSSH,
# GnuPG, OpenSSL, and Chromium with fonts for the dashboard's browser tests). Runs apt-get only for what is missing, and only as root; otherwise it
# says what to install and the tests that need it are skipped (or fail under CI).
set -euo pipefail

packages=(postgresql redis-server openssh-server openssh-client gnupg openssl chromium
          fonts-liberation fonts-dejavu-core)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: missing Debian packages: ${missing[*]}" >&2
  echo "system-deps: install them (sudo apt-get install ${missing[*]}) to run every test" >&2
  exit 0
fi
echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts the packaged services on install; the tests start their own on free ports.
for service in postgresql redis-server ssh; do
  (command -v service >/dev/null && service "$service" stop >/dev/null 2>&1) || true
done
