// The seed's sine regression, as a kiln user writes it (see examples/sine/sine_regression.cpp
// for the training loop). Usage: sine_regression [OUT_DIR]
#include <iostream>

#include "kiln/runtime/error.h"
#include "sine/sine_regression.h"

int main(int argc, char** argv) {
  kiln::examples::SineDemoOptions options;
  if (argc > 1) options.out_dir = argv[1];
  options.log = &std::cout;
  try {
    kiln::examples::run_sine_demo(options);
  } catch (const kiln::Error& e) {
    std::cerr << "sine_regression: error: " << e.what() << "\n";
    return 1;
  }
  std::cout << "figures written to " << options.out_dir << "/loss.svg and " << options.out_dir
            << "/predictions.svg\n";
  return 0;
}
