# `cmake --install build [--prefix DIR]`: the tools, the mlir-opt plugin,
# libslim-runtime.so with its header and pkg-config file, the dialect and
# pass libraries with their headers, and a CMake package (find_package(Slim))
# with imported targets Slim::SlimDialect, Slim::SlimTransforms, ...,
# Slim::slim-runtime. Headers go under <prefix>/include/slim/: the public
# ones (slim/InitAll.h, slim/Runtime.h) and, below them, the headers those
# include by their path in the repository (dialects/..., passes/...).
# slimc finds libSlimModelSupport.a as ../lib next to itself.
set(CMAKE_INSTALL_LIBDIR lib CACHE PATH "Object code libraries (lib)")
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# Installed tools find libslim-runtime and libSlimModelSupport.a in ../lib
# and Debian's libMLIR/libLLVM where they are.
set_target_properties(slimc slim-run slim-opt slim-import-onnx PROPERTIES
  INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR};${LLVM_LIBRARY_DIR}")
set_target_properties(SlimPlugin slim-runtime PROPERTIES
  INSTALL_RPATH "$ORIGIN;${LLVM_LIBRARY_DIR}")

install(TARGETS slimc slim-run slim-opt slim-import-onnx
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS SlimPlugin LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
# slimc links every model against it, found next to slimc as ../lib.
install(TARGETS SlimModelSupport ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})

set(SLIM_EXPORTED_LIBS SlimDialect SlimCompression SlimConversion
    SlimTransforms SlimPipelines SlimVersion SlimJson slim-runtime)
foreach(lib ${SLIM_EXPORTED_LIBS})
  target_include_directories(${lib} INTERFACE
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}/slim>)
endforeach()
install(TARGETS ${SLIM_EXPORTED_LIBS} EXPORT SlimTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(EXPORT SlimTargets NAMESPACE Slim::
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Slim)

install(FILES include/slim/InitAll.h include/slim/Runtime.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/slim)
foreach(dir dialects/Slim/IR passes/Conversion passes/Pipelines
            passes/Transforms lib/Compression lib/Support)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${dir}/
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/slim/${dir}
          FILES_MATCHING PATTERN "*.h")
  install(DIRECTORY ${PROJECT_BINARY_DIR}/${dir}/
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/slim/${dir}
          FILES_MATCHING PATTERN "*.inc"
          PATTERN "CMakeFiles" EXCLUDE)
endforeach()

configure_package_config_file(
  ${PROJECT_SOURCE_DIR}/cmake/SlimConfig.cmake.in
  ${PROJECT_BINARY_DIR}/SlimConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Slim
  PATH_VARS CMAKE_INSTALL_BINDIR CMAKE_INSTALL_LIBDIR)
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/SlimConfigVersion.cmake
  VERSION ${SLIM_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/SlimConfig.cmake
              ${PROJECT_BINARY_DIR}/SlimConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Slim)

configure_file(${PROJECT_SOURCE_DIR}/cmake/slim-runtime.pc.in
               ${PROJECT_BINARY_DIR}/slim-runtime.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/slim-runtime.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
