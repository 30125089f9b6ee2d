SELFTEST_BINS :=
selftests:
