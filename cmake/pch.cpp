// Compiles the precompiled header (cmake/pch.hpp) once for the targets that reuse it.
