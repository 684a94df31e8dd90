/* Install and uninstall over a library whose hooked slots fill 16 read-only pages (8192 ABS64
 * slots for malloc in RELRO), 16 more pages one slot each (more pages in one decision round than
 * one swap batch plans, 8) and 16 slots in writable data: every slot is patched, every slot is
 * restored, and the writable data is still writable.  Then the same in a child whose ioctl calls
 * fail (seccomp), as on kernels without PROCMAP_QUERY: page protections are then probed page by
 * page.
 * Usage: hooks_many_pages <libhk_many_pages.so> */
#include "hk_common.h"

#include <sys/wait.h>

enum { N = 8192, ALL = N + 32 };
static void *(*real_malloc)(size_t);
static void *many_malloc(size_t n) { return real_malloc(n); }

struct hk_spaced {
  void *(*f)(size_t);
  char pad[4096 - sizeof(void *)];
};
static const struct hk_spaced *spaced;
static void *(**rw)(size_t);

/* Slots holding `want`: the dense table's and the spaced ones. */
static int count(void *(*const *table)(size_t), void *(*want)(size_t)) {
  int n = 0;
  for (int i = 0; i < N; i++) n += table[i] == want;
  for (int i = 0; i < 16; i++) n += spaced[i].f == want;
  for (int i = 0; i < 16; i++) n += rw[i] == want;
  return n;
}

static int cycle(const char *path);


int main(int argc, char **argv) {
  if (argc != 2) return 2;
  int rc = cycle(argv[1]);
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    if (!hk_refuse_syscall(__NR_ioctl, ENOTTY)) _exit(77);
    printf("without ioctl: ");
    int r = cycle(argv[1]);
    fflush(NULL);
    _exit(r);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  int child = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (child == 77) printf("hooks_many_pages: seccomp unavailable, the case without ioctl skipped\n");
  CHECK(child == 0 || child == 77, "the run without ioctl failed (status %d)", child);
  return rc || hk_failures ? 1 : 0;
}

static int cycle(const char *path) {
  void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  CHECK(lib != NULL, "dlopen %s: %s", path, dlerror());
  if (!lib) return 1;
  void *(*const *table)(size_t) = (void *(*const *)(size_t))dlsym(lib, "hk_many_pages_table");
  CHECK(table != NULL, "no hk_many_pages_table");
  spaced = (const struct hk_spaced *)dlsym(lib, "hk_many_pages_spaced");
  CHECK(spaced != NULL, "no hk_many_pages_spaced");
  rw = (void *(**)(size_t))dlsym(lib, "hk_many_pages_rw");
  CHECK(rw != NULL, "no hk_many_pages_rw");
  if (!table || !spaced || !rw) return 1;
  void *(*orig)(size_t) = table[0];
  CHECK(count(table, orig) == ALL, "the tables do not hold one function %d times", ALL);

  gothook_hook h = {"malloc", (void *)many_malloc, (void **)&real_malloc, 0};
  gothook_filter f = {0};
  f.path_suffix = "/libhk_many_pages.so";
  gothook_set set = 0;
  gothook_report r;
  CHECK_ST(gothook_install(&h, 1, &f, &set, &r), GOTHOOK_OK);
  int patched = count(table, many_malloc);
  CHECK(patched == ALL, "%d of %d slots over 32 pages patched", patched, ALL);
  CHECK(r.slots_patched >= ALL, "install reported %u slots patched", r.slots_patched);
  CHECK(real_malloc == orig, "the original is not the slots' pre-patch value");
  CHECK_ST(gothook_uninstall(set, &r), GOTHOOK_OK);
  int restored = count(table, orig);
  CHECK(restored == ALL, "%d of %d slots restored", restored, ALL);
  /* Still writable (a protection restored to what was found, not to a neighbour's). */
  for (int i = 0; i < 16; i++) rw[i] = rw[(i + 1) % 16];
  printf("hooks_many_pages: %d of %d slots patched, %d restored; %s\n", patched, ALL, restored,
         hk_failures ? "FAILED" : "ok");
  dlclose(lib);
  return hk_failures ? 1 : 0;
}
