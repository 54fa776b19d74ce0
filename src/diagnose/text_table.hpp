// Plain-text tables for reports rendered inside the module (log-report's text and HTML pages).
#pragma once

#include <string>
#include <vector>

namespace dbmedic::diagnose {

// Columns padded to their widest cell; cells are cut at `max_width` characters with "...".
std::string RenderTextTable(const std::vector<std::string>& headers,
                            const std::vector<std::vector<std::string>>& rows,
                            std::size_t max_width = 80);

// SQL or message text on one line (newlines and tabs become spaces, runs of spaces collapse).
std::string OneLine(std::string_view text);

// Escapes &, <, >, " for HTML.
std::string HtmlEscape(std::string_view text);

}  // namespace dbmedic::diagnose
