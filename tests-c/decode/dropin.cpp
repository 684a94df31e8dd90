// The drop-in for a profiler's parseDynamicSection: a miniature code cache (the shape of
// async-profiler's CodeCache: add(name, addr, size) and addImport(slot, name)) filled by a
// parseDynamicSection whose body is a handful of gothook calls, checked against readelf of libc
// and of two fixtures.  gothook's own work runs under the allocation guard; the cache's
// allocations (it copies names, like the real one) happen outside it.
#include <dlfcn.h>
#include <link.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "gothook.h"
#include "gothook_test_guard.h"
#include "gothook_test_util.h"

namespace {

class CodeCache {
 public:
  struct Blob {
    std::string name;
    const void* start;
    size_t size;
  };
  struct Import {
    void** slot;
    std::string name;
  };

  explicit CodeCache(std::string lib_name) : lib_name_(std::move(lib_name)) {}

  void add(const char* name, const void* start, size_t size) {
    blobs_.push_back(Blob{name, start, size});
  }
  void addImport(void** slot, const char* name) { imports_.push_back(Import{slot, name}); }

  void setLibName(const std::string& name) { lib_name_ = name; }
  const std::string& libName() const { return lib_name_; }
  const std::vector<Blob>& blobs() const { return blobs_; }
  const std::vector<Import>& imports() const { return imports_; }

 private:
  std::string lib_name_;
  std::vector<Blob> blobs_;
  std::vector<Import> imports_;
};

// Host code may allocate: step out of the guard for the cache, back in for gothook.
struct Unguarded {
  Unguarded() { gothook_guard_leave(); }
  ~Unguarded() { gothook_guard_enter(); }
};

// ---- the drop-in: this is all a profiler's parseDynamicSection needs to become ----
bool parseDynamicSection(CodeCache* cc, uintptr_t bias, const void* phdr, uint16_t phnum) {
  gothook_dynamic d;
  if (gothook_dynamic_decode(bias, phdr, phnum, 0, &d) != GOTHOOK_OK) return false;
  auto on_symbol = [](const gothook_symbol* s, void* ctx) -> int {
    if (s->shndx != 0 && s->value != 0) {  // defined, non-zero: what the cache keeps
      Unguarded host;
      static_cast<CodeCache*>(ctx)->add(s->name, reinterpret_cast<const void*>(s->address),
                                        s->size);
    }
    return 0;
  };
  auto on_import = [](const gothook_import* imp, void* ctx) -> int {
    Unguarded host;
    static_cast<CodeCache*>(ctx)->addImport(imp->slot, imp->name);
    return 0;
  };
  return gothook_dynamic_symbols(&d, on_symbol, cc) == GOTHOOK_OK &&
         gothook_dynamic_imports(&d, on_import, cc) == GOTHOOK_OK;
}
// ---------------------------------------------------------------------------------------

int failures = 0, checks = 0;
template <typename... Args>
void check(bool ok, const char* fmt, Args... args) {
  checks++;
  if (ok) return;
  if (++failures > 40) return;
  std::fprintf(stderr, "FAIL: ");
  std::fprintf(stderr, fmt, args...);
  std::fputc('\n', stderr);
}

struct Target {
  std::string suffix;  // which library
  bool parsed = false;
  uintptr_t bias = 0;
  CodeCache* cache = nullptr;
};

// The profiler's own dl_iterate_phdr walk, as async-profiler has it today.
int on_phdr(dl_phdr_info* info, size_t, void* ctx) {
  auto* targets = static_cast<std::vector<Target>*>(ctx);
  for (Target& t : *targets) {
    std::string name = info->dlpi_name ? info->dlpi_name : "";
    if (t.parsed || name.size() < t.suffix.size() ||
        name.compare(name.size() - t.suffix.size(), t.suffix.size(), t.suffix) != 0)
      continue;
    t.bias = info->dlpi_addr;
    t.cache->setLibName(name);
    gothook_guard_enter();
    t.parsed = parseDynamicSection(t.cache, info->dlpi_addr, info->dlpi_phdr, info->dlpi_phnum);
    gothook_guard_leave();
  }
  return 0;
}

void compare(const Target& t, size_t* nblobs, size_t* nimports) {
  const CodeCache& cc = *t.cache;
  gothook_test_elf elf;
  if (gothook_test_readelf(cc.libName().c_str(), &elf) != 0) {
    check(false, "readelf %s", cc.libName().c_str());
    return;
  }
  // Blobs: readelf's defined symbols with a non-zero value, in table order.
  size_t k = 0;
  for (size_t i = 1; i < elf.nsyms; i++) {
    const gothook_test_sym& e = elf.syms[i];
    if (e.shndx == 0 || e.value == 0) continue;
    if (k < cc.blobs().size()) {
      const CodeCache::Blob& b = cc.blobs()[k];
      check(b.name == e.name && reinterpret_cast<uintptr_t>(b.start) == t.bias + e.value &&
                b.size == e.size,
            "%s blob %zu: cache [%s %p %zu], readelf [%s %#llx %llu]", cc.libName().c_str(), k,
            b.name.c_str(), b.start, b.size, e.name,
            static_cast<unsigned long long>(t.bias + e.value),
            static_cast<unsigned long long>(e.size));
    }
    k++;
  }
  check(k == cc.blobs().size(), "%s: cache has %zu blobs, readelf %zu", cc.libName().c_str(),
        cc.blobs().size(), k);
  *nblobs += k;
  // Imports: the import-kind relocations, DT_JMPREL first, then DT_RELA, then DT_REL.
  k = 0;
  for (const char* table : {"PLT", "RELA", "REL"}) {
    for (size_t i = 0; i < elf.nrels; i++) {
      const gothook_test_rel& e = elf.rels[i];
      if (std::strcmp(e.table, table) != 0 || e.sym == 0 ||
          gothook_test_import_kind(e.type_name) < 0)
        continue;
      if (k < cc.imports().size()) {
        const CodeCache::Import& imp = cc.imports()[k];
        check(imp.name == e.name && reinterpret_cast<uintptr_t>(imp.slot) == t.bias + e.offset,
              "%s import %zu: cache [%s %p], readelf [%s %#llx]", cc.libName().c_str(), k,
              imp.name.c_str(), static_cast<void*>(imp.slot), e.name,
              static_cast<unsigned long long>(t.bias + e.offset));
      }
      k++;
    }
  }
  check(k == cc.imports().size(), "%s: cache has %zu imports, readelf %zu",
        cc.libName().c_str(), cc.imports().size(), k);
  *nimports += k;
  gothook_test_readelf_free(&elf);
}

}  // namespace

int main(int argc, char** argv) {
  if (!gothook_guard_selfcheck()) {
    std::fprintf(stderr, "FAIL: allocation guard not live\n");
    return 1;
  }
  if (std::system("readelf --version >/dev/null 2>&1") != 0) {
    std::printf("SKIP: readelf not found\n");
    return 77;
  }
  std::vector<Target> targets;
  std::vector<CodeCache*> caches;
  targets.push_back(Target{"/libc.so.6"});
  for (int i = 1; i < argc; i++) {
    if (!dlopen(argv[i], RTLD_NOW)) {
      std::fprintf(stderr, "dlopen %s: %s\n", argv[i], dlerror());
      return 1;
    }
    targets.push_back(Target{argv[i]});
  }
  for (Target& t : targets) {
    t.cache = new CodeCache("");
    caches.push_back(t.cache);
  }
  gothook_guard_set_mode(GOTHOOK_GUARD_ABORT);
  gothook_guard_reset();
  dl_iterate_phdr(on_phdr, &targets);
  size_t nblobs = 0, nimports = 0;
  void* guard_malloc = dlsym(RTLD_DEFAULT, "malloc");
  for (Target& t : targets) {
    check(t.parsed, "%s was not parsed", t.suffix.c_str());
    if (!t.parsed) continue;
    compare(t, &nblobs, &nimports);
    if (t.suffix == "/libc.so.6") continue;
    // What a profiler relies on: the fixture's bound malloc slots hold the resolved malloc
    // (all of them when bound at load time; with lazy binding at least the data slot).
    size_t slots = 0, bound = 0;
    for (const auto& imp : t.cache->imports()) {
      if (imp.name != "malloc") continue;
      slots++;
      bound += *imp.slot == guard_malloc;
    }
    bool lazy = t.suffix.find("lazy") != std::string::npos;
    check(slots >= 2 && (lazy ? bound >= 1 : bound == slots),
          "%s: %zu of %zu malloc slots hold dlsym's malloc %p", t.suffix.c_str(), bound, slots,
          guard_malloc);
  }
  check(gothook_guard_violations() == 0, "gothook allocated");
  std::printf("dropin: parseDynamicSection of %zu libraries: %zu code blobs and %zu imports equal "
              "to readelf; %llu allocations inside gothook; %d checks, %d failures\n",
              targets.size(), nblobs, nimports,
              static_cast<unsigned long long>(gothook_guard_violations()), checks, failures);
  for (CodeCache* c : caches) delete c;
  return failures ? 1 : 0;
}
