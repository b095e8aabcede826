# `cmake --install`: headers under include/graphgrad/<folder>/, the static
# libraries, the mnist CLI, a CMake package (graphgradConfig.cmake + version
# file, namespaced targets graphgrad::graph, ::ops, ::backend_common,
# ::backends, ::vulkan, ::shaders, ::frontends and the umbrella
# graphgrad::graphgrad) and a pkg-config file (graphgrad.pc).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(GG_INSTALL_TARGETS gg_graph gg_ops gg_backend_common gg_backends gg_frontends)
if(GG_HAVE_VULKAN)
  list(APPEND GG_INSTALL_TARGETS gg_vulkan gg_shaders)
endif()
foreach(t IN LISTS GG_INSTALL_TARGETS)
  string(REGEX REPLACE "^gg_" "" export_name ${t})
  set_target_properties(${t} PROPERTIES EXPORT_NAME ${export_name} OUTPUT_NAME graphgrad_${export_name})
endforeach()

# One name for all of it.
add_library(gg_all INTERFACE)
target_link_libraries(gg_all INTERFACE gg_frontends gg_backends gg_ops gg_graph)
set_target_properties(gg_all PROPERTIES EXPORT_NAME graphgrad)
add_library(graphgrad::graphgrad ALIAS gg_all)

install(TARGETS ${GG_INSTALL_TARGETS} gg_all EXPORT graphgradTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS mnist RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(PROGRAMS ${CMAKE_SOURCE_DIR}/scripts/plot_curves.py DESTINATION ${CMAKE_INSTALL_DATADIR}/graphgrad)  # train --plot
# The public headers, listed: what a user's code includes and what those
# include. Kernel internals, geometry helpers and the exporter stay out.
set(GG_PUBLIC_HEADERS
    graph/attrs.h graph/autodiff.h graph/error.h graph/graph.h graph/op.h graph/shape.h
    ops/ops.h ops/op_table.h ops/eltwise.def ops/eltwise.h ops/optimizers.h ops/data_parallel.h
    backends/backend.h backends/node_view.h backends/user_kernels.h backends/comm/communicator.h
    frontends/augment.h frontends/batches.h frontends/checkpoint.h frontends/dataset.h frontends/idx.h frontends/layers.h
    frontends/layer_rules.h
    frontends/mnist_model.h frontends/png_grid.h frontends/progress.h frontends/sequential.h frontends/training_types.h
    frontends/schedules.h frontends/callbacks.h)
foreach(h IN LISTS GG_PUBLIC_HEADERS)
  get_filename_component(dir ${h} DIRECTORY)
  install(FILES ${CMAKE_SOURCE_DIR}/${h} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/graphgrad/${dir})
endforeach()

set(GG_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/graphgrad)
install(EXPORT graphgradTargets NAMESPACE graphgrad:: DESTINATION ${GG_CMAKE_DIR})
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/graphgradConfig.cmake.in
                              ${CMAKE_BINARY_DIR}/graphgradConfig.cmake INSTALL_DESTINATION ${GG_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/graphgradConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/graphgradConfig.cmake ${CMAKE_BINARY_DIR}/graphgradConfigVersion.cmake
        DESTINATION ${GG_CMAKE_DIR})

# pkg-config: the same libraries in link order, with what they need.
set(GG_PC_LIBS "-lgraphgrad_frontends -lgraphgrad_backends")
if(GG_HAVE_VULKAN)
  string(APPEND GG_PC_LIBS " -lgraphgrad_vulkan -lgraphgrad_shaders")
endif()
string(APPEND GG_PC_LIBS " -lgraphgrad_backend_common -lgraphgrad_ops -lgraphgrad_graph")
string(JOIN " " GG_PC_OPENBLAS ${OpenBLAS_LIBRARIES})
set(GG_PC_MPI "")
if(GG_HAVE_MPI)
  string(JOIN " " GG_PC_MPI ${MPI_CXX_LIBRARIES})
  list(TRANSFORM MPI_CXX_INCLUDE_DIRS PREPEND "-I" OUTPUT_VARIABLE gg_mpi_inc)
  string(JOIN " " GG_PC_MPI_CFLAGS ${gg_mpi_inc})
endif()
file(RELATIVE_PATH GG_PC_UP "${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig" "${CMAKE_INSTALL_PREFIX}")  # "../..": relocatable
configure_file(${CMAKE_SOURCE_DIR}/cmake/graphgrad.pc.in ${CMAKE_BINARY_DIR}/graphgrad.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/graphgrad.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
