// Catch2 v2's main, compiled once for every unit-test executable (it is the slowest file to
// compile, a minute under the sanitizers).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
