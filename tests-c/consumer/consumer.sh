#!/usr/bin/env bash
# Consumer tests of the installed gothook package (tests-c/consumer/CMakeLists.txt adds one ctest
# test per subcommand).  Every subcommand prints one summary line and exits 0 on success,
# 1 on failure, 77 when a tool it needs is missing.
#
#   consumer.sh install  BUILD PREFIX SRCDIR      install the build tree and check the layout
#   consumer.sh cmake    PREFIX WORK CC CXX       find_package project: C/C++ x shared/static
#   consumer.sh moved    BUILD WORK CC CXX        install, move the prefix, cmake + pkg-config
#   consumer.sh version  PREFIX WORK              version requests: compatible or refused
#   consumer.sh pkgconfig BUILD WORK CC           plain make through pkg-config, moved prefix
#   consumer.sh embed    PREFIX WORK CC CXX       .a embedded in a -z defs, --exclude-libs .so
#   consumer.sh symbols  PREFIX WORK CC           nm checks of libgothook.so and libgothook.a
#   consumer.sh header   PREFIX COMPILER STD      gothook.h alone, -Wall -Wextra -pedantic -Werror
#   consumer.sh layout   PREFIX CC                struct layout asserts, host + LP64 cross gcc
#   consumer.sh musl     PREFIX WORK              the same libgothook.a linked by musl-gcc
#   consumer.sh builtins PREFIX WORK CC           libgothook.a ahead of libgcc: __float128 program
#   consumer.sh snippets PREFIX WORK DOC CXX      every ```cpp block of DOC compiles
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CMAKE="${GOTHOOK_CMAKE:-cmake}"   # the cmake that configured the build (set by CMakeLists.txt)
fails=0

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
die() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
need() { command -v "$1" >/dev/null 2>&1 || skip "$1 not found"; }
finish() { # summary line
  echo "$*; $fails failure(s)"
  [ "$fails" -eq 0 ] || exit 1
  exit 0
}
# run LOG CMD...: run quietly, show the log on failure
run() {
  local log="$1"; shift
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    return 1
  fi
}
fresh() { rm -rf "$1" && mkdir -p "$1"; }

# A CMake invocation that sees only the prefix we give it (no package registry, no
# system-wide gothook).
cmake_isolated() {
  "$CMAKE" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF \
        -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON "$@"
}

# ---------------------------------------------------------------------------------------------
do_install() {
  local build="$1" prefix="$2" src="$3"
  need readelf
  rm -rf "$prefix" && mkdir -p "$(dirname "$prefix")"
  run "$prefix.log" "$CMAKE" --install "$build" --prefix "$prefix" || die "cmake --install failed"
  local lib="$prefix/lib" n=0
  for f in include/gothook.h lib/libgothook.a lib/cmake/gothook/gothookConfig.cmake \
           lib/cmake/gothook/gothookConfigVersion.cmake lib/pkgconfig/gothook.pc; do
    [ -f "$prefix/$f" ] || fail "missing $f"
    n=$((n + 1))
  done
  cmp -s "$prefix/include/gothook.h" "$src/include/gothook.h" || fail "installed header differs from include/gothook.h"
  # The real file, its SONAME link and the development link, checked against readelf.
  local real
  real="$(cd "$lib" && ls libgothook.so.*.*.* 2>/dev/null)"
  [ "$(echo "$real" | wc -w)" = 1 ] || die "expected one libgothook.so.X.Y.Z, found: $real"
  [ -f "$lib/$real" ] && [ ! -L "$lib/$real" ] || fail "$real is not a regular file"
  local soname
  soname="$(readelf -d "$lib/$real" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')"
  [ -n "$soname" ] || die "$real has no SONAME"
  case "$real" in "$soname".*) ;; *) fail "SONAME $soname is not a prefix of $real" ;; esac
  [ -L "$lib/$soname" ] || fail "no symlink named after the SONAME ($soname)"
  [ "$(readlink "$lib/$soname")" = "$real" ] || fail "$soname -> $(readlink "$lib/$soname"), expected $real (relative)"
  [ -L "$lib/libgothook.so" ] || fail "libgothook.so is not a symlink"
  [ "$(readlink "$lib/libgothook.so")" = "$soname" ] || fail "libgothook.so -> $(readlink "$lib/libgothook.so"), expected $soname"
  [ "$(readlink -f "$lib/libgothook.so")" = "$(readlink -f "$lib/$real")" ] || fail "libgothook.so does not resolve to $real"
  # 0.x: the SONAME carries MAJOR.MINOR of the real name.
  local ver="${real#libgothook.so.}"
  [ "$soname" = "libgothook.so.${ver%.*}" ] || fail "SONAME $soname does not carry MAJOR.MINOR of $ver"
  finish "installed $n package files + $real (SONAME $soname, links $soname and libgothook.so) into $prefix"
}

# ---------------------------------------------------------------------------------------------
# cmake_project PREFIX WORK CC CXX: configure, build and run the find_package project.
cmake_project() {
  local prefix="$1" work="$2" cc="$3" cxx="$4"
  fresh "$work"
  run "$work/configure.log" cmake_isolated -S "$HERE/project" -B "$work/build" \
      -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" \
      -DCMAKE_BUILD_TYPE=Release || { fail "configure against $prefix"; return; }
  grep -q "found in $prefix/lib/cmake/gothook" "$work/configure.log" ||
    fail "find_package did not use $prefix: $(grep 'gothook' "$work/configure.log")"
  run "$work/build.log" "$CMAKE" --build "$work/build" -j2 || { fail "build against $prefix"; return; }
  local shared static
  shared="$(sed -n 's/^shared=//p' "$work/build/expected.txt")"
  static="$(sed -n 's/^static=//p' "$work/build/expected.txt")"
  for app in app_c_shared app_cpp_shared app_c_static app_cpp_static; do
    local expect="$shared"
    case "$app" in *static) expect="$static" ;; esac
    if "$work/build/$app" "$expect" >"$work/$app.out" 2>&1; then
      ran=$((ran + 1))
    else
      cat "$work/$app.out" >&2
      fail "$app"
    fi
  done
  # The shared apps must need the library by its SONAME, the static ones not at all.
  readelf -d "$work/build/app_c_shared" | grep -q "NEEDED.*\[libgothook\.so\.[0-9]*\.[0-9]*\]" ||
    fail "app_c_shared does not NEED libgothook.so.X.Y"
  readelf -d "$work/build/app_c_static" | grep -q "NEEDED.*libgothook" && fail "app_c_static NEEDs libgothook"
}

do_cmake() {
  local prefix="$1" work="$2" cc="$3" cxx="$4"
  ran=0
  cmake_project "$prefix" "$work" "$cc" "$cxx"
  [ -f "$work/app_c_shared.out" ] && sed -n '$p' "$work/app_c_shared.out"
  [ -f "$work/app_cpp_static.out" ] && sed -n '$p' "$work/app_cpp_static.out"
  finish "find_package(gothook 0.2 CONFIG REQUIRED): $ran of 4 consumers (C, C++ x gothook::gothook, gothook::gothook_static) built and passed"
}

# ---------------------------------------------------------------------------------------------
# Install into WORK/a, move it to WORK/b; no file of the moved tree may name WORK/a.
install_and_move() {
  local build="$1" work="$2"
  fresh "$work"
  run "$work/install.log" "$CMAKE" --install "$build" --prefix "$work/a" || die "cmake --install failed"
  mv "$work/a" "$work/b"
  local stale
  stale="$(grep -rlF "$work/a" "$work/b" 2>/dev/null)"
  [ -z "$stale" ] || fail "moved tree still names the old prefix: $stale"
}

do_moved() {
  local build="$1" work="$2" cc="$3" cxx="$4"
  ran=0
  install_and_move "$build" "$work"
  cmake_project "$work/b" "$work/cmake" "$cc" "$cxx"
  finish "prefix moved after install: no installed file names the old prefix; find_package from the moved prefix: $ran of 4 consumers passed"
}

# ---------------------------------------------------------------------------------------------
do_version() {
  local prefix="$1" work="$2" accepted=0 refused=0
  local installed
  installed="$(sed -n 's/^set(PACKAGE_VERSION "\(.*\)")/\1/p' "$prefix/lib/cmake/gothook/gothookConfigVersion.cmake")"
  [ -n "$installed" ] || die "no PACKAGE_VERSION in gothookConfigVersion.cmake"
  local major="${installed%%.*}" rest="${installed#*.}"
  local minor="${rest%%.*}"
  # Requests derived from the installed version: same MAJOR.MINOR is accepted; the next minor,
  # the previous minor and the next major are refused (0.x: compatible only within a minor).
  local ok_reqs=("$major.$minor" "$installed")
  local bad_reqs=("$major.$((minor + 1))" "$((major + 1)).0")
  [ "$minor" -gt 0 ] && bad_reqs+=("$major.$((minor - 1))")
  fresh "$work"
  local i=0
  for req in "${ok_reqs[@]}"; do
    i=$((i + 1))
    if run "$work/ok$i.log" cmake_isolated -S "$HERE/version" -B "$work/ok$i" \
         -DCMAKE_PREFIX_PATH="$prefix" -DGOTHOOK_REQUEST="$req"; then
      accepted=$((accepted + 1))
    else
      fail "request $req refused by $installed"
    fi
  done
  for req in "${bad_reqs[@]}"; do
    i=$((i + 1))
    if cmake_isolated -S "$HERE/version" -B "$work/bad$i" -DCMAKE_PREFIX_PATH="$prefix" \
         -DGOTHOOK_REQUEST="$req" >"$work/bad$i.log" 2>&1; then
      fail "request $req accepted by $installed"
    elif grep -q "version: $installed" "$work/bad$i.log"; then
      refused=$((refused + 1))  # refused for its version, not because nothing was found
    else
      cat "$work/bad$i.log" >&2
      fail "request $req failed for another reason than the version"
    fi
  done
  finish "installed $installed: accepted ${ok_reqs[*]} ($accepted), refused ${bad_reqs[*]} for their version ($refused)"
}

# ---------------------------------------------------------------------------------------------
do_pkgconfig() {
  local build="$1" work="$2" cc="$3"
  command -v pkg-config >/dev/null 2>&1 || skip "pkg-config not found (install pkgconf)"
  need make
  install_and_move "$build" "$work"
  local pc="$work/b/lib/pkgconfig" ran=0
  export PKG_CONFIG_PATH="$pc"
  unset PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR
  local flags
  flags="$(pkg-config --cflags --libs gothook)" || die "pkg-config does not find gothook in $pc"
  case "$flags" in *"$work/b"*) ;; *) fail "pkg-config flags do not point into the moved prefix: $flags" ;; esac
  case "$flags" in *"$work/a"*) fail "pkg-config flags name the old prefix: $flags" ;; esac
  mkdir -p "$work/make"
  run "$work/make.log" make -C "$work/make" -f "$HERE/make/Makefile" SRC="$HERE" CC="$cc" ||
    die "make through pkg-config failed"
  local libdir
  libdir="$(pkg-config --variable=libdir gothook)"
  if "$work/make/app_shared" "$libdir/libgothook.so" >"$work/shared.out" 2>&1; then
    ran=$((ran + 1))
  else
    cat "$work/shared.out" >&2; fail "app_shared"
  fi
  if "$work/make/app_static" "$(pkg-config --variable=staticlib gothook)" >"$work/static.out" 2>&1; then
    ran=$((ran + 1))
  else
    cat "$work/static.out" >&2; fail "app_static"
  fi
  finish "pkg-config $(pkg-config --version) + make, prefix moved after install: $ran of 2 C consumers (shared -lgothook, static libgothook.a) built and passed, version $(pkg-config --modversion gothook)"
}

# ---------------------------------------------------------------------------------------------
# nm_exports LIB: dynamic symbols LIB defines (names without @version)
nm_exports() { nm -D --defined-only "$1" | awk 'NF == 3 { sub(/@.*/, "", $3); print $3 }' | sort -u; }

do_embed() {
  local prefix="$1" work="$2" cc="$3" cxx="$4"
  need nm; need readelf
  fresh "$work"
  local archive="$prefix/lib/libgothook.a" inc="$prefix/include"
  local ldflags=(-shared -fPIC -fvisibility=hidden -O2 -I"$inc" "$HERE/embed/embed.cpp" "$archive")
  run "$work/embed.log" "$cxx" "${ldflags[@]}" -Wl,-z,defs -Wl,--exclude-libs,ALL -o "$work/libembed.so" ||
    die "linking libgothook.a into a shared library with -z defs --exclude-libs,ALL failed"
  local exports leaked
  exports="$(nm_exports "$work/libembed.so")"
  leaked="$(echo "$exports" | grep -c '^gothook_')"
  echo "$exports" | grep -qx embed_install || fail "nm -D does not list embed_install (check broken?)"
  [ "$leaked" = 0 ] || fail "libembed.so exports $leaked gothook_ symbols: $(echo "$exports" | grep '^gothook_' | head -3)"
  readelf -d "$work/libembed.so" | grep -q 'NEEDED.*libgothook' && fail "libembed.so NEEDs libgothook"
  # Control: the same link without --exclude-libs does export gothook_ (so the check can fail).
  run "$work/control.log" "$cxx" "${ldflags[@]}" -Wl,-z,defs -o "$work/libcontrol.so" || die "control link failed"
  local control
  control="$(nm_exports "$work/libcontrol.so" | grep -c '^gothook_')"
  [ "$control" -gt 0 ] || fail "control without --exclude-libs exports no gothook_ symbol"
  run "$work/host.log" "$cc" -O2 -o "$work/host" "$HERE/embed/host.c" -ldl || die "host build failed"
  local out
  if out="$("$work/host" "$work/libembed.so" 2>&1)"; then :; else echo "$out" >&2; fail "host"; fi
  echo "$out" | tail -n 1
  finish "libgothook.a embedded in a C++ shared library linked with -z defs --exclude-libs,ALL: exports $(echo "$exports" | wc -l) symbol(s), $leaked gothook_ (control without --exclude-libs: $control); dlopened and hooked the host"
}

# ---------------------------------------------------------------------------------------------
# Forbidden imports: the allocator, dlsym/dlerror/dladdr, stdio, getenv, unwinding.
FORBIDDEN_ALLOC='^(malloc|calloc|realloc|reallocarray|free|posix_memalign|aligned_alloc|memalign|valloc|pvalloc|malloc_usable_size|strdup|strndup|asprintf|vasprintf|_Znwm|_Znam|_ZdlPv|_ZdaPv|__rust_alloc|__rust_dealloc|__rust_realloc|__rust_alloc_zeroed)$'
FORBIDDEN_DL='^(dlsym|dlvsym|dlerror|dladdr|dladdr1|dlinfo)$'
FORBIDDEN_STDIO='^(_?_?(v?[fsd]?n?printf|v?[fs]?scanf)(_chk)?|puts|fputs|fputc|putc|putchar|fwrite|fread|fopen|fopen64|fdopen|fclose|fflush|fgets|fgetc|getc|perror|setvbuf|setbuf|stdin|stdout|stderr|_IO_.*|getenv|secure_getenv)$'
FORBIDDEN_UNWIND='^(_Unwind_.*|rust_eh_personality|__gcc_personality_v0|__gxx_personality_v0|__cxa_throw|__cxa_begin_catch|__cxa_allocate_exception|_ZSt9terminatev)$'

# check_imports WHAT FILE-WITH-SYMBOLS: counts forbidden names; prints them
check_imports() {
  local what="$1" list="$2" bad=0 cls re
  for cls in ALLOC DL STDIO UNWIND; do
    re="FORBIDDEN_$cls"
    local hits
    hits="$(grep -E "${!re}" "$list" | tr '\n' ' ')"
    if [ -n "$hits" ]; then
      echo "$what imports $cls symbols: $hits" >&2
      bad=$((bad + 1))
    fi
  done
  return "$bad"
}

do_symbols() {
  local prefix="$1" work="$2" cc="$3"
  need nm; need readelf
  fresh "$work"
  local so="$prefix/lib/libgothook.so" a="$prefix/lib/libgothook.a" hdr="$prefix/include/gothook.h"
  # Shared library imports.
  nm -D --undefined-only "$so" | awk '{ sub(/@.*/, "", $NF); print $NF }' | sort -u >"$work/so.undef"
  grep -qx dl_iterate_phdr "$work/so.undef" || fail "libgothook.so does not import dl_iterate_phdr (nm parse broken?)"
  check_imports libgothook.so "$work/so.undef" || fail "libgothook.so has forbidden imports"
  # No library that brings unwinding or an allocator wrapper.
  readelf -d "$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' >"$work/so.needed"
  grep -E 'libgcc_s|libstdc\+\+|libunwind' "$work/so.needed" && fail "libgothook.so NEEDs an unwinder"
  # Shared library exports: exactly the functions the installed header declares.
  nm_exports "$so" >"$work/so.exports"
  grep -v '^gothook_' "$work/so.exports" >"$work/so.other"
  [ -s "$work/so.other" ] && fail "libgothook.so exports non-gothook_ symbols: $(head -5 "$work/so.other" | tr '\n' ' ')"
  # Function declarations start in column 0 (comments are indented): "<type> gothook_x(".
  grep -E '^[A-Za-z].*[ *]gothook_[a-z0-9_]+\(' "$hdr" |
    sed -E 's/^.*[ *](gothook_[a-z0-9_]+)\(.*$/\1/' | sort -u >"$work/h.functions"
  [ -s "$work/h.functions" ] || fail "no function declarations found in $hdr (parse broken?)"
  if ! diff "$work/h.functions" <(grep '^gothook_' "$work/so.exports") >"$work/diff" 2>&1; then
    fail "header declarations and library exports differ (< header only, > library only): $(tr '\n' ' ' <"$work/diff")"
  fi
  # Static archive: symbols left undefined after the archive's own definitions.
  nm -g --defined-only "$a" 2>/dev/null | awk 'NF == 3 { print $3 }' | sort -u >"$work/a.defined"
  nm -u "$a" 2>/dev/null | awk 'NF == 2 && $1 ~ /^[Uw]$/ { print $2 }' | sort -u >"$work/a.undef.all"
  comm -23 "$work/a.undef.all" "$work/a.defined" >"$work/a.undef"
  grep -qx dl_iterate_phdr "$work/a.undef" || fail "libgothook.a does not import dl_iterate_phdr (nm parse broken?)"
  check_imports libgothook.a "$work/a.undef" || fail "libgothook.a has forbidden imports"
  # Control: a library that does use them must be flagged (so the checks can fail).
  printf '#include <stdio.h>\n#include <stdlib.h>\n#include <dlfcn.h>\nvoid *f(void){void*p=malloc(8);printf("%%p",p);free(p);return dlsym(RTLD_DEFAULT,"x");}\n' >"$work/control.c"
  run "$work/control.log" "$cc" -shared -fPIC -o "$work/libcontrol.so" "$work/control.c" -ldl || die "control build failed"
  nm -D --undefined-only "$work/libcontrol.so" | awk '{ sub(/@.*/, "", $NF); print $NF }' | sort -u >"$work/control.undef"
  local flagged=0
  check_imports control "$work/control.undef" 2>/dev/null || flagged=$?
  [ "$flagged" -ge 3 ] || fail "control library (malloc, printf, dlsym) flagged in $flagged of 3 classes"
  finish "libgothook.so imports $(wc -l <"$work/so.undef") symbols ($(tr '\n' ' ' <"$work/so.undef" | sed 's/ $//')), none allocator/dl*/stdio/unwind, NEEDs $(tr '\n' ' ' <"$work/so.needed" | sed 's/ $//'); exports $(wc -l <"$work/so.exports") symbols = the $(wc -l <"$work/h.functions") functions gothook.h declares; libgothook.a leaves $(wc -l <"$work/a.undef") undefined, none forbidden; control flagged in $flagged classes"
}

# ---------------------------------------------------------------------------------------------
do_header() {
  local prefix="$1" compiler="$2" std="$3" src
  case "$std" in c++*|gnu++*) src="$HERE/header/alone.cpp" ;; *) src="$HERE/header/alone.c" ;; esac
  local out verdict="compiles"
  if ! out="$("$compiler" -std="$std" -Wall -Wextra -pedantic -Werror -I"$prefix/include" -c "$src" -o /dev/null 2>&1)"; then
    echo "$out" >&2
    fail "gothook.h does not compile alone as $std"
    verdict="does NOT compile"
  fi
  finish "installed gothook.h $verdict alone ($(basename "$src")) as $std with -Wall -Wextra -pedantic -Werror ($("$compiler" --version | head -n 1))"
}

# ---------------------------------------------------------------------------------------------
do_layout() {
  local prefix="$1" cc="$2"
  local hdr="$prefix/include/gothook.h" layout="$HERE/header/layout.c"
  # Every struct of the header has its LAYOUT_STRUCT line.
  local structs missing="" nstructs=0
  structs="$(sed -n 's/^typedef struct \([a-z0-9_]*\) {.*/\1/p' "$hdr")"
  for s in $structs; do
    nstructs=$((nstructs + 1))
    grep -q "^LAYOUT_STRUCT($s," "$layout" || missing="$missing $s"
  done
  [ "$nstructs" -gt 0 ] || fail "no typedef struct found in $hdr (parse broken?)"
  [ -z "$missing" ] || fail "structs without layout asserts in layout.c:$missing"
  local asserts compilers=0 names=""
  asserts=$(( $(grep -c '^LAYOUT_STRUCT(' "$layout") * 2 + $(grep -c '^LAYOUT_FIELD(' "$layout") * 2 + $(grep -c '^_Static_assert' "$layout") ))
  for c in "$cc" aarch64-linux-gnu-gcc riscv64-linux-gnu-gcc powerpc64le-linux-gnu-gcc; do
    command -v "$c" >/dev/null 2>&1 || continue
    local out
    if out="$("$c" -std=c11 -Wall -Wextra -pedantic -Werror -I"$prefix/include" -c "$layout" -o /dev/null 2>&1)"; then
      compilers=$((compilers + 1)); names="$names $(basename "$c")"
    else
      echo "$out" >&2; fail "layout asserts fail with $c"
    fi
  done
  # ILP32 targets: the header itself must still compile.
  local ilp32=0
  for c in i686-linux-gnu-gcc arm-linux-gnueabihf-gcc; do
    command -v "$c" >/dev/null 2>&1 || continue
    if "$c" -std=c11 -Wall -Wextra -pedantic -Werror -I"$prefix/include" -c "$HERE/header/alone.c" -o /dev/null; then
      ilp32=$((ilp32 + 1)); names="$names $(basename "$c")(header)"
    else
      fail "gothook.h does not compile with $c"
    fi
  done
  finish "$nstructs structs, $asserts _Static_asserts (sizes, alignments, offsets, field sizes) hold with $compilers LP64 compiler(s); header compiles on $ilp32 ILP32 target(s):$names"
}

# ---------------------------------------------------------------------------------------------
# One archive for glibc and musl: the installed libgothook.a (built for the host's glibc target)
# linked into a musl program runs the same consumer checks there.
do_musl() {
  local prefix="$1" work="$2"
  command -v musl-gcc >/dev/null 2>&1 || skip "musl-gcc not found (install musl-tools)"
  fresh "$work"
  run "$work/build.log" musl-gcc -std=c11 -O2 -I"$prefix/include" -DGOTHOOK_EXPECT_SHARED=0 \
      -DGOTHOOK_PKG_VERSION="\"$(sed -n 's/^Version: //p' "$prefix/lib/pkgconfig/gothook.pc")\"" \
      -o "$work/app_musl" "$HERE/project/app.c" "$prefix/lib/libgothook.a" || die "musl-gcc link failed"
  readelf -l "$work/app_musl" | grep -q 'ld-musl' || fail "app_musl does not use the musl loader"
  local out
  if out="$("$work/app_musl" "$prefix/lib/libgothook.a" 2>&1)"; then :; else echo "$out" >&2; fail "app_musl"; fi
  echo "$out" | tail -n 1
  finish "installed libgothook.a linked by musl-gcc (interpreter $(readelf -l "$work/app_musl" | sed -n 's/.*interpreter: \(.*\)]/\1/p')) passed the static consumer checks"
}

# ---------------------------------------------------------------------------------------------
# The archive comes first on a link line, before libgcc: a program using compiler builtins
# (__float128 arithmetic: __subtf3, __multf3, ...) must still link and run, i.e. no member the
# archive offers for them may need Rust's unwinder (rust_eh_personality).
do_builtins() {
  local prefix="$1" work="$2" cc="$3"
  fresh "$work"
  cat >"$work/f128.c" <<'SRC'
#include <gothook.h>
#include <stdio.h>
volatile __float128 a = 7, b = 2;
int main(void) {
  __float128 c = (a - b) * b / a + a;
  printf("%s: (7-2)*2/7+7 = %d\n", gothook_version(), (int)c);
  return (int)c == 8 ? 0 : 1;
}
SRC
  run "$work/link.log" "$cc" -O2 -I"$prefix/include" -o "$work/f128" "$work/f128.c" "$prefix/lib/libgothook.a" ||
    die "a __float128 program does not link with libgothook.a ahead of libgcc"
  local out
  out="$("$work/f128" 2>&1)" || { echo "$out" >&2; fail "f128 program"; }
  echo "$out"
  finish "a C program using __float128 arithmetic links libgothook.a ahead of libgcc and runs"
}

# ---------------------------------------------------------------------------------------------
# The code blocks of a guide (docs/porting.md) use the real API: each ```cpp block is one
# translation unit compiled against the installed header as C++11 with warnings as errors.
do_snippets() {
  local prefix="$1" work="$2" doc="$3" cxx="$4" n=0 ok=0
  fresh "$work"
  awk -v dir="$work" '
    /^```cpp[ \t]*$/ { n++; f = sprintf("%s/snippet%02d.cpp", dir, n); inside = 1; next }
    /^```/ && inside { inside = 0; close(f); next }
    inside { print > f }
  ' "$doc"
  for f in "$work"/snippet*.cpp; do
    [ -e "$f" ] || break
    n=$((n + 1))
    if "$cxx" -std=c++11 -Wall -Wextra -Werror -I"$prefix/include" -c "$f" -o "${f%.cpp}.o" 2>"${f%.cpp}.log"; then
      ok=$((ok + 1))
    else
      cat "${f%.cpp}.log" >&2; fail "$(basename "$f") of $(basename "$doc") does not compile"
    fi
  done
  [ "$n" -gt 0 ] || fail "no cpp code blocks found in $doc"
  finish "$ok of $n C++ code blocks of $(basename "$doc") compile against the installed gothook.h (-std=c++11 -Wall -Wextra -Werror)"
}

cmd="${1:-}"; shift || true
case "$cmd" in
  install) do_install "$@" ;;
  cmake) do_cmake "$@" ;;
  moved) do_moved "$@" ;;
  version) do_version "$@" ;;
  pkgconfig) do_pkgconfig "$@" ;;
  embed) do_embed "$@" ;;
  symbols) do_symbols "$@" ;;
  header) do_header "$@" ;;
  layout) do_layout "$@" ;;
  musl) do_musl "$@" ;;
  builtins) do_builtins "$@" ;;
  snippets) do_snippets "$@" ;;
  *) echo "usage: $0 install|cmake|moved|version|pkgconfig|embed|symbols|header|layout|musl|builtins|snippets ..." >&2; exit 2 ;;
esac
