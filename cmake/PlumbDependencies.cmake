# Every third-party package Plumb builds against. All come from Debian 12 (scripts/setup.sh).
find_package(Threads REQUIRED)
find_package(absl CONFIG REQUIRED)
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(yaml-cpp CONFIG REQUIRED)
find_package(spdlog CONFIG REQUIRED)
find_package(fmt CONFIG REQUIRED)
find_package(nlohmann_json CONFIG REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(OpenSSL REQUIRED)

# LibTorch: only the targets that need tensors link it (it costs ~0.35 s at process start-up and
# much compile time). A CUDA LibTorch is picked up through -DCMAKE_PREFIX_PATH.
find_package(Torch REQUIRED)

# cpp-httplib (serves /metrics). Debian ships it as a compiled library with a pkg-config file.
find_path(PLUMB_HTTPLIB_INCLUDE httplib.h REQUIRED)
find_library(PLUMB_HTTPLIB_LIBRARY cpp-httplib REQUIRED)
add_library(plumb_third_party_httplib INTERFACE)
target_include_directories(plumb_third_party_httplib SYSTEM INTERFACE ${PLUMB_HTTPLIB_INCLUDE})
target_compile_definitions(plumb_third_party_httplib INTERFACE CPPHTTPLIB_OPENSSL_SUPPORT)
target_link_libraries(plumb_third_party_httplib INTERFACE ${PLUMB_HTTPLIB_LIBRARY}
                      OpenSSL::SSL OpenSSL::Crypto)

find_library(PLUMB_XXHASH_LIBRARY xxhash REQUIRED)
find_path(PLUMB_XXHASH_INCLUDE xxhash.h REQUIRED)
add_library(plumb_third_party_xxhash INTERFACE)
target_include_directories(plumb_third_party_xxhash SYSTEM INTERFACE ${PLUMB_XXHASH_INCLUDE})
target_link_libraries(plumb_third_party_xxhash INTERFACE ${PLUMB_XXHASH_LIBRARY})

if(PLUMB_BUILD_TESTS)
  find_package(GTest CONFIG REQUIRED)
endif()
if(PLUMB_BUILD_BENCH)
  find_package(benchmark CONFIG REQUIRED)
endif()
