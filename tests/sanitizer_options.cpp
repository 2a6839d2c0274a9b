// Built into every executable of the sanitizer build (IOTHUB_SANITIZE, make test-sanitize) and nowhere else.
// The sanitizer runtimes read these defaults before ASAN_OPTIONS / UBSAN_OPTIONS, which still override them.
//
// Every finding ends the process with kSanitizerExitCode (tests/integration/emulator_process.h), an exit status
// neither the emulator (0-2) nor the iothub CLI (0-5) uses, so a test that runs either as a child sees the finding
// even when it does not read the child's output. Reports go to stderr, which the tests capture.

extern "C" const char* __asan_default_options() {
  // detect_leaks: LeakSanitizer runs at a normal exit (the emulator exits normally on SIGTERM).
  return "exitcode=86:halt_on_error=1:detect_leaks=1:check_initialization_order=1:strict_init_order=1";
}

extern "C" const char* __ubsan_default_options() {
  // -fno-sanitize-recover=undefined already stops at the first finding; this gives it a stack and our exit code.
  return "exitcode=86:halt_on_error=1:print_stacktrace=1";
}
