// The controller's version and the git commit it was built from.
//
//   std::cout << "vmrelease-controller " << Version() << " (commit " << GitCommit() << ")\n";
//
// Version() is the CMake project version; GitCommit() is `git rev-parse --short=12 HEAD`
// when the binary was built (with "-dirty" when tracked files had uncommitted changes), or
// "unknown" when built outside a git checkout. The definitions are generated on every build
// by cmake/GitVersion.cmake, so a new commit needs a rebuild but no reconfigure.
#pragma once

namespace vmrelease::app {

const char* Version();
const char* GitCommit();

}  // namespace vmrelease::app
