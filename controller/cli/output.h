// Output of kubectl-vmrelease: aligned tables (colour only when asked, i.e. on a
// terminal), JSON, and YAML rendered from the same JSON.
//
//   Table t({"IMAGE", "DEV", "PRODUCTION"});
//   t.Add({{"app"}, {"1.1.0", Colour::kGreen}, {"1.0.0 (behind 1)", Colour::kYellow}});
//   t.Print(std::cout, /*colour=*/isatty(1));
//   std::cout << JsonToYaml(obj);
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

namespace vmrelease::cli {

enum class Colour { kNone, kGreen, kYellow, kRed, kBold };

struct Cell {
  std::string text;
  Colour colour = Colour::kNone;
  Cell(std::string t, Colour c = Colour::kNone) : text(std::move(t)), colour(c) {}  // NOLINT
  Cell(const char* t, Colour c = Colour::kNone) : text(t), colour(c) {}             // NOLINT
};

class Table {
 public:
  explicit Table(std::vector<std::string> headers);
  void Add(std::vector<Cell> row);
  bool empty() const { return rows_.empty(); }
  // Columns separated by three spaces, as kubectl prints; the colour codes wrap the
  // padded text so alignment is the same with and without colour.
  void Print(std::ostream& out, bool colour) const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<Cell>> rows_;
};

std::string Paint(const std::string& text, Colour colour, bool enabled);

// Block-style YAML of a JSON value; strings that YAML would read as something else
// (numbers, booleans, null, empty) are quoted. Ends with a newline.
std::string JsonToYaml(const nlohmann::json& value);

}  // namespace vmrelease::cli
