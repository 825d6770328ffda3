#!/usr/bin/env bash
# Install what the JVM host (library, CLI, JVM tests) needs from Debian, idempotently:
# a JDK (OpenJDK 17), kotlin 1.3.31 (Kotlin language level 1.3), JNA 5.13 with its native
# dispatch library, JUnit 4 and Hamcrest. Called by .ci/setup; android_demo/speak calls it on first
# use. Nothing here can build the Android app (no Android SDK on these machines): see README.md.
set -euo pipefail
PACKAGES=(openjdk-17-jdk-headless kotlin libjna-java libjna-jni junit4 libhamcrest-java)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A JDK may come from elsewhere (the machine's own OpenJDK): then do not ask for Debian's.
if command -v javac >/dev/null 2>&1; then
  missing=("${missing[@]/openjdk-17-jdk-headless}")
fi
todo=()
for p in "${missing[@]}"; do [ -n "$p" ] && todo+=("$p"); done
if [ ${#todo[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "error: the JVM host needs the Debian packages ${todo[*]}. Run: sudo apt-get install -y ${todo[*]}" >&2
  exit 2
fi
echo "android_demo/setup.sh: installing ${todo[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${todo[@]}" >/dev/null
