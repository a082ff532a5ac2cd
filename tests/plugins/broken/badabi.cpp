// libkiln_backend_badabi.so: a plugin built for a newer ABI. The loader must refuse it after
// reading abi_version alone, so the rest of the table is deliberately left empty: a loader
// that touched it would crash here instead of failing cleanly.
#include "kiln/backend_abi.h"

extern "C" KILN_EXPORT const kiln_backend_i* kiln_backend_init(const kiln_host_i*, const char**) {
  static const kiln_backend_i table{KILN_BACKEND_ABI_VERSION + 1,
                                    "badabi",
                                    nullptr,
                                    nullptr,
                                    nullptr,
                                    nullptr,
                                    nullptr,
                                    nullptr,
                                    nullptr,
                                    nullptr,
                                    nullptr,
                                    nullptr,
                                    nullptr,
                                    nullptr,
                                    nullptr,
                                    nullptr};
  return &table;
}
