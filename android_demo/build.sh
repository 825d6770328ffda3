#!/usr/bin/env bash
# Build the JVM library and CLI (and the JVM tests) with Debian's kotlinc, and run the JVM tests.
#
#   android_demo/build.sh            build build/kokoro-litert-jvm.jar (when a source changed)
#   android_demo/build.sh test [-Dkokoro.goldens=DIR -Dkokoro.bundles=DIR ...] [TestClass ...]
#                                    also build build/kokoro-litert-tests.jar and run JUnit 4 on it
#
# Needs what setup.sh installs (openjdk, kotlin 1.3.31, libjna-java, junit4). No Gradle: the
# Android Gradle module (app/) cannot be built on these machines; see README.md.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
BUILD="$HERE/build"
JARS=/usr/share/java
DEPS="$JARS/jna.jar:$JARS/kotlin-stdlib.jar"
TEST_DEPS="$JARS/junit4.jar:$JARS/hamcrest-core.jar"
mkdir -p "$BUILD"

for tool in java kotlinc; do
  command -v "$tool" >/dev/null || { echo "error: $tool is not installed. Run android_demo/setup.sh first." >&2; exit 2; }
done
for jar in "$JARS/jna.jar" "$JARS/kotlin-stdlib.jar"; do
  [ -f "$jar" ] || { echo "error: $jar is missing. Run android_demo/setup.sh first." >&2; exit 2; }
done

# compile NAME "SOURCE DIRS" CLASSPATH: build/NAME.jar, rebuilt only when its sources' (or its
# classpath's own built jars') hash changes.
compile() {
  local name="$1" dirs="$2" cp="$3" sources stamp
  # shellcheck disable=SC2086
  sources=$(cd "$HERE" && find $dirs -name '*.kt' | LC_ALL=C sort)
  # the stamps of jars this build compiles against too: a changed library rebuilds its tests
  stamp=$( (cd "$HERE" && cat $sources; echo "$cp"
            for jar in ${cp//:/ }; do cat "${jar%.jar}.stamp" 2>/dev/null || true; done) | sha256sum | cut -c1-16)
  if [ -f "$BUILD/$name.jar" ] && [ "$(cat "$BUILD/$name.stamp" 2>/dev/null)" = "$stamp" ]; then
    return 0
  fi
  echo "building $name.jar ($(echo "$sources" | wc -l) Kotlin files)..." >&2
  rm -f "$BUILD/$name.jar" "$BUILD/$name.stamp"
  # shellcheck disable=SC2086
  (cd "$HERE" && kotlinc -nowarn -jvm-target 1.8 -cp "$cp" -d "$BUILD/$name.jar" $sources 2>&1 \
     | grep -v "^OpenJDK 64-Bit Server VM warning" >&2) || true
  [ -f "$BUILD/$name.jar" ] || { echo "error: compiling $name failed (see above)." >&2; exit 1; }
  echo "$stamp" > "$BUILD/$name.stamp"
}

compile kokoro-litert-jvm "lib/src/main/kotlin desktop/src/main/kotlin" "$DEPS"

if [ "${1:-}" = "test" ]; then
  shift
  compile kokoro-litert-tests "desktop/src/test/kotlin" "$DEPS:$TEST_DEPS:$BUILD/kokoro-litert-jvm.jar"
  props=() classes=()
  for a in "$@"; do
    case "$a" in -D*) props+=("$a") ;; *) classes+=("$a") ;; esac
  done
  if [ ${#classes[@]} -eq 0 ]; then
    while IFS= read -r f; do classes+=("kokoro.litert.$(basename "$f" .kt)"); done \
      < <(find "$HERE/desktop/src/test/kotlin" -name '*Test.kt' | LC_ALL=C sort)
  fi
  exec java "${props[@]}" -cp "$BUILD/kokoro-litert-tests.jar:$BUILD/kokoro-litert-jvm.jar:$DEPS:$TEST_DEPS" \
    org.junit.runner.JUnitCore "${classes[@]}"
fi
