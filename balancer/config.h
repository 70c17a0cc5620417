#pragma once

// The configuration's structs and loader live in balancer/config/; this header keeps the
// include path that the rest of the tree uses.
#include "balancer/config/config.h"
