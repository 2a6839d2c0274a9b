// What a fuzz target does when a property it checks does not hold: print it and
// abort, so libFuzzer records the input as a crash.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace iothub::fuzz {

inline void Check(bool condition, const char* property) {
  if (!condition) {
    std::fprintf(stderr, "property violated: %s\n", property);
    std::abort();
  }
}

}  // namespace iothub::fuzz
