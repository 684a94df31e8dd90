/* C consumer of the installed gothook package; see app_common.h. */
#define APP_LANG "C"
#include "app_common.h"

int main(int argc, char **argv) { return app_main(argc, argv); }
