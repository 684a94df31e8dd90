/* gothook_slot_swap is signal-safe from the first call: it never walks the loaded libraries (which
 * takes the loader's list lock), not even to detect the readiness rule.  The test's first gothook
 * calls are a raw decode and a swap, made while another thread sits inside dl_iterate_phdr holding
 * that lock: the swap must complete before that thread lets go. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "ad_common.h"
#include "gothook_test_check.h"

int ad_host_uses_dep(void);

static atomic_int lock_held, swap_done, gave_up;

static int hold_cb(struct dl_phdr_info *info, size_t size, void *ctx) {
  (void)info, (void)size, (void)ctx;
  atomic_store(&lock_held, 1);
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  while (!atomic_load(&swap_done)) {
    clock_gettime(CLOCK_MONOTONIC, &t);
    if (t.tv_sec - t0.tv_sec >= 10) { /* let a walking swap finish so the test can report */
      atomic_store(&gave_up, 1);
      break;
    }
  }
  return 1;
}

static void *holder(void *arg) {
  (void)arg;
  dl_iterate_phdr(hold_cb, NULL);
  return NULL;
}

struct host_info {
  uintptr_t bias;
  const void *phdr;
  uint16_t phnum;
};

static int find_host(struct dl_phdr_info *info, size_t size, void *ctx) {
  (void)size;
  struct host_info *h = (struct host_info *)ctx;
  static const char suffix[] = "/libad_host.so";
  size_t n = strlen(info->dlpi_name), k = sizeof suffix - 1;
  if (n >= k && strcmp(info->dlpi_name + n - k, suffix) == 0) {
    h->bias = info->dlpi_addr;
    h->phdr = info->dlpi_phdr;
    h->phnum = info->dlpi_phnum;
    return 1;
  }
  return 0;
}

static int fake_probe(void) { return 77; }

int main(void) {
  struct host_info hi = {0};
  dl_iterate_phdr(find_host, &hi);
  CHECK(hi.phdr != NULL, "libad_host.so not listed");
  if (!hi.phdr) return 1;
  ad_host_uses_dep(); /* binds the lazy slot */

  pthread_t t;
  pthread_create(&t, NULL, holder, NULL);
  while (!atomic_load(&lock_held)) {
  }
  gothook_dynamic d;
  CHECK(gothook_dynamic_decode(hi.bias, hi.phdr, hi.phnum, 0, &d) == GOTHOOK_OK, "decode");
  void **slot = ad_import_slot(&d, "ad_dep_probe");
  CHECK(slot != NULL, "no ad_dep_probe import");
  gothook_status a = GOTHOOK_EINVAL, b = GOTHOOK_EINVAL;
  if (slot) {
    void *was = *slot;
    a = gothook_slot_swap(&d, slot, was, (void *)fake_probe);
    b = gothook_slot_swap(&d, slot, (void *)fake_probe, was);
  }
  int finished_while_held = !atomic_load(&gave_up);
  atomic_store(&swap_done, 1);
  pthread_join(t, NULL);
  CHECK(a == GOTHOOK_OK && b == GOTHOOK_OK, "swaps: %s, %s", gothook_status_str(a), gothook_status_str(b));
  CHECK(finished_while_held, "the swap waited for the loader's list lock (it walked)");
  CHECK(ad_host_uses_dep() == 21, "slot not restored");
  printf("adopter_swap_first_call: swap %s while another thread held the loader lock, %ld checks, %d failures\n",
         finished_while_held ? "completed" : "blocked", gt_checks, gt_failures);
  return gt_failures != 0;
}
