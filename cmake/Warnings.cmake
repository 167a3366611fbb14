# Warning flags for every target of the project (STYLE.md: CI builds with warnings as errors).
set(HO11Y_WARNINGS
    -Wall -Wextra -Wshadow -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes
    -Wold-style-definition -Wpointer-arith -Wcast-qual -Wwrite-strings -Wundef
    -Wvla -Wnull-dereference -Wimplicit-fallthrough -Wno-unused-parameter)
if(HO11Y_WERROR)
    list(APPEND HO11Y_WARNINGS -Werror)
endif()
add_compile_options(${HO11Y_WARNINGS} -fno-common)
