// runtime/page_assets.hpp: the files of the node's web page (runtime/page/), compiled into the
// binary: the build turns them into a source file (runtime/page/embed.cmake), so the page needs
// no build step of its own and loads nothing from elsewhere.
#pragma once

#include <string_view>
#include <vector>

namespace syncline::runtime {

/// One file of the page.
struct page_asset {
  /// Where it is served: `/` (index.html), `/page.css`, `/page.js`, `/icon.svg`.
  std::string_view path;
  /// Its `Content-Type`.
  std::string_view content_type;
  std::string_view body;
};

/// Every file of the page; static, valid for the life of the program.
const std::vector<page_asset>& page_assets();

}  // namespace syncline::runtime
