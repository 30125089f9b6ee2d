// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/splice_process_vm: the module's entry point to spvm_splice().
 *
 * A module cannot call ptrace_may_access() or mm_access(), so the caller
 * proves its right to read the target with an fd of /proc/PID/mem: opening
 * that file ran mm_access(PTRACE_MODE_ATTACH) with the opener's
 * credentials and every LSM hook, and the file pins the mm it was opened
 * for (an exec in the target does not redirect it).  The device itself
 * grants nothing, so it is world-usable.
 *
 * Neither /proc/PID/mem's nor the pipes' file_operations are exported; the
 * module learns both pointers at load time from objects it creates itself
 * and afterwards only compares f_op pointers.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/err.h>
#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <linux/miscdevice.h>
#include <linux/mman.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pipe_fs_i.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/version.h>

#include "spvm_core.h"

static const struct file_operations *spvm_proc_mem_fops;
static const struct file_operations *spvm_fifo_fops;
/* Flags offered here: SPVM_FORCE only if /proc/PID/mem itself forces. */
static u64 spvm_dev_flags = SPVM_NONBLOCK | SPVM_STABLE;	/* STABLE: a no-op */

static bool spvm_dev_is_pipe(struct file *file)
{
	if (file->f_op == spvm_fifo_fops)
		return true;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 15, 0)
	/*
	 * 6.15 gave anonymous pipes their own, unexported pipeanon_fops.  Only
	 * pipes live on pipefs, and their files all carry the pipe in
	 * private_data.  Untested: the guests run 6.1 and 6.12.
	 */
	if (S_ISFIFO(file_inode(file)->i_mode) &&
	    file_inode(file)->i_sb->s_magic == PIPEFS_MAGIC)
		return true;
#endif
	return false;
}

/* The pipe behind a write end, or NULL (as get_pipe_info(file, true)). */
static struct pipe_inode_info *spvm_dev_pipe(struct file *file)
{
	struct pipe_inode_info *pipe = file->private_data;

	if (!spvm_dev_is_pipe(file) || !pipe)
		return NULL;
	if (!(file->f_mode & FMODE_WRITE))
		return NULL;
#ifdef CONFIG_WATCH_QUEUE
	/* Notification pipes carry kernel messages, never spliced data. */
	if (pipe->watch_queue)
		return NULL;
#endif
	return pipe;
}

/* Is @file a /proc/PID/mem file open for reading? */
static int spvm_dev_target(struct file *file)
{
	if (file->f_op != spvm_proc_mem_fops || !(file->f_mode & FMODE_READ))
		return -EBADF;
	/* NULL when the process had no mm when opened (a kernel thread). */
	return file->private_data ? 0 : -ESRCH;
}

/*
 * The address space a /proc/PID/mem file was opened for, if it still has
 * users.  The proof that the caller may read it is the file itself: its
 * open() made the check, and the file pins the mm_struct.
 */
static struct mm_struct *spvm_dev_get_mm(void *priv, u64 flags)
{
	struct mm_struct *mm = ((struct file *)priv)->private_data;

	return mmget_not_zero(mm) ? mm : ERR_PTR(-ESRCH);
}

static const struct spvm_target_ops spvm_dev_target_ops = {
	.get_mm	= spvm_dev_get_mm,
};

static long spvm_dev_splice(const void __user *uargs)
{
	struct pipe_inode_info *pipe;
	struct spvm_target target;
	struct spvm_iovec *iov;
	struct spvm_args args;
	struct file *mem, *out;
	bool empty;
	u64 flags;
	long ret;

	ret = spvm_args_from_user(&args, uargs);
	if (ret)
		return ret;
	if (args.flags & ~spvm_dev_flags)
		return -EPERM;

	/* plain fget()/fput(): unlike struct fd (6.12), unchanged since 6.1 */
	mem = fget(args.target_fd);
	if (!mem)
		return -EBADF;
	ret = spvm_dev_target(mem);
	if (ret)
		goto put_mem;

	ret = -EBADF;
	out = fget(args.pipe_fd);
	if (!out)
		goto put_mem;
	pipe = spvm_dev_pipe(out);
	if (!pipe)
		goto put_out;

	iov = spvm_iov_from_user(&args, &empty);
	if (IS_ERR(iov)) {
		ret = PTR_ERR(iov);
		goto put_out;
	}

	flags = args.flags;
	/* Like write() and splice(): an O_NONBLOCK pipe end never blocks. */
	if (out->f_flags & O_NONBLOCK)
		flags |= SPVM_NONBLOCK;
	target = (struct spvm_target){ .ops = &spvm_dev_target_ops, .priv = mem };
	ret = empty ? 0 : spvm_splice(&target, pipe, iov, args.iovcnt, flags);

	kvfree(iov);
put_out:
	fput(out);
put_mem:
	fput(mem);
	return ret;
}

static long spvm_dev_ioctl(struct file *file, unsigned int cmd,
			   unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case SPVM_IOC_FEATURES:
		return spvm_features_to_user(uarg, spvm_dev_flags,
					     SPVM_TARGET_PROC_MEM);
	case SPVM_IOC_SPLICE:
		return spvm_dev_splice(uarg);
	}
	return -ENOTTY;
}

static const struct file_operations spvm_dev_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= spvm_dev_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice spvm_miscdev = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= SPVM_DEVICE_NAME,
	.fops	= &spvm_dev_fops,
	.mode	= 0666,
};

/*
 * Does reading /proc/PID/mem use FOLL_FORCE for an untraced reader?  Since
 * 6.1.x/6.12 that depends on CONFIG_PROC_MEM_* and proc_mem.force_override=,
 * neither visible to a module, so ask the file: read one byte of a PROT_NONE
 * page of the loading process through its own /proc/self/mem.
 */
static bool spvm_dev_mem_forces(struct file *mem)
{
	unsigned long none, buf;
	ssize_t n = -EINVAL;
	loff_t pos;
	char c;

	none = vm_mmap(NULL, 0, PAGE_SIZE, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS, 0);
	buf = vm_mmap(NULL, 0, PAGE_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, 0);
	if (!IS_ERR_VALUE(none) && !IS_ERR_VALUE(buf)) {
		pos = none;
		/* ->read_iter where the /proc/PID/mem splice patch is applied */
		if (mem->f_op->read)
			n = mem->f_op->read(mem, (char __user *)buf, 1, &pos);
		else if (mem->f_op->read_iter)
			n = kernel_read(mem, &c, 1, &pos);
	}
	if (!IS_ERR_VALUE(buf))
		vm_munmap(buf, PAGE_SIZE);
	if (!IS_ERR_VALUE(none))
		vm_munmap(none, PAGE_SIZE);
	return n == 1;
}

/*
 * Learn the f_op of FIFOs (init_special_inode() installs pipefifo_fops) and
 * of /proc/PID/mem.  This runs in the loading process, privileged and in
 * its own mount namespace: doing it later, on behalf of a caller who could
 * mount something else over /proc, would let that caller choose the f_op.
 */
static int spvm_dev_learn_fops(void)
{
	struct inode *inode;
	struct file *mem;

	inode = kzalloc(sizeof(*inode), GFP_KERNEL);
	if (!inode)
		return -ENOMEM;
	init_special_inode(inode, S_IFIFO, 0);
	spvm_fifo_fops = inode->i_fop;
	kfree(inode);

	mem = filp_open("/proc/self/mem", O_RDONLY, 0);
	if (IS_ERR(mem)) {
		pr_err("cannot open /proc/self/mem (is /proc mounted?): %ld\n",
		       PTR_ERR(mem));
		return PTR_ERR(mem);
	}
	if (file_inode(mem)->i_sb->s_magic != PROC_SUPER_MAGIC ||
	    strcmp(file_dentry(mem)->d_name.name, "mem")) {
		pr_err("/proc/self/mem is not procfs' mem file\n");
		filp_close(mem, NULL);
		return -ENODEV;
	}
	spvm_proc_mem_fops = mem->f_op;
	if (spvm_dev_mem_forces(mem))
		spvm_dev_flags |= SPVM_FORCE;
	else
		pr_info("/proc/PID/mem does not force: SPVM_FORCE disabled\n");
	filp_close(mem, NULL);
	return 0;
}

static int __init spvm_dev_init(void)
{
	int ret;

	ret = spvm_dev_learn_fops();
	if (ret)
		return ret;
	return misc_register(&spvm_miscdev);
}

/*
 * Pipes may still hold copies: their buffers use nosteal_pipe_buf_ops from
 * vmlinux and pages of their own, nothing of this module.
 */
static void __exit spvm_dev_exit(void)
{
	misc_deregister(&spvm_miscdev);
}

module_init(spvm_dev_init);
module_exit(spvm_dev_exit);

MODULE_DESCRIPTION("splice_process_vm: attach another process's pages to a pipe");
MODULE_LICENSE("GPL");
