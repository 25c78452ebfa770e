//===- shared_library.cpp - libdynaspa_runtime.so ---------------------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Intentionally empty: the shared library is the static one linked whole
// (runtime/CMakeLists.txt); CMake needs a source for a SHARED target.
//
//===----------------------------------------------------------------------===//
