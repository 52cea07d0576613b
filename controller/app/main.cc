// vmrelease-controller: see controller/app/app.h.
#include "controller/app/app.h"

int main(int argc, char** argv) { return vmrelease::app::Main(argc, argv); }
