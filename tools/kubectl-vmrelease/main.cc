// kubectl-vmrelease: the kubectl plugin (`kubectl vmrelease ...` once this binary is on
// PATH). Everything lives in controller/cli; see docs/cli.md.
#include "controller/cli/app.h"

int main(int argc, char** argv) { return vmrelease::cli::Main(argc, argv); }
