# Read by cpack when it runs (CPACK_PROJECT_CONFIG_FILE): the version of the commit being
# packaged, not of the one the build directory was configured at.
include(${CPACK_CONNDOCTOR_CMAKE_DIR}/deb_version.cmake)
conndoctor_deb_version(${CPACK_CONNDOCTOR_SOURCE_DIR} ${CPACK_CONNDOCTOR_PROJECT_VERSION}
                       CPACK_PACKAGE_VERSION)
