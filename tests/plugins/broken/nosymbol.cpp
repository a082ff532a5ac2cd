// libkiln_backend_nosymbol.so: a shared library named like a plugin that does not export
// kiln_backend_init (it exports a different function instead).
#include "kiln/backend_abi.h"

extern "C" KILN_EXPORT int kiln_backend_start() { return 0; }
