# The packages torchtrain's headers need; shared by the build and the installed package config.
#
# LibTorch is the one inside the `torch` wheel (2.x): found where CMAKE_PREFIX_PATH or
# Torch_DIR says, else where the Python on PATH has it installed (torch.utils.cmake_prefix_path).
include(CMakeFindDependencyMacro)
if(NOT TARGET torch)
  find_package(Torch QUIET)
  if(NOT Torch_FOUND)
    find_program(TORCHTRAIN_PYTHON NAMES python3 python)
    if(TORCHTRAIN_PYTHON)
      execute_process(COMMAND ${TORCHTRAIN_PYTHON} -c "import torch; print(torch.utils.cmake_prefix_path, end='')"
                      OUTPUT_VARIABLE torchtrain_torch_prefix ERROR_QUIET RESULT_VARIABLE torchtrain_torch_missing)
    endif()
    if(NOT TORCHTRAIN_PYTHON OR torchtrain_torch_missing)
      message(FATAL_ERROR "torchtrain needs LibTorch 2.x: `pip install torch` (the wheel carries LibTorch), or set "
                          "CMAKE_PREFIX_PATH to a LibTorch folder")
    endif()
    find_dependency(Torch PATHS ${torchtrain_torch_prefix} NO_DEFAULT_PATH)
  endif()
endif()
if(Torch_VERSION VERSION_LESS 2.9)  # the oldest with every call torchtrain makes (the float32-precision setting)
  message(FATAL_ERROR "torchtrain needs LibTorch 2.9 or newer; found ${Torch_VERSION} (${TORCH_INSTALL_PREFIX}): "
                      "`pip install --upgrade torch`, or set CMAKE_PREFIX_PATH to a newer LibTorch")
endif()

# A CUDA wheel's libtorch_cuda needs the CUDA libraries of the `nvidia-*` wheels beside it
# (site-packages/nvidia/*/lib, named in its RPATH). A CUDA toolkit on the machine may carry
# older copies under the same names (CUDA 13.0's NCCL lacks symbols libtorch_cuda calls),
# which the linker and the loader would otherwise find first through LibTorch's own link
# directories. The wheels' folders go first, for the linker (-rpath-link) and for the program.
get_property(torchtrain_cuda_paths_set TARGET torch PROPERTY TORCHTRAIN_WHEEL_CUDA_PATHS SET)
if(NOT torchtrain_cuda_paths_set AND DEFINED TORCH_INSTALL_PREFIX)
  file(GLOB torchtrain_wheel_cuda_dirs LIST_DIRECTORIES true "${TORCH_INSTALL_PREFIX}/../nvidia/*/lib")
  if(torchtrain_wheel_cuda_dirs)
    list(JOIN torchtrain_wheel_cuda_dirs ":" torchtrain_wheel_cuda_path)
    set_property(TARGET torch APPEND PROPERTY INTERFACE_LINK_OPTIONS
                 "LINKER:-rpath-link,${torchtrain_wheel_cuda_path}" "LINKER:-rpath,${torchtrain_wheel_cuda_path}")
  endif()
  set_property(TARGET torch PROPERTY TORCHTRAIN_WHEEL_CUDA_PATHS "${torchtrain_wheel_cuda_dirs}")
endif()

find_dependency(Boost 1.71)  # Boost.Hana is header-only: Boost::headers
# Header-only: LibTorch wheels carry fmt's headers in their include folder, which comes before
# the system's, so the fmt that compiles is LibTorch's copy, whatever version the system's
# library is; header-only mode makes that copy complete on its own.
find_dependency(fmt)
find_dependency(ZLIB)
find_dependency(nlohmann_json 3.10)  # every JSON file: trainer_state.json, training_args.json, ...
