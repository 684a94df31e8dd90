// A small profiler-shaped consumer of gothook, in C++:
//  1. the drop-in for a profiler's parseDynamicSection: a miniature code cache (the shape of
//     async-profiler's CodeCache: add(name, addr, size) and addImport(slot, name)) filled by a
//     parseDynamicSection whose body is a handful of gothook calls, checked against readelf of
//     libc and of two fixtures.  gothook's own work runs under the allocation guard; the cache's
//     allocations (it copies names, like the real one) happen outside it;
//  2. the tracers, as hook sets declared with GOTHOOK_HOOK: malloc/free everywhere (gothook's own
//     object included), dlopen everywhere but gothook's own object, whose hook refreshes so a
//     library loaded later (--late) is hooked before dlopen returns;
//  3. a libjvm-style single-slot swap: the library containing an address decoded in one call
//     (gothook_decode_containing), one import slot swapped and restored with gothook_slot_swap.
// No containment test, slot arithmetic or mprotect of the consumer's own.
#include <dlfcn.h>
#include <link.h>
#include <unistd.h>

#include <atomic>
#include <cstdarg>
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

// ---- the profiler's tracers ----
void* (*real_malloc)(size_t);
void (*real_free)(void*);
void* (*real_dlopen)(const char*, int);
std::atomic<unsigned long> hooked_mallocs{0}, hooked_frees{0}, hooked_dlopens{0};
std::atomic<unsigned long> fake_printfs{0};

void* malloc_hook(size_t n) {
  hooked_mallocs++;
  return real_malloc(n);
}
void free_hook(void* p) {
  hooked_frees++;
  real_free(p);
}
void* dlopen_hook(const char* name, int flags) {
  hooked_dlopens++;
  void* h = real_dlopen(name, flags);
  gothook_refresh(0, nullptr);  // hook what was just loaded, before returning it
  return h;
}
int fake_printf(const char*, ...) {
  fake_printfs++;
  return 0;
}

int find_import(const gothook_import* imp, void* ctx) {
  auto* want = static_cast<std::pair<const char*, std::vector<void**>>*>(ctx);
  if (std::strcmp(imp->name, want->first) == 0) want->second.push_back(imp->slot);
  return 0;
}

// Every import slot of `name` in the library containing `inside` (decoded in one call).
std::vector<void**> slots_of(const void* inside, const char* name, gothook_dynamic* owner) {
  std::pair<const char*, std::vector<void**>> want(name, {});
  if (gothook_decode_containing(inside, owner) == GOTHOOK_OK)
    gothook_dynamic_imports(owner, find_import, &want);
  return want.second;
}

void run_profiler(const char* late_path, const char* jvm_like_path) {
  // Allocation tracer: gothook's own object included (a profiler traces its own allocations).
  gothook_hook malloc_hooks[] = {GOTHOOK_HOOK("malloc", malloc_hook, real_malloc),
                                 GOTHOOK_HOOK("free", free_hook, real_free)};
  gothook_filter with_self = {};
  with_self.flags = GOTHOOK_FILTER_INCLUDE_SELF;
  gothook_set malloc_set = 0, dlopen_set = 0;
  gothook_report rep = {};
  gothook_guard_enter();
  gothook_status st = gothook_install(malloc_hooks, 2, &with_self, &malloc_set, &rep);
  gothook_guard_leave();
  check(st == GOTHOOK_OK && rep.slots_patched > 0, "malloc set: %s, %u slots", gothook_status_str(st),
        rep.slots_patched);
  unsigned long m0 = hooked_mallocs, f0 = hooked_frees;
  std::string* s = new std::string(200, 'x');  // operator new in libstdc++ calls malloc
  delete s;
  check(hooked_mallocs > m0 && hooked_frees > f0, "libstdc++'s malloc/free not hooked (%lu, %lu)",
        hooked_mallocs - m0, hooked_frees - f0);

  // dlopen tracer: every library but gothook's own object (the default filter).
  gothook_hook dlopen_hooks[] = {GOTHOOK_HOOK("dlopen", dlopen_hook, real_dlopen)};
  gothook_guard_enter();
  st = gothook_install(dlopen_hooks, 1, nullptr, &dlopen_set, &rep);
  gothook_guard_leave();
  check(st == GOTHOOK_OK && rep.slots_patched > 0, "dlopen set: %s", gothook_status_str(st));
  void* late = dlopen(late_path, RTLD_NOW);  // through the main program's hooked slot
  check(late != nullptr && hooked_dlopens == 1, "dlopen hook ran %lu times", hooked_dlopens.load());
  if (late) {
    gothook_dynamic owner;
    std::vector<void**> slots = slots_of(dlsym(late, "shape_calls"), "malloc", &owner);
    size_t hooked = 0;
    for (void** slot : slots) hooked += *slot == reinterpret_cast<void*>(&malloc_hook);
    check(!slots.empty() && hooked == slots.size(),
          "library loaded later: %zu of %zu malloc slots hooked when dlopen returned", hooked,
          slots.size());
    auto shape_calls = reinterpret_cast<int (*)(const char*)>(dlsym(late, "shape_calls"));
    unsigned long before = hooked_mallocs;
    check(shape_calls && shape_calls("abc") == 3 && hooked_mallocs > before,
          "the late library's malloc call was not traced");
  }

  // libjvm-style: one known import slot of one library, flipped on and off.
  void* jvm = dlopen(jvm_like_path, RTLD_NOW | RTLD_NOLOAD);
  auto shape_print = jvm ? reinterpret_cast<int (*)(const char*)>(dlsym(jvm, "shape_print")) : nullptr;
  check(shape_print != nullptr, "no shape_print in %s", jvm_like_path);
  if (shape_print) {
    shape_print("binds the printf slot");
    gothook_dynamic owner;
    std::vector<void**> slots = slots_of(reinterpret_cast<const void*>(shape_print), "printf", &owner);
    check(slots.size() == 1, "%zu printf slots", slots.size());
    if (slots.size() == 1) {
      void* was = *slots[0];
      void* fake = reinterpret_cast<void*>(&fake_printf);
      check(gothook_slot_swap(&owner, slots[0], was, fake) == GOTHOOK_OK, "swap printf");
      shape_print("not printed");
      check(fake_printfs == 1, "the swapped slot reached the replacement %lu times", fake_printfs.load());
      check(gothook_slot_swap(&owner, slots[0], fake, was) == GOTHOOK_OK && *slots[0] == was,
            "restore printf");
    }
  }

  check(gothook_uninstall(dlopen_set, nullptr) == GOTHOOK_OK, "uninstall dlopen set");
  check(gothook_uninstall(malloc_set, nullptr) == GOTHOOK_OK, "uninstall malloc set");
  unsigned long m1 = hooked_mallocs;
  s = new std::string(200, 'y');
  delete s;
  check(hooked_mallocs == m1, "malloc still hooked after uninstall");
  std::printf("dropin profiler: %lu mallocs, %lu frees, %lu dlopens traced; libjvm-style slot "
              "swapped and restored\n",
              hooked_mallocs.load(), hooked_frees.load(), hooked_dlopens.load());
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
  const char* late = nullptr;
  if (argc >= 3 && std::strcmp(argv[argc - 2], "--late") == 0) {
    late = argv[argc - 1];
    argc -= 2;
  }
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
  gothook_guard_set_mode(GOTHOOK_GUARD_COUNT);
  if (late && argc >= 2) run_profiler(late, argv[1]);
  check(gothook_guard_violations() == 0, "gothook allocated");
  std::printf("dropin: parseDynamicSection of %zu libraries: %zu code blobs and %zu imports equal "
              "to readelf; %llu allocations inside gothook; %d checks, %d failures\n",
              targets.size(), nblobs, nimports,
              static_cast<unsigned long long>(gothook_guard_violations()), checks, failures);
  for (CodeCache* c : caches) delete c;
  return failures ? 1 : 0;
}
