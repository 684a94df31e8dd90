/* A library that takes a mutex through its own pthread_mutex_lock import. */
#include <pthread.h>
__attribute__((visibility("default"))) void ad_locker_cycle(pthread_mutex_t *m) {
  pthread_mutex_lock(m);
  pthread_mutex_unlock(m);
}
