/*
 * The loader sees the real caller through gothook's dlopen/dlmopen interception.
 *
 *   intercept_rows <case> <rows-dir>
 *
 * runs <case> twice in child processes, once plain and once with gothook_intercept_dlopen
 * installed first, and checks that both report the same thing for every load: success, which
 * file (st_dev/st_ino of the loaded object, plus its marker), whether the handle is the one an
 * earlier load returned, the namespace, errno and the dlerror() text.  It also checks that the
 * plain run shows the loader behaviour the case is about (so the comparison means something), and
 * that in the intercepted run each new library was already hooked when the call returned (the
 * call really went through gothook).  Exit 77 (skip) only when secure mode cannot be entered.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gothook.h"
#include "gothook_test_check.h"

#define FAKE_PPID 424242
#define LINE 1024

static pid_t (*real_getppid)(void);
static pid_t fake_getppid(void) { return FAKE_PPID; }

static unsigned recorded_dlopens;
static void *(*recorded_real)(const char *, int);
static void *record_dlopen(const char *file, int flags) {
  recorded_dlopens++;
  return recorded_real(file, flags);
}

/* ---- child side ---------------------------------------------------------------------------- */

static const char *dir;

static void report(const char *what, void *h, void *same_as, int err, const char *dlerr) {
  int marker = -1, hooked = 0;
  unsigned long dev = 0, ino = 0;
  long lmid = -1;
  if (h) {
    int (*m)(void) = (int (*)(void))dlsym(h, "it_marker");
    int (*probe)(void) = (int (*)(void))dlsym(h, "it_probe");
    if (m) marker = m();
    if (probe) hooked = probe() == FAKE_PPID;
    struct link_map *lm = NULL;
    struct stat st;
    if (dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm && stat(lm->l_name, &st) == 0) {
      dev = (unsigned long)st.st_dev;
      ino = (unsigned long)st.st_ino;
    }
    Lmid_t id;
    if (dlinfo(h, RTLD_DI_LMID, &id) == 0) lmid = (long)id;
  }
  printf("RESULT %s ok=%d marker=%d same=%d dev=%lu ino=%lu lmid=%ld errno=%d err=%s | hooked=%d\n",
         what, h != NULL, marker, same_as ? h == same_as : -1, dev, ino, lmid, err,
         dlerr ? dlerr : "-", hooked);
}

/* Calls `open` and reports; errno and the dlerror text are taken right after the call. */
#define LOAD(what, same_as, call)              \
  do {                                         \
    errno = 0;                                 \
    void *h_ = (call);                         \
    int e_ = errno;                            \
    const char *d_ = h_ ? NULL : dlerror();    \
    char dbuf_[LINE];                          \
    snprintf(dbuf_, sizeof dbuf_, "%s", d_ ? d_ : "-"); \
    report(what, h_, same_as, e_, d_ ? dbuf_ : NULL); \
    last = h_;                                 \
  } while (0)

static void *open_in(const char *lib, const char *fn) {
  char path[LINE];
  snprintf(path, sizeof path, "%s/%s", dir, lib);
  void *h = dlopen(path, RTLD_NOW);
  if (!h) {
    printf("SETUP-FAILED %s: %s\n", path, dlerror());
    exit(3);
  }
  void *f = dlsym(h, fn);
  if (!f) {
    printf("SETUP-FAILED %s in %s\n", fn, path);
    exit(3);
  }
  return f;
}

/* The main program's dlopen import slot (what its own calls go through). */
static void **main_dlopen_slot;
static int find_dlopen_import(const gothook_import *imp, void *ctx) {
  (void)ctx;
  if (strcmp(imp->name, "dlopen") == 0) {
    main_dlopen_slot = imp->slot;
    return 1;
  }
  return 0;
}
static int find_main(const gothook_lib *lib, void *ctx) {
  gothook_dynamic d;
  (void)ctx;
  if (lib->kind != GOTHOOK_KIND_MAIN || gothook_lib_decode(lib, &d) != GOTHOOK_OK) return 0;
  gothook_dynamic_imports(&d, find_dlopen_import, NULL);
  return 1;
}

/* A caller outside every loaded object, like JIT code: an anonymous executable page that calls
 * through the main program's dlopen slot.  glibc then searches as for the main program. */
typedef void *(*jit_open_fn)(const char *, int);
static jit_open_fn make_jit_caller(void) {
#if defined(__x86_64__)
  gothook_libs_each(find_main, NULL, 0);
  if (!main_dlopen_slot) return NULL;
  unsigned char *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (code == MAP_FAILED) return NULL;
  unsigned char stub[] = {
      0x48, 0x83, 0xec, 0x08,                         /* sub rsp, 8 */
      0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0,             /* mov rax, slot */
      0xff, 0x10,                                     /* call [rax] */
      0x48, 0x83, 0xc4, 0x08,                         /* add rsp, 8 */
      0xc3,                                           /* ret */
  };
  memcpy(stub + 6, &main_dlopen_slot, 8);
  memcpy(code, stub, sizeof stub);
  return (jit_open_fn)(void *)code;
#else
  return NULL;
#endif
}

static int child(const char *which, int intercept) {
  gothook_set set;
  gothook_report r;
  gothook_status s;
  printf("SECURE %lu\n", getauxval(AT_SECURE));
  if (intercept) {
    s = gothook_intercept_dlopen(&set, &r);
    if (s != GOTHOOK_OK) {
      printf("SETUP-FAILED intercept: %s\n", gothook_status_str(s));
      return 3;
    }
  }
  if (strcmp(which, "recorder_after") == 0) {
    gothook_hook rec = {"dlopen", (void *)record_dlopen, (void **)&recorded_real};
    s = gothook_install(&rec, 1, NULL, &set, &r);
    if (s != GOTHOOK_OK) {
      printf("SETUP-FAILED recorder: %s\n", gothook_status_str(s));
      return 3;
    }
  }
  gothook_hook hk = {"getppid", (void *)fake_getppid, (void **)&real_getppid};
  s = gothook_install(&hk, 1, NULL, &set, &r);
  if (s != GOTHOOK_OK) {
    printf("SETUP-FAILED getppid set: %s\n", gothook_status_str(s));
    return 3;
  }
  void *last = NULL;
  void *(*open)(const char *, int);
  if (strcmp(which, "main_program_runpath") == 0 || strcmp(which, "secure_mode") == 0) {
    LOAD("bare", NULL, dlopen("libit_main.so", RTLD_NOW));
  } else if (strcmp(which, "recorder_after") == 0) {
    LOAD("bare", NULL, dlopen("libit_main.so", RTLD_NOW));
    printf("RESULT recorded calls=%u\n", recorded_dlopens);
  } else if (strcmp(which, "soname_already_loaded") == 0) {
    char path[LINE];
    snprintf(path, sizeof path, "%s/other/libit_dup.so", dir);
    LOAD("by-path", NULL, dlopen(path, RTLD_NOW));
    void *first = last;
    LOAD("bare", first, dlopen("libit_dup.so", RTLD_NOW));
    LOAD("noload", first, dlopen("libit_dup.so", RTLD_NOW | RTLD_NOLOAD));
  } else if (strcmp(which, "dst_lib_platform") == 0) {
    open = (void *(*)(const char *, int))open_in("libit_dstcaller.so", "it_open");
    LOAD("platform", NULL, open("libit_plat.so", RTLD_NOW));
    LOAD("lib", NULL, open("libit_libdir.so", RTLD_NOW));
  } else if (strcmp(which, "wrong_machine_first") == 0) {
    open = (void *(*)(const char *, int))open_in("libit_wmcaller.so", "it_open");
    LOAD("bare", NULL, open("libit_wm.so", RTLD_NOW));
  } else if (strcmp(which, "rpath_chain") == 0) {
    open = (void *(*)(const char *, int))open_in("libit_rpparent.so", "it_parent_open");
    LOAD("bare", NULL, open("libit_rp.so", RTLD_NOW));
  } else if (strcmp(which, "ld_library_path") == 0) {
    LOAD("bare", NULL, dlopen("libit_ldp.so", RTLD_NOW));
  } else if (strcmp(which, "jit_caller") == 0) {
    jit_open_fn jit = make_jit_caller();
    if (!jit) {
      printf("SKIP-CASE no JIT caller on this architecture\n");
      return 0;
    }
    LOAD("bare", NULL, jit("libit_main.so", RTLD_NOW));
    LOAD("missing", NULL, jit("libit_absent.so", RTLD_NOW));
    /* After the calls a lazily bound slot is bound: to dlopen itself unless gothook holds it. */
    printf("JIT-SLOT-REDIRECTED %d\n", *main_dlopen_slot != dlsym(RTLD_DEFAULT, "dlopen"));
  } else if (strcmp(which, "dlmopen") == 0) {
    LOAD("base", NULL, dlmopen(LM_ID_BASE, "libit_main.so", RTLD_NOW));
    LOAD("newlm", NULL, dlmopen(LM_ID_NEWLM, "libit_main.so", RTLD_NOW));
    LOAD("missing", NULL, dlmopen(LM_ID_BASE, "libit_absent.so", RTLD_NOW));
  } else {
    printf("SETUP-FAILED unknown case %s\n", which);
    return 3;
  }
  (void)last;
  fflush(stdout);
  return 0;
}

/* ---- parent side --------------------------------------------------------------------------- */

/* Runs `exe child <case> <mode> <dir>`, collecting its stdout into `out`. */
static int run_child(const char *exe, const char *which, int intercept, const char *ldpath,
                     char *out, size_t cap) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    if (ldpath) setenv("LD_LIBRARY_PATH", ldpath, 1);
    execl(exe, exe, "child", which, intercept ? "intercepted" : "plain", dir, (char *)NULL);
    _exit(4);
  }
  close(fds[1]);
  size_t n = 0;
  ssize_t k;
  while (n + 1 < cap && (k = read(fds[0], out + n, cap - 1 - n)) > 0) n += (size_t)k;
  out[n] = 0;
  close(fds[0]);
  int st;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* A copy of this program that runs set-user-ID `nobody`: AT_SECURE when started by root. */
static int make_secure_copy(const char *self, char *copy, size_t cap) {
  snprintf(copy, cap, "%s/intercept_rows_secure", dir);
  int in = open(self, O_RDONLY), outfd;
  unlink(copy);
  outfd = open(copy, O_WRONLY | O_CREAT | O_TRUNC, 0755);
  if (in < 0 || outfd < 0) return -1;
  char buf[65536];
  ssize_t k;
  while ((k = read(in, buf, sizeof buf)) > 0)
    if (write(outfd, buf, (size_t)k) != k) return -1;
  close(in);
  close(outfd);
  if (chown(copy, 65534, 65534) != 0 || chmod(copy, 04755) != 0) return -1;
  return 0;
}

/* The comparable part of each RESULT line (before " | "), joined. */
static void comparable(const char *out, char *dst, size_t cap) {
  dst[0] = 0;
  for (const char *p = out; (p = strstr(p, "RESULT ")) != NULL; p++) {
    const char *end = strstr(p, " | ");
    const char *nl = strchr(p, '\n');
    if (!nl) break;
    if (!end || end > nl) end = nl;
    strncat(dst, p, (size_t)(end - p) < cap - strlen(dst) - 2 ? (size_t)(end - p) : 0);
    strcat(dst, "\n");
  }
}

static int count(const char *out, const char *needle) {
  int n = 0;
  for (const char *p = out; (p = strstr(p, needle)) != NULL; p++) n++;
  return n;
}

int main(int argc, char **argv) {
  if (argc == 5 && strcmp(argv[1], "child") == 0) {
    dir = argv[4];
    return child(argv[2], strcmp(argv[3], "intercepted") == 0);
  }
  if (argc != 3) {
    fprintf(stderr, "usage: %s <case> <rows-dir>\n", argv[0]);
    return 2;
  }
  const char *which = argv[1];
  dir = argv[2];
  char self[LINE], exe[LINE];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return 2;
  self[n] = 0;
  snprintf(exe, sizeof exe, "%s", self);
  char ldp[LINE];
  const char *ldpath = NULL;
  if (strcmp(which, "ld_library_path") == 0) {
    snprintf(ldp, sizeof ldp, "%s/ldp", dir);
    ldpath = ldp;
  }
  if (strcmp(which, "secure_mode") == 0 && make_secure_copy(self, exe, sizeof exe) != 0) {
    printf("SKIP: cannot make a set-user-ID copy (not root?)\n");
    return 77;
  }

  static char out[2][1 << 15], cmp[2][1 << 15];
  int rc[2];
  for (int m = 0; m < 2; m++) {
    rc[m] = run_child(exe, which, m, ldpath, out[m], sizeof out[m]);
    printf("--- %s (%s), exit %d\n%s", which, m ? "intercepted" : "plain", rc[m], out[m]);
    comparable(out[m], cmp[m], sizeof cmp[m]);
  }
  if (strstr(out[0], "SKIP-CASE")) {
    printf("SKIP: %s\n", which);
    return 77;
  }
  if (strcmp(which, "secure_mode") == 0 && strstr(out[0], "SECURE 1") == NULL) {
    printf("SKIP: the set-user-ID copy did not run in secure mode (no_new_privs or nosuid?)\n");
    return 77;
  }
  CHECK(rc[0] == 0 && rc[1] == 0, "a child failed: plain %d, intercepted %d", rc[0], rc[1]);
  CHECK(count(out[0], "RESULT ") > 0, "the plain run reported nothing");
  CHECK(strcmp(cmp[0], cmp[1]) == 0, "the interception changed what the loader did:\n%s---\n%s",
        cmp[0], cmp[1]);

  /* The plain run shows the behaviour the case is about. */
  const char *expect[] = {NULL, NULL, NULL, NULL};
  if (!strcmp(which, "main_program_runpath") || !strcmp(which, "recorder_after") ||
      !strcmp(which, "jit_caller")) {
    expect[0] = "RESULT bare ok=1 marker=1 ";
  } else if (!strcmp(which, "soname_already_loaded")) {
    expect[0] = "RESULT by-path ok=1 marker=21 ";
    expect[1] = "RESULT bare ok=1 marker=21 same=1 ";
    expect[2] = "RESULT noload ok=1 marker=21 same=1 ";
  } else if (!strcmp(which, "dst_lib_platform")) {
    expect[0] = "RESULT platform ok=1 marker=31 ";
    expect[1] = "RESULT lib ok=1 marker=32 ";
  } else if (!strcmp(which, "wrong_machine_first")) {
    expect[0] = "RESULT bare ok=1 marker=42 ";
  } else if (!strcmp(which, "rpath_chain")) {
    expect[0] = "RESULT bare ok=1 marker=51 ";
  } else if (!strcmp(which, "ld_library_path")) {
    expect[0] = "RESULT bare ok=1 marker=62 ";
  } else if (!strcmp(which, "secure_mode")) {
    expect[0] = "RESULT bare ok=0 ";
    expect[1] = "cannot open shared object file";
  } else if (!strcmp(which, "dlmopen")) {
    expect[0] = "RESULT base ok=1 marker=1 same=-1 dev=";
    expect[1] = "RESULT newlm ok=1 marker=1 ";
    expect[2] = "RESULT missing ok=0 ";
  }
  for (int i = 0; i < 4 && expect[i]; i++)
    CHECK(strstr(out[0], expect[i]) != NULL, "plain run lacks \"%s\"", expect[i]);
  if (!strcmp(which, "recorder_after"))
    CHECK(strstr(out[1], "RESULT recorded calls=1") != NULL,
          "the dlopen hook installed after the interception did not see the call");
  if (!strcmp(which, "dlmopen"))
    CHECK(strstr(out[1], "lmid=0 ") && !strstr(out[1], "RESULT newlm ok=1 marker=1 same=-1 dev=0"),
          "dlmopen(LM_ID_NEWLM) lost its namespace or file");

  /* Every library a call loaded into the base namespace was hooked when the intercepted call
   * returned.  (A library in a new dlmopen namespace binds to that namespace's own libc; which
   * sets apply there is the hook sets' business, not the interception's.  A caller outside every
   * object gets a plain tail call: the loader sees it unchanged, the next refresh hooks.) */
  int loaded = 0, hooked = 0;
  for (const char *p = out[1]; (p = strstr(p, "RESULT ")) != NULL; p++) {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    char line[LINE];
    snprintf(line, sizeof line, "%.*s", (int)(len < LINE ? len : LINE - 1), p);
    if (strstr(line, " ok=1 ") && strstr(line, " lmid=0 ")) {
      loaded++;
      hooked += strstr(line, "| hooked=1") != NULL;
    }
  }
  if (!strcmp(which, "jit_caller")) {
    CHECK(strstr(out[1], "JIT-SLOT-REDIRECTED 1") && strstr(out[0], "JIT-SLOT-REDIRECTED 0"),
          "the JIT caller's calls did not go through gothook's dlopen only when intercepted");
    hooked = loaded;
  }
  CHECK(hooked == loaded && (loaded > 0 || !strcmp(which, "secure_mode")),
        "only %d of %d loads were hooked when the intercepted call returned", hooked, loaded);
  printf("%s: %ld checks, %d failed; plain and intercepted runs agree on %d loads\n", which,
         gt_checks, gt_failures, count(cmp[0], "RESULT "));
  return gt_failures ? 1 : 0;
}
