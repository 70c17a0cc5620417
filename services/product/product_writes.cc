#include "services/product/product_writes.h"

#include <memory>
#include <optional>
#include <string>

#include "services/kit/identity.h"
#include "services/kit/reply.h"
#include "services/product/product_input.h"
#include "services/product/product_store.h"

namespace product {

namespace {

// The checked body of a POST or PUT, or nullopt once the 400 (or 415) is sent.
std::optional<ProductInput> readInput(const http::Request& request, InputMode mode,
                                      http::Responder& responder) {
  std::optional<kit::Json> body = kit::parseJsonObject(request, responder);
  if (!body) {
    return std::nullopt;
  }
  std::string error;
  std::optional<ProductInput> input = parseProductInput(*body, mode, &error);
  if (!input) {
    responder.send(kit::errorResponse(400, error));
  }
  return input;
}

// The product's URI behind the balancer (the contract's path, whichever route reached us).
std::string itemPath(int64_t id) { return "/api/products/" + std::to_string(id); }

http::Response notFound() { return kit::errorResponse(404, "product not found"); }

// The product an admin's PUT or DELETE names, or nullopt after answering 401, 403 or 404 (an
// id that is not a positive integer names no product).
std::optional<int64_t> adminTarget(const http::Request& request, const kit::Params& params,
                                   http::Responder& responder) {
  if (!kit::requireRole(kit::Identity::fromRequest(request), {"admin"}, responder)) {
    return std::nullopt;
  }
  int64_t id = params.id("id");
  if (id < 0) {
    responder.send(notFound());
    return std::nullopt;
  }
  return id;
}

}  // namespace

void ProductWrites::create(const http::Request& request, const kit::Params& /*params*/,
                           http::Responder responder) {
  if (!kit::requireRole(kit::Identity::fromRequest(request), {"admin"}, responder)) {
    return;
  }
  std::optional<ProductInput> input = readInput(request, InputMode::kCreate, responder);
  if (!input) {
    return;
  }
  struct Insert {
    ProductInput input;
    int64_t id = 0;
    std::string body;
  };
  auto insert = std::make_shared<Insert>();
  insert->input = std::move(*input);
  db_.run(
      [insert](pqxx::connection& conn) {
        std::tie(insert->id, insert->body) = insertProduct(conn, insert->input);
      },
      [this, insert, responder](std::exception_ptr error) mutable {
        if (error) {
          responder.send(kit::failureResponse(error, "product insert"));
          return;
        }
        // The new id may hold a cached 404 from a client that guessed it.
        cache_.invalidate(insert->id, [insert, responder]() mutable {
          http::Response response = http::Response::json(201, std::move(insert->body));
          response.headers.emplace_back("Location", itemPath(insert->id));
          responder.send(std::move(response));
        });
      });
}

void ProductWrites::update(const http::Request& request, const kit::Params& params,
                           http::Responder responder) {
  std::optional<int64_t> found = adminTarget(request, params, responder);
  if (!found) {
    return;
  }
  int64_t id = *found;
  std::optional<ProductInput> input = readInput(request, InputMode::kUpdate, responder);
  if (!input) {
    return;
  }
  struct Update {
    ProductInput input;
    std::optional<std::string> body;
  };
  auto update = std::make_shared<Update>();
  update->input = std::move(*input);
  db_.run([id, update](
              pqxx::connection& conn) { update->body = updateProduct(conn, id, update->input); },
          [this, id, update, responder](std::exception_ptr error) mutable {
            if (error) {
              responder.send(kit::failureResponse(error, "product update"));
              return;
            }
            if (!update->body) {
              responder.send(notFound());
              return;
            }
            cache_.invalidate(id, [id, update, responder]() mutable {
              // The body is the product as now stored: Content-Location names it, and a
              // cache in front drops what it holds for that URI (RFC 9111 4.4).
              http::Response response = http::Response::json(200, std::move(*update->body));
              response.headers.emplace_back("Content-Location", itemPath(id));
              responder.send(std::move(response));
            });
          });
}

void ProductWrites::remove(const http::Request& request, const kit::Params& params,
                           http::Responder responder) {
  std::optional<int64_t> found = adminTarget(request, params, responder);
  if (!found) {
    return;
  }
  int64_t id = *found;
  auto deleted = std::make_shared<bool>(false);
  db_.run([id, deleted](pqxx::connection& conn) { *deleted = deleteProduct(conn, id); },
          [this, id, deleted, responder](std::exception_ptr error) mutable {
            if (error) {
              responder.send(kit::failureResponse(error, "product delete"));
              return;
            }
            if (!*deleted) {
              responder.send(notFound());
              return;
            }
            cache_.invalidate(id, [responder]() mutable {
              http::Response response;
              response.status = 204;
              response.content_type.clear();
              responder.send(std::move(response));
            });
          });
}

}  // namespace product
