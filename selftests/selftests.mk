# SPDX-License-Identifier: GPL-2.0
# Test programs (included by the top-level Makefile).  The kselftest harness
# headers are extracted from Debian's linux-source at build time into
# build/kselftest/ and never committed.

KSFT_DIR	:= $(B)/kselftest
KSFT_HDRS	:= $(KSFT_DIR)/kselftest_harness.h $(KSFT_DIR)/kselftest.h
TEST_CFLAGS	:= -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare -Werror \
		   -I$(KSFT_DIR) -Iselftests -Iselftests/lib -I$(B)/images -Iinclude -Iinclude/uapi -Ikernel -pthread

TESTS		:= selftests/dump_test selftests/errors_test selftests/predump_test selftests/tree_test \
		   selftests/freeze_test selftests/spvm_abi_test selftests/parasite_test selftests/pipeline_test \
		   selftests/migrate_test selftests/spvm_wait_test selftests/spvm_populate_test
TESTS		+= selftests/footprint_test selftests/lazy_test
TESTS		+= selftests/track_test
TESTS		+= selftests/spvm_stable_test
TESTS		+= selftests/spvm_review_test
TESTS		+= selftests/spvm_race_test
TESTS		+= selftests/sync_test
TESTS		+= selftests/store_test selftests/receive_test selftests/restore_test
TESTS		+= selftests/front_test
SELFTEST_BINS	:= $(TESTS) selftests/spvm_fuzz selftests/lib/victim selftests/lib/execer \
		   selftests/lib/writer selftests/lib/victim-static
VTEST_O		:= $(B)/selftests/vtest.o $(B)/selftests/imgview.o $(B)/selftests/fvictim.o \
		   $(B)/selftests/wctl.o $(B)/selftests/twohosts.o \
		   $(B)/images/pagemap.pb-c.o

selftests: $(SELFTEST_BINS)

# one run makes both (&:), not one per header under -j
$(KSFT_HDRS) &:
	scripts/kselftest-headers.sh $(KSFT_DIR)

selftests/lib/victim: selftests/lib/victim.c selftests/lib/pattern.h
	$(CC) $(CFLAGS) $(TEST_CFLAGS) -o $@ $<

# the victim inside front_test's container, whose root holds no libraries
selftests/lib/victim-static: selftests/lib/victim.c selftests/lib/pattern.h
	$(CC) $(CFLAGS) $(TEST_CFLAGS) -static -o $@ $<

selftests/lib/writer: selftests/lib/writer.c selftests/lib/pattern.h
	$(CC) $(CFLAGS) $(TEST_CFLAGS) -o $@ $<

selftests/lib/execer: selftests/lib/execer.c selftests/lib/execer.h selftests/lib/pattern.h
	$(CC) $(CFLAGS) $(TEST_CFLAGS) -o $@ $<

$(B)/selftests/vtest.o $(B)/selftests/imgview.o $(B)/selftests/fvictim.o $(B)/selftests/wctl.o \
		$(B)/selftests/twohosts.o: \
		$(B)/selftests/%.o: selftests/lib/%.c selftests/lib/vtest.h selftests/lib/imgview.h \
		selftests/lib/fvictim.h selftests/lib/wctl.h selftests/lib/twohosts.h \
		selftests/lib/pattern.h $(PB_H)
	@mkdir -p $(B)/selftests
	$(CC) $(CFLAGS) $(TEST_CFLAGS) -c -o $@ $<

selftests/%_test: selftests/%_test.c $(VTEST_O) $(KSFT_HDRS) selftests/lib/vtest.h \
		  selftests/lib/imgview.h selftests/lib/spvm_entry.h selftests/lib/spvm_proc.h \
		  selftests/lib/procfile.h selftests/lib/hugetlb.h selftests/lib/methods.h \
		  selftests/lib/spvm_victim.h $(wildcard include/*.h)
	$(CC) $(CFLAGS) $(TEST_CFLAGS) -o $@ $< $(VTEST_O) -lprotobuf-c

# the victim it runs, built with it
selftests/freeze_test: selftests/lib/execer.h selftests/lib/execer

selftests/spvm_fuzz: selftests/spvm_fuzz.c selftests/lib/fuzz.h selftests/lib/spvm_race.h \
		     selftests/lib/spvm_entry.h selftests/lib/pattern.h \
		     $(KSFT_HDRS) $(wildcard include/*.h include/uapi/linux/*.h)
	$(CC) $(CFLAGS) $(TEST_CFLAGS) -o $@ $<

# static i386, /init of the 32-bit guest (selftests/vm/run-i386.sh); not in
# `all`: it needs gcc-multilib (scripts/deps.sh --guest)
selftests/spvm_i386_test: selftests/spvm_i386_test.c selftests/lib/pattern.h $(KSFT_HDRS) \
			  $(wildcard include/*.h include/uapi/linux/*.h)
	$(CC) $(CFLAGS) $(TEST_CFLAGS) -m32 -static -o $@ $<

# the receiver's store on its own, linked with the tool's objects it uses
STORE_TEST_O	:= $(B)/user/receive/store.o $(B)/user/log.o $(B)/user/util.o
selftests/store_test: selftests/store_test.c $(STORE_TEST_O) $(VTEST_O) $(KSFT_HDRS) \
		      selftests/lib/vtest.h selftests/lib/pattern.h user/receive/store.h
	$(CC) $(CFLAGS) $(TEST_CFLAGS) -Iuser -o $@ $< $(STORE_TEST_O) $(VTEST_O) -lprotobuf-c

# the restore daemon's runs of missing pages, linked from the tool's object
selftests/restore_test: selftests/restore_test.c $(B)/user/restore/runs.o $(VTEST_O) \
			$(KSFT_HDRS) selftests/lib/vtest.h user/restore/runs.h
	$(CC) $(CFLAGS) $(TEST_CFLAGS) -Iuser -o $@ $< $(B)/user/restore/runs.o $(VTEST_O) \
		-lprotobuf-c

# the final images it hands over by hand include an mm image
RECEIVE_TEST_PB	:= $(B)/images/mm.pb-c.o $(B)/images/vma.pb-c.o
selftests/receive_test: selftests/receive_test.c $(VTEST_O) $(RECEIVE_TEST_PB) $(KSFT_HDRS) \
			selftests/lib/vtest.h selftests/lib/imgview.h selftests/lib/twohosts.h
	$(CC) $(CFLAGS) $(TEST_CFLAGS) -o $@ $< $(VTEST_O) $(RECEIVE_TEST_PB) -lprotobuf-c

# memsplice-criu's tests speak criu's RPC (build/criu/rpc.pb-c.*, as the front)
selftests/front_test: selftests/front_test.c $(B)/criu/rpc.pb-c.o $(VTEST_O) $(KSFT_HDRS) \
		      selftests/lib/vtest.h selftests/lib/imgview.h selftests/lib/twohosts.h \
		      selftests/lib/victim-static user/memsplice-criu
	$(CC) $(CFLAGS) $(TEST_CFLAGS) -I$(B)/criu -o $@ $< $(B)/criu/rpc.pb-c.o $(VTEST_O) \
		-lprotobuf-c
