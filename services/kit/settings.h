#pragma once

// The settings every service reads through kit::App (each service declares its own at the
// top of its main.cc). `listen` is not here: its default is the service's own port, given
// to App.

#include <cstdint>
#include <string>

#include "common/util/units.h"
#include "services/kit/setting.h"

namespace kit::settings {

inline const Setting<std::string> kDatabaseUrl{
    "database.url", "postgresql://shop@127.0.0.1:25432/shop", "the PostgreSQL to use"};
inline const Setting<int64_t> kDatabasePoolSize{
    "database.pool_size", 6, "PostgreSQL connections (the uv thread pool gets two more)"};
inline const Setting<util::Millis> kDatabaseAcquireTimeout{
    "database.acquire_timeout", util::Millis(3000), "longest wait for a free connection"};
inline const Setting<std::string> kRedisAddress{"redis.address", "127.0.0.1:26379",
                                                "HOST:PORT of Redis"};
inline const Setting<util::Millis> kRedisTimeout{"redis.timeout", util::Millis(1000),
                                                 "a Redis command slower than this fails"};
inline const Setting<std::string> kRedisUsername{"redis.username", "",
                                                 "the Redis ACL user (empty: default)"};
inline const Setting<std::string> kRedisPasswordFile{
    "redis.password_file", "", "a file holding the Redis password (empty: no AUTH)"};
inline const Setting<std::string> kLogLevel{"log.level", "info", "debug, info, warn or error"};
inline const Setting<std::string> kLogFormat{"log.format", "text",
                                             "text, or json: one JSON object per line"};
inline const Setting<std::string> kMaxBodySize{"max_body_size", "1m",
                                               "largest request body; beyond: 413"};
inline const Setting<util::Millis> kShutdownTimeout{
    "shutdown_timeout", util::Millis(10000), "how long SIGTERM waits for in-flight requests"};

}  // namespace kit::settings
