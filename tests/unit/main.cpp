// The doctest runner of the unit tests.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include "testing.hpp"
