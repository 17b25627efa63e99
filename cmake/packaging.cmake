# The Debian package: `cpack -G DEB` in the build directory writes conndoctor_VERSION_amd64.deb
# with the binary, conndoctor(8), bash and zsh completion, the systemd unit and its defaults
# (/etc/default/conndoctor), the Prometheus rules and the Grafana dashboard. Sources under
# packaging/; the version comes from `git describe` (cmake/deb_version.cmake).
include(GNUInstallDirs)
include(${CMAKE_CURRENT_LIST_DIR}/deb_version.cmake)
set(CONNDOCTOR_DEB_MAINTAINER
    "conndoctor maintainers <maintainers@users.noreply.r-seed-fe960d81.example>"
    CACHE STRING "Maintainer field of the Debian package (and its changelog)")

# The man page is scdoc source (packaging/conndoctor.8.scd), rendered at build time (docs/design.md
# says why). Without scdoc the binary still builds; the man page and the package do not.
find_program(SCDOC scdoc)
if(NOT SCDOC)
  message(WARNING "conndoctor(8) and the Debian package disabled: scdoc missing "
                  "(scripts/install-deps.sh installs it)")
  return()
endif()

set(PKG_SRC ${PROJECT_SOURCE_DIR}/packaging)
set(PKG_OUT ${CMAKE_BINARY_DIR}/packaging)
file(MAKE_DIRECTORY ${PKG_OUT})
add_custom_command(
  OUTPUT ${PKG_OUT}/conndoctor.8 ${PKG_OUT}/conndoctor.8.gz
  COMMAND sh -c "'${SCDOC}' < '${PKG_SRC}/conndoctor.8.scd' > '${PKG_OUT}/conndoctor.8'"
  COMMAND sh -c "gzip -9n < '${PKG_OUT}/conndoctor.8' > '${PKG_OUT}/conndoctor.8.gz'"
  DEPENDS ${PKG_SRC}/conndoctor.8.scd
  COMMENT "Rendering conndoctor(8) with scdoc"
  VERBATIM)
add_custom_target(conndoctor_man ALL DEPENDS ${PKG_OUT}/conndoctor.8.gz)

# Debian's hardening linker flags (lintian: hardening-no-relro, hardening-no-bindnow). Not
# -D_FORTIFY_SOURCE=2: a compile flag of every object (the project's choice, lintian's
# hardening-no-fortify-functions is information only).
target_link_options(conndoctor PRIVATE -Wl,-z,relro -Wl,-z,now)

# The unit of deploy/systemd with Debian's paths: the packaged binary, and serve's options in
# /etc/default/conndoctor (a conffile) so that an upgrade never overwrites the admin's choice.
set(deploy_unit ${PROJECT_SOURCE_DIR}/deploy/systemd/conndoctor.service)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${deploy_unit})
file(READ ${deploy_unit} unit)
set(exec_start "ExecStart=/usr/local/bin/conndoctor serve --listen 127.0.0.1:9877 --min-interval 5")
string(FIND "${unit}" "${exec_start}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "deploy/systemd/conndoctor.service no longer has the line\n  ${exec_start}\n"
                      "update cmake/packaging.cmake and packaging/conndoctor.default with it")
endif()
string(REPLACE "${exec_start}"
       "EnvironmentFile=-/etc/default/conndoctor\nExecStart=/usr/bin/conndoctor serve $CONNDOCTOR_SERVE_OPTS"
       unit "${unit}")
string(REPLACE "/usr/local/bin/conndoctor" "/usr/bin/conndoctor" unit "${unit}")
string(REPLACE "[Unit]\n" "[Unit]\nDocumentation=man:conndoctor(8)\n" unit "${unit}")
file(WRITE ${PKG_OUT}/conndoctor.service "${unit}")

# What the package holds (CPACK_PACKAGING_INSTALL_PREFIX is /usr: relative paths land there).
install(TARGETS conndoctor RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# Stripped as dh_strip does (CPACK_STRIP_FILES would leave .comment behind).
install(CODE "execute_process(COMMAND ${CMAKE_STRIP} --remove-section=.comment
  --remove-section=.note --strip-unneeded
  \$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/conndoctor
  COMMAND_ERROR_IS_FATAL ANY)")
# The Chinese catalogue, where util/i18n looks beside /usr/bin (docs/i18n.md).
install(FILES ${CMAKE_BINARY_DIR}/locale/zh_CN/LC_MESSAGES/conndoctor.mo
        DESTINATION ${CMAKE_INSTALL_LOCALEDIR}/zh_CN/LC_MESSAGES)
install(FILES ${PKG_OUT}/conndoctor.8.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES ${PKG_SRC}/completion/conndoctor.bash
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME conndoctor)
install(FILES ${PKG_SRC}/completion/_conndoctor
        DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions)
install(FILES ${PKG_OUT}/conndoctor.service DESTINATION lib/systemd/system)
install(FILES ${PKG_SRC}/conndoctor.default DESTINATION /etc/default RENAME conndoctor)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/prometheus/conndoctor-rules.yml
        DESTINATION ${CMAKE_INSTALL_DATADIR}/conndoctor/prometheus)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/grafana/conndoctor-dashboard.json
        DESTINATION ${CMAKE_INSTALL_DATADIR}/conndoctor/grafana)
install(FILES ${PKG_SRC}/copyright DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/conndoctor)
install(FILES ${PKG_SRC}/lintian-overrides DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides
        RENAME conndoctor)
# changelog.gz (native: the package is built from upstream's own tree) names the version, so it
# is written when the package is made.
install(CODE "
  include(${CMAKE_CURRENT_LIST_DIR}/deb_version.cmake)
  conndoctor_deb_version(${PROJECT_SOURCE_DIR} ${PROJECT_VERSION} v)
  string(TIMESTAMP date \"%a, %d %b %Y %H:%M:%S +0000\" UTC)
  set(doc \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DATADIR}/doc/conndoctor\")
  file(WRITE \${doc}/changelog \"conndoctor (\${v}) unstable; urgency=medium\\n\\n  * Built from git: \${v}.\\n\\n -- ${CONNDOCTOR_DEB_MAINTAINER}  \${date}\\n\")
  execute_process(COMMAND gzip -9nf \${doc}/changelog COMMAND_ERROR_IS_FATAL ANY)
")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME conndoctor)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "which connection resource is running out, why, and what to do")
# The long description, a line per list item (cpack indents them; an empty item, " .", ends a
# paragraph).
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "conndoctor diagnoses connection-resource exhaustion on Linux: ephemeral ports"
    "per (source, destination, port) tuple, file descriptors per process, conntrack"
    "and SNAT, accept queues, TIME_WAIT. It says which resource is closest to its"
    "limit, in which layer the root cause sits, and what to do, in order of benefit"
    "and risk."
    ""
    "It also reproduces each failure in a throwaway network namespace (lab), traces"
    "failed connects with BPF (trace), records a history (watch) and exports"
    "Prometheus metrics (serve, with the unit conndoctor.service, not enabled on"
    "installation).")
list(JOIN CPACK_DEBIAN_PACKAGE_DESCRIPTION "\n" CPACK_DEBIAN_PACKAGE_DESCRIPTION)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CONNDOCTOR_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # Depends: from dpkg-shlibdeps
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # conndoctor_VERSION_ARCH.deb
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PKG_SRC}/conffiles ${PKG_SRC}/prerm ${PKG_SRC}/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# The version is computed again when cpack runs (not frozen at configure time).
set(CPACK_PROJECT_CONFIG_FILE ${CMAKE_CURRENT_LIST_DIR}/cpack_config.cmake)
set(CPACK_CONNDOCTOR_CMAKE_DIR ${CMAKE_CURRENT_LIST_DIR})  # CPACK_*: seen by cpack_config.cmake
set(CPACK_CONNDOCTOR_SOURCE_DIR ${PROJECT_SOURCE_DIR})
set(CPACK_CONNDOCTOR_PROJECT_VERSION ${PROJECT_VERSION})
conndoctor_deb_version(${PROJECT_SOURCE_DIR} ${PROJECT_VERSION} CPACK_PACKAGE_VERSION)
include(CPack)
