/* The C++ build of typed_hook.c: GOTHOOK_HOOK is a function template there. */
#include "typed_hook.c"
