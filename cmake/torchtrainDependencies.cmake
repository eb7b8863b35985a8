# The packages torchtrain's headers need; shared by the build and the installed package config.
include(CMakeFindDependencyMacro)
if(NOT TARGET torch)
  find_dependency(Torch)
endif()
find_dependency(Boost 1.71)  # Boost.Hana is header-only: Boost::headers
find_dependency(fmt)
find_dependency(ZLIB)
find_dependency(nlohmann_json 3.10)  # every JSON file: trainer_state.json, training_args.json, ...
