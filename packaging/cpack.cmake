# `make package`: a Debian package of the app, its plugins and resources,
# the Python module and the plugin SDK.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME reasonscope)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Workbench for LLM reasoning traces: inference-time search on local GGUF models")
set(CPACK_PACKAGE_CONTACT "Reasonscope developers <reasonscope@localhost>")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# `import reasonscope` needs python3; building plugins against the SDK
# (include/reasonscope, lib/cmake/Reasonscope) needs these.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "python3")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "cmake, g++, qt6-base-dev, nlohmann-json3-dev")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
include(CPack)
