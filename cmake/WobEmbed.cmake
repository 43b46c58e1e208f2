# WobEmbed.cmake - wob_embed(): embeds a web page's files into a program at
# build time (cmake/embed.cmake does the work; see it for the table it
# generates).  Used by the call worker's console and the broker's dashboard.
#
#   wob_embed(OUT <generated .c> DIR <folder of the files>
#             HEADER <header declaring TYPE> TYPE <asset struct> NAME <array>
#             FILES <file> ...)
#
# Add OUT to the sources of the target that serves the files; it is
# regenerated when a file (or embed.cmake) changes.
set(WOB_EMBED_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/embed.cmake)

function(wob_embed)
  cmake_parse_arguments(E "" "OUT;DIR;HEADER;TYPE;NAME" "FILES" ${ARGN})
  set(paths "")
  foreach(name IN LISTS E_FILES)
    list(APPEND paths ${E_DIR}/${name})
  endforeach()
  string(REPLACE ";" "," files_arg "${E_FILES}")
  add_custom_command(
    OUTPUT ${E_OUT}
    COMMAND ${CMAKE_COMMAND} -DDIR=${E_DIR} -DFILES=${files_arg} -DOUT=${E_OUT}
            -DHEADER=${E_HEADER} -DTYPE=${E_TYPE} -DNAME=${E_NAME} -P ${WOB_EMBED_SCRIPT}
    DEPENDS ${paths} ${WOB_EMBED_SCRIPT}
    COMMENT "embedding ${E_FILES}")
endfunction()
