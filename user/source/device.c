// SPDX-License-Identifier: GPL-2.0
/*
 * The device source: the splice_process_vm module copies the target's pages
 * into our pipe, and the sink splices them into the pages file, so no byte
 * passes through memsplice's memory.
 *
 * The module trusts no one: the proof that we may read a process is an fd
 * of its /proc/PID/mem, whose open() ran the same ptrace-attach check
 * process_vm_readv() makes.  It was opened while the tree was frozen
 * (target.h); every request hands it to the ioctl with the range.  The
 * pipe and the fill are the splice_process_vm source's (spvm.c).
 *
 * probe() explains what is missing: no /dev node, the module not loaded
 * (it is loaded with libkmod when installed: `modprobe splice_process_vm`
 * by hand otherwise), not installed for this kernel, or no permission.
 */
#define LOG_PREFIX "source-device: "
#include <errno.h>
#include <fcntl.h>
#include <libkmod.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/splice_process_vm.h>

#include "spvm_ioctl.h"

#include "log.h"
#include "source/source.h"
#include "source/spvm.h"
#include "tree/target.h"
#include "util.h"

#define DEV_PATH	"/dev/" SPVM_DEVICE_NAME
#define MODULE_NAME	SPVM_DEVICE_NAME

/* Is the module in /sys/module?  Loaded modules always are. */
static bool module_loaded(void)
{
	return access("/sys/module/" MODULE_NAME, F_OK) == 0;
}

/* modprobe splice_process_vm, if installed; 0 or -errno with @why set */
static int module_load(char *why, size_t len)
{
	struct kmod_module *mod = NULL;
	struct kmod_ctx *ctx;
	int ret;

	ctx = kmod_new(NULL, NULL);
	if (!ctx) {
		snprintf(why, len, "module not loaded, and libkmod cannot start");
		return -ENOMEM;
	}
	ret = kmod_module_new_from_name(ctx, MODULE_NAME, &mod);
	if (ret < 0) {
		snprintf(why, len, "module not loaded: libkmod: %s", strerror(-ret));
		goto out;
	}
	if (!kmod_module_get_path(mod)) {
		snprintf(why, len, "module not loaded and not installed for this kernel "
			 "(see kernel/dkms.conf)");
		ret = -ENOENT;
		goto out;
	}
	ret = kmod_module_probe_insert_module(mod, 0, NULL, NULL, NULL, NULL);
	if (ret < 0) {
		snprintf(why, len, "module not loaded; loading it failed: %s%s",
			 strerror(-ret), ret == -EPERM ? " (needs root)" : "");
		goto out;
	}
	if (ret > 0) {		/* KMOD_PROBE_APPLY_BLACKLIST* */
		snprintf(why, len, "module not loaded: blacklisted");
		ret = -EPERM;
		goto out;
	}
	pr_info("loaded module %s", MODULE_NAME);
out:
	kmod_module_unref(mod);
	kmod_unref(ctx);
	return ret;
}

/* open the device, loading the module if needed; fd or -errno with @why */
static int dev_open(char *why, size_t len)
{
	int fd, ret;

	fd = open(DEV_PATH, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && !module_loaded()) {
		ret = module_load(why, len);
		if (ret)
			return ret;
		fd = open(DEV_PATH, O_RDONLY | O_CLOEXEC);
	}
	if (fd >= 0)
		return fd;
	ret = -errno;
	if (ret == -ENOENT)
		snprintf(why, len, "module loaded but no %s node (is devtmpfs mounted?)",
			 DEV_PATH);
	else
		snprintf(why, len, "%s: %s", DEV_PATH, strerror(-ret));
	return ret;
}

/* does the device speak our ABI?  Flags offered in *@flags. */
static int dev_features(int fd, __u64 *flags, char *why, size_t len)
{
	struct spvm_features f = { .size = sizeof(f) };

	if (ioctl(fd, SPVM_IOC_FEATURES, &f) < 0) {
		int ret = -errno;

		snprintf(why, len, "%s: features query: %s", DEV_PATH, strerror(-ret));
		return ret;
	}
	if (f.version < 1 || !(f.targets & SPVM_TARGET_PROC_MEM)) {
		snprintf(why, len, "%s: ABI version %llu without /proc/PID/mem targets",
			 DEV_PATH, (unsigned long long)f.version);
		return -EPROTONOSUPPORT;
	}
	*flags = f.flags;
	return 0;
}

static int device_probe(char *why, size_t len)
{
	__u64 flags;
	int fd, ret;

	fd = dev_open(why, len);
	if (fd < 0)
		return fd;
	ret = dev_features(fd, &flags, why, len);
	close(fd);
	if (!ret)
		snprintf(why, len, "%s", spvm_mode_said(flags & SPVM_PIN, flags & SPVM_STABLE));
	return ret;
}

/* the device, checked: its fd is the entry's handle */
static int device_open(long *handle)
{
	char why[256];
	__u64 flags;
	int fd, ret;

	fd = dev_open(why, sizeof(why));
	if (fd < 0) {
		pr_err("%s", why);
		return fd;
	}
	ret = dev_features(fd, &flags, why, sizeof(why));
	if (ret) {
		pr_err("%s", why);
		close(fd);
		return ret;
	}
	if (!(flags & SPVM_FORCE))
		pr_info("the device cannot read mappings without PROT_READ here");
	*handle = fd;
	return 0;
}

static bool device_offers(long handle, __u64 flag)
{
	char why[256];
	__u64 flags;

	return !dev_features((int)handle, &flags, why, sizeof(why)) && (flags & flag) == flag;
}

static void device_close(long handle)
{
	close((int)handle);
}

static long device_call(long handle, struct spvm_args *args)
{
	long n = ioctl((int)handle, SPVM_IOC_SPLICE, args);

	return n < 0 ? -errno : n;
}

static int device_target_fd(const struct target *t)
{
	return t->mem_fd;
}

static const struct spvm_entry device_entry = {
	.open		= device_open,
	.close		= device_close,
	.call		= device_call,
	.target_fd	= device_target_fd,
	.offers		= device_offers,
};

static int device_create(struct page_source *src, const struct source_opts *opts)
{
	return spvm_create(src, opts, &device_entry);
}

/*
 * xfer_while_frozen is false: a pre-dump moves pages after the resume.
 * A module of version 3 copies every page during the call, so the pipe
 * holds a snapshot like read's.  A module of version 2 attaches references
 * unless asked for SPVM_STABLE, which a pre-dump does; version 1 has only
 * references: each fill() is drained by the sink before the next one, so
 * a page is exposed to the target's writes only between the two calls,
 * and what the image gets is as fuzzy as what process_vm_readv() would
 * have read at that moment.  That is all a pre-dump promises: the changes
 * tracked since the freeze re-dump any page written later.
 */
const struct page_source_ops source_device_ops = {
	.name			= "device",
	.xfer_while_frozen	= false,
	.pre_dump_mode		= 1,
	.probe			= device_probe,
	.create			= device_create,
	.destroy		= spvm_destroy,
	.attach			= spvm_attach,
	.detach			= spvm_detach,
	.fill			= spvm_fill,
};
