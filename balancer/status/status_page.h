#pragma once

#include <string_view>

namespace balancer {

// The admin listener's live status page (balancer/status/status_page.html), compiled into the
// binary so that it is served with no file to install.
std::string_view statusPageHtml();

}  // namespace balancer
