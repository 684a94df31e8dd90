#!/usr/bin/env bash
# Documentation that compiles: the code blocks of README.md and docs/*.md, used exactly as a reader
# would copy them, against the installed package (tests-c/docs/CMakeLists.txt adds one ctest test
# per subcommand).  docs/porting.md is left to consumer.porting_snippets.  Each subcommand prints
# one summary line and exits 0 on success, 1 on failure.
#
#   docs.sh c-blocks    PREFIX WORK CC DOC...  every ```c block compiles (-Wall -Wextra -Werror);
#                                             blocks with main() are linked and run (exit 0)
#   docs.sh sh-commands PREFIX WORK DOC        the `cc ...` and `./...` lines of its ```sh blocks
#                                             run, with PKG_CONFIG_PATH set to the prefix, next
#                                             to the named C blocks (/* name.c: ... */)
#   docs.sh cmake-blocks PREFIX WORK CC DOC    each target_link_libraries line of its ```cmake
#                                             blocks, with its find_package, builds a project
set -u
CMAKE="${GOTHOOK_CMAKE:-cmake}"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
die() { echo "FAIL: $*" >&2; exit 1; }
finish() {
  echo "$*; $fails failure(s)"
  [ "$fails" -eq 0 ] || exit 1
  exit 0
}
fresh() { rm -rf "$1" && mkdir -p "$1"; }

# blocks LANG DOC OUTDIR EXT: writes each ```LANG block of DOC to OUTDIR as <doc>_NN.EXT, or as
# the file its first line names ("/* hook.c: ..."); prints the file names.
blocks() {
  local lang="$1" doc="$2" out="$3" ext="$4"
  awk -v lang="$lang" -v dir="$out" -v ext="$ext" -v base="$(basename "$doc" .md)" '
    $0 ~ "^```" lang "[ \t]*$" { n++; inside = 1; first = 1; buf = ""; next }
    /^```/ && inside {
      inside = 0
      f = sprintf("%s/%s_%02d.%s", dir, base, n, ext)
      if (match(name, /^[A-Za-z0-9_]+\.[a-z]+$/)) f = dir "/" name
      printf "%s", buf > f; close(f); print f; name = ""; next
    }
    inside {
      if (first && match($0, /^\/\* [A-Za-z0-9_]+\.[a-z]+:/)) name = substr($0, 4, RLENGTH - 4)
      first = 0; buf = buf $0 "\n"
    }
  ' "$doc"
}

do_c_blocks() {
  local prefix="$1" work="$2" cc="$3"; shift 3
  local n=0 ok=0 ran=0 doc f
  fresh "$work"
  for doc in "$@"; do
    mkdir -p "$work/$(basename "$doc" .md)"
    while read -r f; do
      n=$((n + 1))
      local obj="${f%.c}.o" log="${f%.c}.log"
      if ! "$cc" -std=c11 -Wall -Wextra -Werror -O2 -I"$prefix/include" -c "$f" -o "$obj" 2>"$log"; then
        cat "$log" >&2; fail "$(basename "$f") of $(basename "$doc") does not compile"; continue
      fi
      ok=$((ok + 1))
      grep -q '^int main(' "$f" || continue
      if ! "$cc" -o "${f%.c}" "$obj" -L"$prefix/lib" -lgothook -Wl,-rpath,"$prefix/lib" 2>"$log"; then
        cat "$log" >&2; fail "$(basename "$f") of $(basename "$doc") does not link"; continue
      fi
      local out
      if out="$("${f%.c}" 2>&1)"; then
        ran=$((ran + 1)); echo "$(basename "$f"): $out"
      else
        echo "$out" >&2; fail "$(basename "$f") of $(basename "$doc") exits with $?"
      fi
    done < <(blocks c "$doc" "$work/$(basename "$doc" .md)" c)
  done
  [ "$n" -gt 0 ] || fail "no C code block found in $*"
  finish "$ok of $n C code blocks compile against the installed gothook.h (-std=c11 -Wall -Wextra -Werror); $ran program(s) with main() linked against libgothook.so and ran successfully"
}

do_sh_commands() {
  local prefix="$1" work="$2" doc="$3" n=0 ok=0
  command -v pkg-config >/dev/null 2>&1 || die "pkg-config not found (install pkg-config)"
  fresh "$work"
  blocks c "$doc" "$work" c >/dev/null
  # The command lines (continuations joined) of every ```sh block that compile or run something.
  awk '
    /^```sh[ \t]*$/ { inside = 1; next }
    /^```/ { inside = 0; next }
    inside {
      line = $0; sub(/[ \t]+#.*$/, "", line)
      if (cont) { cmd = cmd " " line } else { cmd = line }
      cont = sub(/[ \t]*\\$/, "", cmd)
      if (!cont && cmd ~ /^(cc|\.\/)/) print cmd
    }
  ' "$doc" >"$work/commands.sh"
  export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
  unset PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR LD_LIBRARY_PATH
  local cmd
  while IFS= read -r cmd; do
    n=$((n + 1))
    echo "\$ $cmd"
    if (cd "$work" && eval "$cmd"); then ok=$((ok + 1)); else fail "command failed: $cmd"; fi
  done <"$work/commands.sh"
  [ "$n" -gt 0 ] || fail "no cc command found in the sh blocks of $doc"
  # A static recipe exports none of gothook's symbols and does not need libgothook.so.
  local so
  for so in "$work"/*.so; do
    [ -e "$so" ] || continue
    local leaked
    leaked=$(nm -D --defined-only "$so" | awk '$3 ~ /^gothook_/' | wc -l)
    [ "$leaked" = 0 ] || fail "$(basename "$so") exports $leaked gothook_ symbols"
    readelf -d "$so" | grep -q 'NEEDED.*libgothook' && fail "$(basename "$so") NEEDs libgothook.so"
  done
  finish "$ok of $n commands of the sh blocks of $(basename "$doc") ran (pkg-config $(pkg-config --version), PKG_CONFIG_PATH=$PKG_CONFIG_PATH, no LD_LIBRARY_PATH)"
}

do_cmake_blocks() {
  local prefix="$1" work="$2" cc="$3" doc="$4" n=0 ok=0
  fresh "$work"
  blocks c "$doc" "$work" c >/dev/null
  [ -f "$work/prof.c" ] || die "no C block named prof.c in $doc (the library the CMake lines link)"
  local f
  while read -r f; do
    local finds links link
    finds="$(grep '^find_package(' "$f")"
    links="$(grep '^target_link_libraries(' "$f")"
    while IFS= read -r link; do
      [ -n "$link" ] || continue
      n=$((n + 1))
      local dir="$work/project$n"
      mkdir -p "$dir"
      printf 'cmake_minimum_required(VERSION 3.16)\nproject(docs_cmake C)\nadd_library(myprofiler SHARED prof.c)\n%s\n%s\n' \
        "$finds" "$link" >"$dir/CMakeLists.txt"
      cp "$work/prof.c" "$dir/"
      if "$CMAKE" -S "$dir" -B "$dir/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" \
           -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON >"$dir/log" 2>&1 &&
         "$CMAKE" --build "$dir/build" >>"$dir/log" 2>&1; then
        ok=$((ok + 1)); echo "ok: $link"
      else
        cat "$dir/log" >&2; fail "project with: $link"
      fi
    done <<<"$links"
  done < <(blocks cmake "$doc" "$work" cmake)
  [ "$n" -gt 0 ] || fail "no target_link_libraries line in the cmake blocks of $doc"
  finish "$ok of $n CMake recipes of $(basename "$doc") (find_package + one target_link_libraries line each) build prof.c into a library"
}

cmd="${1:-}"; shift || true
case "$cmd" in
  c-blocks) do_c_blocks "$@" ;;
  sh-commands) do_sh_commands "$@" ;;
  cmake-blocks) do_cmake_blocks "$@" ;;
  *) echo "usage: $0 c-blocks|sh-commands|cmake-blocks ..." >&2; exit 2 ;;
esac
