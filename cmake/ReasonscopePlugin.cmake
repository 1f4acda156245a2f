# reasonscope_add_plugin(<target> <source.cpp> [METADATA <file.json>]
#                        [OUTPUT_DIRECTORY <dir>] [INSTALL_DESTINATION <dir>])
#
# A strategy or scorer plugin: a Qt plugin (MODULE library, no "lib" prefix)
# linked to the plugin API, with its JSON metadata compiled in by moc. The
# metadata defaults to <target>.json beside the source; a change to it
# rebuilds the plugin. The source uses RS_STRATEGY_PLUGIN or
# RS_SCORER_PLUGIN (or writes the Qt class itself) and includes
# "<source name>.moc". Used by the project's own plugins and, through
# find_package(Reasonscope), by plugins built outside the project.
function(reasonscope_add_plugin target source)
  cmake_parse_arguments(ARG "" "METADATA;OUTPUT_DIRECTORY;INSTALL_DESTINATION" "" ${ARGN})
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "reasonscope_add_plugin(${target}): unknown arguments ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  get_filename_component(source_abs ${source} ABSOLUTE)
  if(NOT ARG_METADATA)
    get_filename_component(source_dir ${source_abs} DIRECTORY)
    set(ARG_METADATA ${source_dir}/${target}.json)
  endif()
  get_filename_component(metadata_abs ${ARG_METADATA} ABSOLUTE)
  if(NOT EXISTS ${metadata_abs})
    message(FATAL_ERROR "reasonscope_add_plugin(${target}): metadata file ${metadata_abs} not found")
  endif()
  add_library(${target} MODULE ${source_abs})
  set_source_files_properties(${source_abs} PROPERTIES OBJECT_DEPENDS ${metadata_abs})
  target_link_libraries(${target} PRIVATE Reasonscope::plugin_api)
  set_target_properties(${target} PROPERTIES AUTOMOC ON PREFIX "")
  set_property(TARGET ${target} APPEND PROPERTY AUTOMOC_MACRO_NAMES RS_STRATEGY_PLUGIN RS_SCORER_PLUGIN)
  if(ARG_OUTPUT_DIRECTORY)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIRECTORY})
  endif()
  if(ARG_INSTALL_DESTINATION)
    install(TARGETS ${target} LIBRARY DESTINATION ${ARG_INSTALL_DESTINATION})
  endif()
endfunction()
