#include <exception>
#include <iostream>

#include "brandcoach/cli/cli.hpp"

int main(int argc, char** argv) {
  try {
    return brandcoach::cli::run(argc, argv);
  } catch (const std::exception& e) {
    // Expected failures are values; reaching here is a bug or a broken environment.
    std::cerr << "brandcoach: fatal: " << e.what() << "\n";
    return 1;
  }
}
