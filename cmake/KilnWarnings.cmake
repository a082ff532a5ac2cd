# Warnings are errors in kiln's own code; third-party headers come in as SYSTEM includes.
option(KILN_WERROR "Treat warnings as errors in kiln's own code" ON)

function(kiln_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wnon-virtual-dtor
                                           -Wno-missing-field-initializers)
  if(KILN_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
