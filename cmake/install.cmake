# gothook install rules and package files (included by the top-level CMakeLists.txt).
#
# Installed layout (relative to the install prefix; the lib folder follows GNUInstallDirs):
#   include/gothook.h
#   lib/libgothook.a
#   lib/libgothook.so.<MAJOR>.<MINOR>.<PATCH>    SONAME libgothook.so.<MAJOR>.<MINOR>
#   lib/libgothook.so.<MAJOR>.<MINOR> -> libgothook.so.<MAJOR>.<MINOR>.<PATCH>
#   lib/libgothook.so -> libgothook.so.<MAJOR>.<MINOR>
#   lib/cmake/gothook/gothookConfig.cmake, gothookConfigVersion.cmake
#   lib/pkgconfig/gothook.pc
# Every package file locates the prefix relative to itself, so the installed tree may be moved.
#
# Inputs defined by the top-level CMakeLists.txt before this file is included:
#   GOTHOOK_STATIC, GOTHOOK_SHARED   the archive (cargo's, repacked) and cargo's shared library
#   GOTHOOK_SONAME                   libgothook.so.<MAJOR>.<MINOR> (set into the .so by capi/build.rs)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

foreach(dir CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_LIBDIR)
  if(IS_ABSOLUTE "${${dir}}")
    message(FATAL_ERROR "gothook: ${dir} must be relative to the prefix (the package is relocatable)")
  endif()
endforeach()

set(GOTHOOK_REALNAME "libgothook.so.${PROJECT_VERSION}")
set(GOTHOOK_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/gothook")
set(GOTHOOK_INSTALL_PKGCONFIGDIR "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
set(GOTHOOK_STAGE "${PROJECT_BINARY_DIR}/package")

# System libraries a static consumer must link besides libgothook.a.  Every symbol the archive
# leaves undefined (`nm -u`: dl_iterate_phdr, getauxval, mprotect, syscall, abort, mem*/str*,
# __errno_location) is defined by libc itself, on glibc (also before 2.34) and on musl, so the
# list is empty; the consumer tests link the archive with `-Wl,-z,defs` to keep this true.
set(GOTHOOK_STATIC_LINK_DEPS "")

# --- libraries and header -------------------------------------------------------------------
install(FILES "${PROJECT_SOURCE_DIR}/include/gothook.h"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
install(FILES "${GOTHOOK_STATIC}"
        DESTINATION "${CMAKE_INSTALL_LIBDIR}")
install(PROGRAMS "${GOTHOOK_SHARED}"
        DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        RENAME "${GOTHOOK_REALNAME}")
# The SONAME link and the development link, staged as relative symlinks and installed as such.
file(MAKE_DIRECTORY "${GOTHOOK_STAGE}/links")
file(CREATE_LINK "${GOTHOOK_REALNAME}" "${GOTHOOK_STAGE}/links/${GOTHOOK_SONAME}" SYMBOLIC)
file(CREATE_LINK "${GOTHOOK_SONAME}" "${GOTHOOK_STAGE}/links/libgothook.so" SYMBOLIC)
install(FILES "${GOTHOOK_STAGE}/links/${GOTHOOK_SONAME}" "${GOTHOOK_STAGE}/links/libgothook.so"
        DESTINATION "${CMAKE_INSTALL_LIBDIR}")

# --- CMake package --------------------------------------------------------------------------
configure_package_config_file(
  "${CMAKE_CURRENT_LIST_DIR}/gothookConfig.cmake.in"
  "${GOTHOOK_STAGE}/gothookConfig.cmake"
  INSTALL_DESTINATION "${GOTHOOK_INSTALL_CMAKEDIR}"
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_LIBDIR)
# 0.x: a release is compatible only with requests for the same MAJOR.MINOR (0.2 accepts 0.2 and
# 0.2.x, refuses 0.1, 0.3 and 1.0); the file also refuses a consumer of another pointer size.
write_basic_package_version_file(
  "${GOTHOOK_STAGE}/gothookConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMinorVersion)
install(FILES "${GOTHOOK_STAGE}/gothookConfig.cmake" "${GOTHOOK_STAGE}/gothookConfigVersion.cmake"
        DESTINATION "${GOTHOOK_INSTALL_CMAKEDIR}")

# --- pkg-config -----------------------------------------------------------------------------
# prefix is derived from ${pcfiledir} (the folder holding gothook.pc), so it stays right when
# the installed tree is moved.
file(RELATIVE_PATH GOTHOOK_PC_TO_PREFIX
     "/gothook-prefix/${GOTHOOK_INSTALL_PKGCONFIGDIR}" "/gothook-prefix")
string(REGEX REPLACE "/$" "" GOTHOOK_PC_TO_PREFIX "${GOTHOOK_PC_TO_PREFIX}")
set(GOTHOOK_PC_STATIC_LIBS "")
foreach(dep IN LISTS GOTHOOK_STATIC_LINK_DEPS)
  string(APPEND GOTHOOK_PC_STATIC_LIBS " -l${dep}")
endforeach()
configure_file("${CMAKE_CURRENT_LIST_DIR}/gothook.pc.in" "${GOTHOOK_STAGE}/gothook.pc" @ONLY)
install(FILES "${GOTHOOK_STAGE}/gothook.pc"
        DESTINATION "${GOTHOOK_INSTALL_PKGCONFIGDIR}")
