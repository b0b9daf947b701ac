# Sourced by .ci/run: the other runtimes the test suite runs on. Their
# binaries come from npm's per-platform packages, installed once into
# .ci/.cache/<name> (the `node`, `deno` and `bun` wrapper packages only pick
# one of these in an install script, which npm 11 does not run by default).
NODE_VERSIONS=("22.23.3" "24.22.3")
DENO_VERSION="2.9.6"
BUN_VERSION="1.4.5"
CACHE=.ci/.cache

platform=$(node -p 'process.platform')
arch=$(node -p 'process.arch')

# runtime_bin <cache name> <package@version> <path of the binary in the package>
runtime_bin() {
  local dir="$CACHE/$1" pkg="$2" bin="$CACHE/$1/node_modules/${2%@*}/$3"
  if [ ! -x "$bin" ]; then
    npm install --prefix "$dir" "$pkg" --no-save --no-package-lock --no-audit --no-fund \
      --loglevel=error >&2 || return 1
    chmod +x "$bin"
  fi
  echo "$bin"
}

node_bin() {
  runtime_bin "node$1" "node-$platform-$arch@$1" bin/node
}

deno_bin() {
  local suffix=""
  [ "$platform" = linux ] && suffix=-glibc
  runtime_bin deno "@deno/$platform-$arch$suffix@$DENO_VERSION" deno
}

bun_bin() {
  local a="$arch"
  [ "$a" = arm64 ] && a=aarch64
  runtime_bin bun "@oven/bun-$platform-$a@$BUN_VERSION" bin/bun
}

# vitest_on <node binary> <json report>: the whole suite on that Node; its
# child processes (process.execPath) and any `node` on PATH are that Node too.
vitest_on() {
  local bin="$1" report="$2"
  PATH="$(dirname "$bin"):$PATH" "$bin" node_modules/vitest/vitest.mjs run \
    --reporter=dot --reporter=json --outputFile.json="$report"
}
