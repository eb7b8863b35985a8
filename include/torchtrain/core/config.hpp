// How this translation unit gets torchtrain's code that does not depend on the user's types.
#pragma once

// TORCHTRAIN_HEADER_ONLY (default 1): every definition is in the headers, as for any
// header-only library; nothing to link. With TORCHTRAIN_HEADER_ONLY=0 (the CMake target
// torchtrain::compiled sets it), the headers declare that code and the library
// libtorchtrain_compiled (src/torchtrain.cpp) defines it once, so a program compiles only
// what depends on its own types: the step loop for its model, data, loss and policies.
#ifndef TORCHTRAIN_HEADER_ONLY
#define TORCHTRAIN_HEADER_ONLY 1
#endif

// TORCHTRAIN_DEFINITIONS: whether this translation unit compiles those definitions (header
// only, or the library's own source). TORCHTRAIN_INLINE marks their declarations and
// definitions: `inline` when every program compiles them, nothing when one library does.
#if TORCHTRAIN_HEADER_ONLY
#define TORCHTRAIN_DEFINITIONS 1
#define TORCHTRAIN_INLINE inline
#elif defined(TORCHTRAIN_COMPILING_LIBRARY)
#define TORCHTRAIN_DEFINITIONS 1
#define TORCHTRAIN_INLINE
#else
#define TORCHTRAIN_DEFINITIONS 0
#define TORCHTRAIN_INLINE
#endif
