# SPDX-License-Identifier: GPL-2.0
# memsplice top-level Makefile.
#
#   make            build user/memsplice, user/memsplice-criu (and the test programs)
#   make tool       the two alone (what the Debian package builds)
#   make demo       pre-dump a demo workload twice, dump it, show the images
#   make check      every test: host kernel, then QEMU guests (6.1, 6.12)
#   make bench      side-by-side benchmark (guest)
#   make install    DESTDIR= PREFIX=/usr/local
#   make deb        Debian packages memsplice and memsplice-dkms in build/deb/
#
# demo, check and bench first install the missing Debian packages
# (scripts/deps.sh), then build in a sub-make: this Makefile and
# user/source/parasite/parasite.mk ask compel and pkg-config for flags while they
# are read, which is only right once the packages are there.  check ends
# with selftests/fresh-root.sh: `make demo` on a pristine Debian 12 root.

PREFIX		?= /usr/local
SBINDIR		?= $(PREFIX)/sbin
MANDIR		?= $(PREFIX)/share/man
B		:= build

CC		?= gcc
CFLAGS		?= -O2 -g
WARN		:= -Wall -Wextra -Wno-unused-parameter -Wformat=2 -Wshadow -Werror
XCFLAGS		:= -std=gnu11 -D_GNU_SOURCE $(WARN) -Iuser -I$(B)/images -I$(B)/criu -Iinclude \
		   -Iinclude/uapi -Ikernel \
		   $(shell pkg-config --cflags libprotobuf-c 2>/dev/null)
LIBS		:= -lprotobuf-c -lcap -lkmod -lgnutls

PROTOS		:= $(wildcard images/*.proto)
PB_C		:= $(PROTOS:images/%.proto=$(B)/images/%.pb-c.c)
PB_H		:= $(PB_C:.c=.h)
PB_O		:= $(PB_C:.c=.o)

# user/: the pipeline, one folder per stage (README, "Layout")
USER_SRCS	:= main.c dump.c xfer.c checkpoint.c postcopy.c criu.c check.c show.c log.c util.c \
		   tree/pstree.c tree/target.c \
		   collect/collect.c collect/vma.c collect/mm.c collect/pagemap.c \
		   collect/pagemap-scan.c collect/parent.c collect/smaps.c \
		   track/uffd.c track/huge.c track/forks.c track/shm.c \
		   source/select.c source/read.c source/spvm.c source/device.c source/syscall.c source/procmem.c \
		   source/parasite/source.c source/parasite/ctl.c \
		   proto/pageserver.c proto/listen.c proto/tls.c serve/lazy.c sink/image.c sink/pageserver.c \
		   receive/receive.c receive/session.c receive/store.c receive/flat.c receive/images.c \
		   receive/vmas.c \
		   sink/handover.c \
		   restore/restore.c restore/daemon.c restore/fill.c restore/mark.c restore/runs.c \
		   restore/remote.c \
		   images/image.c images/imgset.c images/stats.c images/sync.c
USER_H		:= $(wildcard user/*.h user/*/*.h user/*/*/*.h)
USER_O		:= $(USER_SRCS:%.c=$(B)/user/%.o)

# user/front/: memsplice-criu, the criu binary to give a container engine
FRONT_O		:= $(B)/user/front/front.o $(B)/user/front/predump.o
# criu's RPC, from the rpc.proto the criu package installs
CRIU_RPC	:= /usr/include/criu/rpc.proto

all: user/memsplice user/memsplice-criu selftests selftests/memsplice-test

# ---- protobuf-c --------------------------------------------------------------
$(B)/images/%.pb-c.c $(B)/images/%.pb-c.h: images/%.proto
	@mkdir -p $(B)/images
	protoc-c --c_out=$(B)/images -Iimages $<

$(B)/images/%.pb-c.o: $(B)/images/%.pb-c.c $(PB_H)
	$(CC) $(CFLAGS) -std=gnu11 -I$(B)/images -c -o $@ $<

$(B)/criu/rpc.pb-c.c $(B)/criu/rpc.pb-c.h: $(CRIU_RPC)
	@mkdir -p $(B)/criu
	protoc-c --c_out=$(B)/criu -I$(dir $(CRIU_RPC)) $(CRIU_RPC)

$(B)/criu/rpc.pb-c.o: $(B)/criu/rpc.pb-c.c $(B)/criu/rpc.pb-c.h
	$(CC) $(CFLAGS) -std=gnu11 -I$(B)/criu -c -o $@ $<

# ---- the tool ----------------------------------------------------------------
$(B)/user/%.o: user/%.c $(PB_H) $(USER_H) $(wildcard include/*.h include/uapi/linux/*.h kernel/spvm_ioctl.h)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(XCFLAGS) -c -o $@ $<

include selftests/selftests.mk
include user/source/parasite/parasite.mk

# COMPEL_LIBS comes from parasite.mk: keep it in the recipe, not in LIBS
user/memsplice: $(USER_O) $(PB_O)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS) $(COMPEL_LIBS)

$(FRONT_O): $(B)/criu/rpc.pb-c.h

user/memsplice-criu: $(FRONT_O) $(B)/user/util.o $(B)/user/log.o $(B)/criu/rpc.pb-c.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lprotobuf-c

tool: user/memsplice user/memsplice-criu

# the test build: main.c honours the MEMSPLICE_TEST_* hooks (user/dump.h)
$(B)/user/main-test.o: user/main.c $(PB_H) $(USER_H)
	@mkdir -p $(B)/user
	$(CC) $(CFLAGS) $(XCFLAGS) -DMEMSPLICE_TEST_HOOKS -c -o $@ $<

selftests/memsplice-test: $(filter-out $(B)/user/main.o,$(USER_O)) $(B)/user/main-test.o $(PB_O)
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS) $(COMPEL_LIBS)

BENCH_DEPS	:= bench/common.c bench/common.h $(VTEST_O) $(B)/user/images/image.o $(B)/user/log.o \
		   $(B)/user/util.o $(B)/images/stats.pb-c.o

bench/bench bench/rounds bench/copypair bench/lazy bench/alternatives: bench/%: bench/%.c $(BENCH_DEPS)
	$(CC) $(CFLAGS) $(TEST_CFLAGS) -Iuser -o $@ $< $(filter-out %.h,$(BENCH_DEPS)) -lprotobuf-c

# ---- set-up, tests, demo, bench ----------------------------------------------
deps:
	@scripts/deps.sh --guest

demo:
	@scripts/deps.sh --demo
	@$(MAKE) --no-print-directory all
	scripts/demo.sh

check:
	@scripts/deps.sh --guest --fresh-root
	@$(MAKE) --no-print-directory all
	selftests/check.sh

bench:
	@scripts/deps.sh --guest
	@$(MAKE) --no-print-directory all bench/bench bench/rounds bench/copypair bench/lazy bench/alternatives
	bench/bench.sh

deb:
	@scripts/deps.sh --deb
	scripts/deb.sh

install: tool
	install -D -m 0755 user/memsplice $(DESTDIR)$(SBINDIR)/memsplice
	install -D -m 0755 user/memsplice-criu $(DESTDIR)$(SBINDIR)/memsplice-criu
	install -D -m 0644 Documentation/memsplice.8 $(DESTDIR)$(MANDIR)/man8/memsplice.8
	install -D -m 0644 Documentation/memsplice-criu.8 $(DESTDIR)$(MANDIR)/man8/memsplice-criu.8

clean:
	rm -rf $(B) user/memsplice user/memsplice-criu bench/bench bench/rounds bench/copypair bench/lazy bench/alternatives $(SELFTEST_BINS) \
		selftests/memsplice-test

.PHONY: all tool deps demo check bench deb install clean selftests
.SECONDARY: $(PB_C) $(PB_H)
