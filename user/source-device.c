// SPDX-License-Identifier: GPL-2.0
/*
 * The device backend: the splice_process_vm module attaches the target's
 * pages to our pipe by reference, and the sink splices them into the pages
 * file, so no byte passes through memsplice's memory.
 *
 * The module trusts no one: the proof that we may read a process is an fd
 * of its /proc/PID/mem, whose open() ran the same ptrace-attach check
 * process_vm_readv() makes.  attach() opens it, fill() hands it to the
 * ioctl with the range.
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

#include "log.h"
#include "source.h"
#include "spvm-pipe.h"
#include "target.h"
#include "util.h"

#define DEV_PATH	"/dev/" SPVM_DEVICE_NAME
#define MODULE_NAME	SPVM_DEVICE_NAME

struct source_device {
	int dev;		/* DEV_PATH */
	bool warned_force;
	struct spvm_pipe pipe;
};

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
	return ret;
}

static int device_create(struct page_source *src, const struct source_opts *opts)
{
	struct source_device *sd;
	char why[256];
	__u64 flags;
	int ret;

	sd = calloc(1, sizeof(*sd));
	if (!sd) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	sd->dev = dev_open(why, sizeof(why));
	if (sd->dev < 0) {
		ret = sd->dev;
		pr_err("%s", why);
		goto err_free;
	}
	ret = dev_features(sd->dev, &flags, why, sizeof(why));
	if (ret) {
		pr_err("%s", why);
		goto err_dev;
	}
	if (!(flags & SPVM_FORCE))
		pr_info("the device cannot read mappings without PROT_READ here");
	ret = spvm_pipe_create(&sd->pipe, opts->buffer_size);
	if (ret) {
		pr_errno(ret, "cannot create the pipe");
		goto err_dev;
	}
	src->buffer_size = sd->pipe.size;
	src->priv = sd;
	return 0;

err_dev:
	close(sd->dev);
err_free:
	free(sd);
	return ret;
}

static void device_destroy(struct page_source *src)
{
	struct source_device *sd = src->priv;

	spvm_pipe_destroy(&sd->pipe);
	close(sd->dev);
	free(sd);
	src->priv = NULL;
}

static int device_attach(struct page_source *src, const struct target *t)
{
	src->target = t;
	return 0;
}

static int device_detach(struct page_source *src)
{
	src->target = NULL;
	return 0;
}

static long device_call(void *ctx, struct spvm_args *args)
{
	struct source_device *sd = ctx;
	long n = ioctl(sd->dev, SPVM_IOC_SPLICE, args);

	return n < 0 ? -errno : n;
}

static ssize_t device_fill(struct page_source *src, const struct src_range *r,
			   struct page_data *data)
{
	struct source_device *sd = src->priv;
	ssize_t n;

	n = spvm_pipe_fill(&sd->pipe, device_call, sd, src->target->mem_fd, r, data);
	if (n == -EPERM && r->force && !sd->warned_force) {
		/* /proc/PID/mem would not force either (proc_mem.force_override) */
		pr_warn("reading a mapping without PROT_READ is not allowed on this system");
		sd->warned_force = true;
	}
	return n;
}

/*
 * xfer_while_frozen is false although the pipe holds references, not
 * copies: each fill() is drained by the sink before the next one, so a page
 * is exposed to the target's writes only between the two calls, and what
 * the image gets is as fuzzy as what process_vm_readv() would have read at
 * that moment.  That is all a pre-dump promises: the soft-dirty bits were
 * cleared while the tree was frozen, so any later write re-dumps the page.
 * The final dump keeps the tree frozen through the transfer anyway.
 */
const struct page_source_ops source_device_ops = {
	.name			= "device",
	.xfer_while_frozen	= false,
	.pre_dump_mode		= 1,
	.probe			= device_probe,
	.create			= device_create,
	.destroy		= device_destroy,
	.attach			= device_attach,
	.detach			= device_detach,
	.fill			= device_fill,
};
