// libkiln_backend_failinit.so: a plugin that cannot start, like a GPU backend on a machine
// without a device. The loader must record the reason and skip it.
#include "kiln/backend_abi.h"

extern "C" KILN_EXPORT const kiln_backend_i* kiln_backend_init(const kiln_host_i*, const char** error) {
  if (error) *error = "simulated: no device present";
  return nullptr;
}
