# tools/install_service.cmake: the part of `cmake --install` (and of cpack) whose paths depend on
# the prefix given at install time, not at configure time. tools/CMakeLists.txt sets
# SYNCLINE_SOURCE_DIR, SYNCLINE_STAGING_DIR and the relative SYNCLINE_{BIN,UNIT,DOC}_DIR first.
#
# - syncline.service, with ExecStart naming the binary under this prefix;
# - <sysconfdir>/syncline/syncline.toml, the node's configuration, installed only when there is
#   none yet (a reinstall keeps the one an admin edited; the .deb marks it a conffile).
# sysconfdir follows GNUInstallDirs: /etc for the prefix /usr (the .deb), <prefix>/etc else.
# file(INSTALL) honours DESTDIR, which cpack sets to its staging directory.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(SYNCLINE_SYSCONFDIR "/etc")
else()
  set(SYNCLINE_SYSCONFDIR "${CMAKE_INSTALL_PREFIX}/etc")
endif()
set(SYNCLINE_BINDIR "${CMAKE_INSTALL_PREFIX}/${SYNCLINE_BIN_DIR}")
set(SYNCLINE_DOCDIR "${CMAKE_INSTALL_PREFIX}/${SYNCLINE_DOC_DIR}")
configure_file("${SYNCLINE_SOURCE_DIR}/tools/syncline.service.in"
               "${SYNCLINE_STAGING_DIR}/syncline.service" @ONLY)
file(INSTALL DESTINATION "${CMAKE_INSTALL_PREFIX}/${SYNCLINE_UNIT_DIR}" TYPE FILE
     FILES "${SYNCLINE_STAGING_DIR}/syncline.service")

set(_config "${SYNCLINE_SYSCONFDIR}/syncline/syncline.toml")
if(EXISTS "$ENV{DESTDIR}${_config}")
  message(STATUS "Keeping: $ENV{DESTDIR}${_config} (the example is in ${SYNCLINE_DOCDIR}/examples)")
else()
  file(INSTALL DESTINATION "${SYNCLINE_SYSCONFDIR}/syncline" TYPE FILE
       FILES "${SYNCLINE_SOURCE_DIR}/tools/syncline.toml")
endif()
