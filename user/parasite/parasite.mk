# SPDX-License-Identifier: GPL-2.0
#
# The parasite blob (compel) and what the host side needs to use it.
# Included by the top-level Makefile; paths are relative to the top of the tree.
#
#   $(PARASITE_BLOB)          build/parasite/parasite-blob.h, made by compel hgen
#   $(COMPEL_HOST_CFLAGS)     add to the CFLAGS of user/source-parasite.c
#   $(COMPEL_LIBS)            add to the link of memsplice (libcompel)
#   $(PARASITE_TEST)          build/selftests/parasite_test, the backend's selftest
#
# Debian's criu package provides compel (/usr/bin/compel, /usr/include/compel,
# /usr/lib/compel).  Its headers include three files it does not install;
# user/parasite/include/ has stand-ins, and `compel includes` prints nothing,
# hence the explicit -I/usr/include/compel.

COMPEL			?= compel
COMPEL_INCLUDE		?= /usr/include/compel
PARASITE_SRC		:= user/parasite
PARASITE_OUT		:= build/parasite
PARASITE_BLOB		:= $(PARASITE_OUT)/parasite-blob.h

COMPEL_COMMON_CFLAGS	:= -I$(COMPEL_INCLUDE) -I$(PARASITE_SRC)/include -I$(PARASITE_SRC)
COMPEL_HOST_CFLAGS	:= $(COMPEL_COMMON_CFLAGS) -I$(PARASITE_OUT)
COMPEL_LIBS		:= $(shell $(COMPEL) libs 2>/dev/null)

# compel cflags: freestanding, PIE, no stack protector; the blob has no libc
PARASITE_CFLAGS		:= -O2 -g -Wall -Wextra -MMD -MP $(shell $(COMPEL) cflags 2>/dev/null) \
			   $(COMPEL_COMMON_CFLAGS)

$(PARASITE_OUT)/parasite.o: $(PARASITE_SRC)/parasite.c
	@mkdir -p $(@D)
	$(CC) -c $(PARASITE_CFLAGS) -o $@ $<

# compel plugins: the std plugin (daemon, RPC, syscalls) and fds (SCM_RIGHTS)
$(PARASITE_OUT)/parasite.po: $(PARASITE_OUT)/parasite.o
	$(LD) $(shell $(COMPEL) ldflags) -o $@ $< $(shell $(COMPEL) plugins std fds)

$(PARASITE_BLOB): $(PARASITE_OUT)/parasite.po
	$(COMPEL) hgen -f $< -o $@

-include $(PARASITE_OUT)/parasite.d

# --- the backend's selftest -------------------------------------------------

ifndef KSELFTEST_DIR
KSELFTEST_DIR		:= build/kselftest
KSELFTEST_TAR		?= /usr/src/linux-source-6.1.tar.xz

$(KSELFTEST_DIR)/kselftest_harness.h $(KSELFTEST_DIR)/kselftest.h:
	@mkdir -p $(KSELFTEST_DIR)
	tar -xJf $(KSELFTEST_TAR) -C $(KSELFTEST_DIR) --strip-components=4 \
		linux-source-6.1/tools/testing/selftests/kselftest_harness.h \
		linux-source-6.1/tools/testing/selftests/kselftest.h
	@touch $(KSELFTEST_DIR)/kselftest_harness.h $(KSELFTEST_DIR)/kselftest.h
endif

PARASITE_TEST		:= build/selftests/parasite_test
PARASITE_TEST_SRCS	:= selftests/parasite_test.c user/source-parasite.c user/log.c user/util.c

$(PARASITE_TEST): $(PARASITE_TEST_SRCS) $(PARASITE_BLOB) $(PARASITE_SRC)/parasite-abi.h \
		  user/source.h user/log.h user/util.h $(KSELFTEST_DIR)/kselftest_harness.h
	@mkdir -p $(@D)
	$(CC) -O2 -g -Wall -Iuser -I$(KSELFTEST_DIR) $(COMPEL_HOST_CFLAGS) \
		-o $@ $(PARASITE_TEST_SRCS) $(COMPEL_LIBS) -lpthread
