// Test double for FdTableSource: hands out a fixed table (or a fixed error) and counts reads.
#pragma once

#include <optional>
#include <utility>

#include "collect/fd_table.h"

namespace cd::test {

class FakeFdTableSource : public FdTableSource {
 public:
  explicit FakeFdTableSource(FdTable table) : table(std::move(table)) {}
  explicit FakeFdTableSource(Error error) : error(std::move(error)) {}

  Result<FdTable> read() override {
    ++reads;
    if (error) return std::unexpected(*error);
    return table;
  }

  FdTable table;
  std::optional<Error> error;
  int reads = 0;
};

}  // namespace cd::test
