/* Cross-architecture decoder fixture: imports through the PLT (calls), through the GOT
 * (-fno-plt calls, taken addresses, extern data) and through absolute data pointers
 * (initialised pointer variables, which need word-sized ABS relocations), plus exported
 * functions and data of several types and bindings. */
#include <stddef.h>

extern void *malloc(size_t n);
extern void free(void *p);
extern void *calloc(size_t n, size_t s);
extern void *realloc(void *p, size_t n);
extern int puts(const char *s);
extern char **environ;                       /* extern data: GLOB_DAT (or ABS) */
extern int cross_missing_weak(void) __attribute__((weak));

/* Absolute data pointers: ABS64 / R_386_32 / R_ARM_ABS32 / R_RISCV_64 / R_PPC64_ADDR64. */
void *(*cross_malloc_ptr)(size_t) = malloc;
void (*cross_free_ptr)(void *) = free;
void *cross_table[3] = { (void *)calloc, (void *)realloc, (void *)&environ };

int cross_data = 42;
const char *cross_name = "cross fixture";
static int cross_local_counter;

void *cross_alloc(size_t n)
{
    void *p = malloc(n);            /* PLT call, or GOT call with -fno-plt */
    if (!p)
        puts("out of memory");
    return p;
}

void cross_release(void *p)
{
    free(p);
    cross_local_counter++;
}

__attribute__((weak)) int cross_weak_fn(void)
{
    return cross_missing_weak ? cross_missing_weak() : cross_local_counter;
}

void *cross_grow(void *p, size_t n)
{
    return realloc(p, n);
}

char **cross_env(void)
{
    return environ;
}
