# SPDX-License-Identifier: GPL-2.0
#
# The parasite blob (compel) and what the host side needs to use it.
# Included by the top-level Makefile after selftests/selftests.mk; usable
# alone for development: make -f user/source/parasite/parasite.mk selftests/parasite_test
#
#   $(PARASITE_BLOB)       build/parasite/parasite-blob.h, made by compel hgen
#   $(COMPEL_HOST_CFLAGS)  added to the CFLAGS of ctl.o (below)
#   $(COMPEL_LIBS)         libcompel, for the link of user/memsplice
#   $(PARASITE_TEST)       selftests/parasite_test, the source in isolation
#
# Debian's criu package provides compel (/usr/bin/compel, /usr/include/compel,
# /usr/lib/compel).  Its headers include three files it does not install;
# include/ here has stand-ins.  `compel includes` prints nothing,
# hence the explicit -I/usr/include/compel.

B			?= build
CC			?= gcc
CFLAGS			?= -O2 -g
COMPEL			?= compel
COMPEL_INCLUDE		?= /usr/include/compel
PARASITE_SRC		:= user/source/parasite
PARASITE_OUT		:= $(B)/parasite
PARASITE_BLOB		:= $(PARASITE_OUT)/parasite-blob.h

COMPEL_COMMON_CFLAGS	:= -I$(COMPEL_INCLUDE) -I$(PARASITE_SRC)/include -I$(PARASITE_SRC)
COMPEL_HOST_CFLAGS	:= $(COMPEL_COMMON_CFLAGS) -I$(PARASITE_OUT)
COMPEL_LIBS		:= $(shell $(COMPEL) libs 2>/dev/null)

# ---- host objects: the top-level build's, or (alone) our own and its flags -----

ifdef USER_O
PARASITE_HOST_OUT	:= $(B)/user
PARASITE_TEST_OUT	:= $(B)/selftests
else
# objects of our own, so as not to mix with the top-level build's
PARASITE_HOST_OUT	:= $(PARASITE_OUT)/host
PARASITE_TEST_OUT	:= $(PARASITE_OUT)/selftests
XCFLAGS			:= -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter \
			   -Wformat=2 -Wshadow -Werror -Iuser
KSFT_DIR		:= $(B)/kselftest
KSFT_HDRS		:= $(KSFT_DIR)/kselftest_harness.h $(KSFT_DIR)/kselftest.h
TEST_CFLAGS		:= -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter \
			   -Wno-sign-compare -Werror -I$(KSFT_DIR) -pthread

$(PARASITE_HOST_OUT)/%.o: user/%.c $(wildcard user/*.h user/*/*.h user/*/*/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(XCFLAGS) -c -o $@ $<

$(KSFT_HDRS):
	scripts/kselftest-headers.sh $(KSFT_DIR)
endif

# ---- the blob: freestanding, PIE, linked with the std and fds plugins ----------

PARASITE_CFLAGS		:= -O2 -g -Wall -Wextra -Werror -MMD -MP \
			   $(shell $(COMPEL) cflags 2>/dev/null) $(COMPEL_COMMON_CFLAGS)

$(PARASITE_OUT)/parasite.o: $(PARASITE_SRC)/parasite.c
	@mkdir -p $(@D)
	$(CC) -c $(PARASITE_CFLAGS) -o $@ $<

$(PARASITE_OUT)/parasite.po: $(PARASITE_OUT)/parasite.o
	$(LD) $(shell $(COMPEL) ldflags) -o $@ $< $(shell $(COMPEL) plugins std fds)

$(PARASITE_BLOB): $(PARASITE_OUT)/parasite.po
	$(COMPEL) hgen -f $< -o $@

-include $(PARASITE_OUT)/parasite.d

# ---- the source: compiled by the top-level $(B)/user/%.o rule ------------------
# Only ctl.c talks to compel; source.c uses its API.

$(PARASITE_HOST_OUT)/source/parasite/ctl.o: XCFLAGS += $(COMPEL_HOST_CFLAGS)
$(PARASITE_HOST_OUT)/source/parasite/ctl.o: $(PARASITE_BLOB) $(PARASITE_SRC)/parasite-abi.h

# ---- the source's selftest -----------------------------------------------------

PARASITE_TEST		:= selftests/parasite_test
# its victim and its snapshots of the victim
PARASITE_TEST_LIB	:= pvictim psnap
PARASITE_TEST_LIB_O	:= $(PARASITE_TEST_LIB:%=$(PARASITE_TEST_OUT)/%.o)
PARASITE_TEST_O		:= $(addprefix $(PARASITE_HOST_OUT)/,source/parasite/source.o \
			   source/parasite/ctl.o log.o util.o) $(PARASITE_TEST_LIB_O)

$(PARASITE_TEST_LIB_O): $(PARASITE_TEST_OUT)/%.o: selftests/lib/%.c selftests/lib/%.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(TEST_CFLAGS) -c -o $@ $<

# an explicit rule: selftests/%_test would link it without the source
$(PARASITE_TEST): selftests/parasite_test.c $(PARASITE_TEST_O) $(KSFT_HDRS) \
		  $(PARASITE_TEST_LIB:%=selftests/lib/%.h)
	$(CC) $(CFLAGS) $(TEST_CFLAGS) -Iuser -Iselftests/lib -o $@ $< $(PARASITE_TEST_O) \
		$(COMPEL_LIBS)
