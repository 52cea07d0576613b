// vmrelease-controller's main: reads flags and configuration, starts the
// informers, controllers, event recorder, metrics endpoint and (optionally)
// leader election, and shuts all of it down in order on SIGINT/SIGTERM.
//
//   int main(int argc, char** argv) { return vmrelease::app::Main(argc, argv); }
//
// Exit codes: 0 after a clean shutdown; 1 when the configuration is unusable,
// the API server cannot be reached at start, or leadership was lost; 2 for bad
// flags. A second SIGINT/SIGTERM during shutdown exits at once (code 1).
// Shutdown order: stop leading (controllers finish in-flight reconciles,
// bounded by --graceful-shutdown-timeout), release the Lease, stop watches,
// flush nothing further (events are best effort), stop the metrics endpoint.
#pragma once

#include "controller/app/options.h"

namespace vmrelease::app {

int Main(int argc, char** argv);
// Runs until a termination signal (or lost leadership). Signals SIGINT,
// SIGTERM and SIGUSR1 must be blocked in every thread; Main() does that.
int Run(const Options& options);

}  // namespace vmrelease::app
