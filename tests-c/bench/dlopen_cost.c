/*
 * Cost of gothook's dlopen/dlclose interception when no hook set applies to the loaded library:
 * dlopen+dlclose latency (median, p90), throughput and CPU time per pair, at 1 and 4 threads,
 * plain vs with gothook_intercept_dlopen installed, printed as ratios (target: <= 1.25x).
 *
 *   dlopen_cost <plugin-dir> [pairs-per-thread] [rounds]
 *
 * Each thread loads and unloads its own copy of a plugin (libdlc_plugin<N>.so, importing nothing
 * a set hooks), so every pair maps, relocates and unmaps a library.  Each (mode, threads) runs in
 * a fresh child process; the modes alternate over `rounds` rounds and the median round counts.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gothook.h"

#define MAX_THREADS 4
#define MAX_PAIRS 20000

static const char *dir;
static unsigned pairs;
static unsigned long long *lat[MAX_THREADS];
static unsigned failures[MAX_THREADS];

static unsigned long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

static pthread_barrier_t start;

static void *worker(void *arg) {
  long t = (long)arg;
  char path[512];
  snprintf(path, sizeof path, "%s/libdlc_plugin%ld.so", dir, t);
  pthread_barrier_wait(&start);
  for (unsigned i = 0; i < pairs; i++) {
    unsigned long long t0 = now_ns();
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) failures[t]++;
    else dlclose(h);
    lat[t][i] = now_ns() - t0;
  }
  return NULL;
}

static int cmp_ull(const void *a, const void *b) {
  unsigned long long x = *(const unsigned long long *)a, y = *(const unsigned long long *)b;
  return x < y ? -1 : x > y;
}

static unsigned long long cpu_ns(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (unsigned long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ull +
         (unsigned long long)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
}

/* Child: prints "median_ns p90_ns wall_ns cpu_ns pairs failures". */
static int child(int intercept, int threads) {
  if (intercept) {
    gothook_set set;
    gothook_status s = gothook_intercept_dlopen(&set, NULL);
    if (s != GOTHOOK_OK) {
      fprintf(stderr, "intercept: %s\n", gothook_status_str(s));
      return 3;
    }
  }
  static unsigned long long all[MAX_THREADS * MAX_PAIRS];
  for (int t = 0; t < threads; t++) lat[t] = all + (size_t)t * pairs;
  /* Warm up: the first load of each copy reads it from disk and fills the loader's caches. */
  for (int t = 0; t < threads; t++) {
    char path[512];
    snprintf(path, sizeof path, "%s/libdlc_plugin%d.so", dir, t);
    void *h = dlopen(path, RTLD_NOW);
    if (h) dlclose(h);
  }
  pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
  pthread_t th[MAX_THREADS];
  for (long t = 0; t < threads; t++) pthread_create(&th[t], NULL, worker, (void *)t);
  unsigned long long c0 = cpu_ns();
  pthread_barrier_wait(&start);
  unsigned long long w0 = now_ns();
  unsigned fails = 0;
  for (int t = 0; t < threads; t++) {
    pthread_join(th[t], NULL);
    fails += failures[t];
  }
  unsigned long long wall = now_ns() - w0, cpu = cpu_ns() - c0;
  size_t n = (size_t)threads * pairs;
  qsort(all, n, sizeof all[0], cmp_ull);
  printf("%llu %llu %llu %llu %zu %u\n", all[n / 2], all[n * 9 / 10], wall, cpu, n, fails);
  return fails ? 1 : 0;
}

struct figures {
  double median, p90, wall, cpu, n;
};

static int run(const char *self, int intercept, int threads, struct figures *f) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    char tb[8], pb[16];
    snprintf(tb, sizeof tb, "%d", threads);
    snprintf(pb, sizeof pb, "%u", pairs);
    execl(self, self, "child", intercept ? "1" : "0", tb, pb, dir, (char *)NULL);
    _exit(4);
  }
  close(fds[1]);
  char buf[256] = {0};
  ssize_t k = read(fds[0], buf, sizeof buf - 1);
  close(fds[0]);
  int st;
  waitpid(pid, &st, 0);
  unsigned fails = 0;
  if (k <= 0 || sscanf(buf, "%lf %lf %lf %lf %lf %u", &f->median, &f->p90, &f->wall, &f->cpu,
                       &f->n, &fails) != 6 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
    return -1;
  return 0;
}

static int cmp_fig(const void *a, const void *b) {
  double x = ((const struct figures *)a)->median, y = ((const struct figures *)b)->median;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc == 6 && strcmp(argv[1], "child") == 0) {
    pairs = (unsigned)atoi(argv[4]);
    dir = argv[5];
    if (pairs == 0 || pairs > MAX_PAIRS) return 2;
    return child(atoi(argv[2]), atoi(argv[3]));
  }
  if (argc < 2) {
    fprintf(stderr, "usage: %s plugin-dir [pairs-per-thread] [rounds]\n", argv[0]);
    return 2;
  }
  dir = argv[1];
  pairs = argc > 2 ? (unsigned)atoi(argv[2]) : 2000;
  int rounds = argc > 3 ? atoi(argv[3]) : 3;
  if (pairs == 0 || pairs > MAX_PAIRS || rounds < 1 || rounds > 15) return 2;
  char self[512];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return 2;
  self[n] = 0;

  int bad = 0;
  printf("dlopen+dlclose of a library no set applies to, %u pairs per thread, median of %d "
         "rounds\n", pairs, rounds);
  printf("%-8s %-12s %11s %11s %13s %12s\n", "threads", "mode", "median us", "p90 us",
         "pairs/s", "cpu us/pair");
  for (int threads = 1; threads <= 4; threads += 3) {
    struct figures f[2][15];
    for (int r = 0; r < rounds; r++)
      for (int m = 0; m < 2; m++)
        if (run(self, m, threads, &f[m][r]) != 0) {
          fprintf(stderr, "child (%s, %d threads) failed\n", m ? "intercepted" : "plain",
                  threads);
          return 1;
        }
    struct figures med[2];
    for (int m = 0; m < 2; m++) {
      qsort(f[m], (size_t)rounds, sizeof f[m][0], cmp_fig);
      med[m] = f[m][rounds / 2];
      printf("%-8d %-12s %11.1f %11.1f %13.0f %12.1f\n", threads, m ? "intercepted" : "plain",
             med[m].median / 1e3, med[m].p90 / 1e3, med[m].n / (med[m].wall / 1e9),
             med[m].cpu / med[m].n / 1e3);
    }
    double lat_ratio = med[1].median / med[0].median;
    double tput_ratio = (med[0].n / med[0].wall) / (med[1].n / med[1].wall);
    double cpu_ratio = (med[1].cpu / med[1].n) / (med[0].cpu / med[0].n);
    printf("%-8d ratio intercepted/plain: latency %.2fx, throughput %.2fx slower, cpu %.2fx%s\n",
           threads, lat_ratio, tput_ratio, cpu_ratio,
           lat_ratio <= 1.25 && tput_ratio <= 1.25 ? "" : "  (above the 1.25x target)");
    bad |= !(lat_ratio <= 1.25 && tput_ratio <= 1.25);
  }
  return bad ? 1 : 0;
}
