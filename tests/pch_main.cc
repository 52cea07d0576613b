// The target that owns the test executables' shared precompiled header
// (tests/CMakeLists.txt); it has no tests of its own.
int main() { return 0; }
