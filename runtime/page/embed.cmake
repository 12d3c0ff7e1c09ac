# runtime/page/embed.cmake: writes OUT, a C++ source holding the node's page (the files of this
# folder) as raw string literals, so the binary serves it without reading anything at run time.
# Run by the build (runtime/CMakeLists.txt) whenever one of the files changes:
#   cmake -DIN_DIR=<this folder> -DOUT=<file.cpp> -P embed.cmake
# file|path|type (text types are served as UTF-8)
set(files
  "index.html|/|text/html"
  "page.css|/page.css|text/css"
  "page.js|/page.js|text/javascript"
  "icon.svg|/icon.svg|image/svg+xml")
set(delimiter "syncline_page")
set(body "")
foreach(entry IN LISTS files)
  string(REPLACE "|" ";" parts "${entry}")
  list(GET parts 0 file)
  list(GET parts 1 path)
  list(GET parts 2 type)
  if(type MATCHES "^text/")
    string(APPEND type "; charset=utf-8")
  endif()
  file(READ "${IN_DIR}/${file}" text)
  string(FIND "${text}" ")${delimiter}\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${file} holds the raw string delimiter )${delimiter}\"")
  endif()
  string(APPEND body "    {\"${path}\", \"${type}\", R\"${delimiter}(${text})${delimiter}\"},\n")
endforeach()
file(WRITE "${OUT}"
  "// Generated from runtime/page/ by runtime/page/embed.cmake: edit those files, not this one.\n"
  "#include \"runtime/page_assets.hpp\"\n\n"
  "namespace syncline::runtime {\n\n"
  "const std::vector<page_asset>& page_assets() {\n"
  "  static const std::vector<page_asset> assets{\n"
  "${body}"
  "  };\n"
  "  return assets;\n"
  "}\n\n"
  "}  // namespace syncline::runtime\n")
