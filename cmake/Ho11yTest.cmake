# ho11y_unit_test(<source> LIBS <libs...> [TIMEOUT s] [LABELS ...])
# Builds one test program from tests/unit/<source> plus the test runner, and registers every
# TEST(case) found in the source as its own ctest test named unit.<stem>.<case>.
function(ho11y_unit_test source)
    cmake_parse_arguments(T "" "TIMEOUT" "LIBS;LABELS" ${ARGN})
    get_filename_component(stem ${source} NAME_WE)
    if(NOT T_TIMEOUT)
        set(T_TIMEOUT 60)
    endif()
    add_executable(${stem} ${source})
    target_link_libraries(${stem} PRIVATE ho11y_testmain ${T_LIBS})
    set_target_properties(${stem} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${source})
    file(STRINGS ${source} lines REGEX "^TEST\\([A-Za-z0-9_]+\\)")
    foreach(line ${lines})
        string(REGEX REPLACE "^TEST\\(([A-Za-z0-9_]+)\\).*" "\\1" case "${line}")
        add_test(NAME unit.${stem}.${case} COMMAND ${stem} ${case})
        set_tests_properties(unit.${stem}.${case} PROPERTIES TIMEOUT ${T_TIMEOUT}
            LABELS "unit;${T_LABELS}"
            ENVIRONMENT "HO11Y_SOURCE_DIR=${CMAKE_SOURCE_DIR};HO11Y_BIN_DIR=${CMAKE_BINARY_DIR}/bin;HO11Y_TEST_DATA=${CMAKE_SOURCE_DIR}/tests/data")
    endforeach()
endfunction()
