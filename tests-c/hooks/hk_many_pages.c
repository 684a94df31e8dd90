/* Import slots for malloc spread over many read-only pages, loaded by hooks_many_pages: a table
 * of 8192 pointers in RELRO (one ABS64 slot each: 64 KiB, 16 pages), and 16 pointers one page
 * apart. */
#include <stdlib.h>

#define M1 malloc
#define M2 M1, M1
#define M4 M2, M2
#define M8 M4, M4
#define M16 M8, M8
#define M32 M16, M16
#define M64 M32, M32
#define M128 M64, M64
#define M256 M128, M128
#define M512 M256, M256
#define M1024 M512, M512
#define M2048 M1024, M1024
#define M4096 M2048, M2048
#define M8192 M4096, M4096

void *(*const hk_many_pages_table[8192])(size_t) = {M8192};

/* 16 pointers to malloc, one per page: a single decision round covers more read-only pages
 * than one swap batch plans. */
struct hk_spaced {
  void *(*f)(size_t);
  char pad[4096 - sizeof(void *)];
};
const struct hk_spaced hk_many_pages_spaced[16] = {{M1}, {M1}, {M1}, {M1}, {M1}, {M1}, {M1}, {M1},
                                                   {M1}, {M1}, {M1}, {M1}, {M1}, {M1}, {M1}, {M1}};

/* 16 more in writable data, after the read-only ones: answers about page protection must not
 * carry over from one kind of page to the other. */
void *(*hk_many_pages_rw[16])(size_t) = {M16};
