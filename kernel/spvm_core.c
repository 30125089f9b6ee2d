// SPDX-License-Identifier: GPL-2.0
/*
 * splice_process_vm core: attach pages of another process to a pipe.
 *
 * The module's core, for stock kernels; the syscall series
 * (kernel/patches/, mm/splice_process_vm.c) does the same in the kernel
 * and adds pinning.  Each page is looked up (FOLL_GET), copied into a page
 * the pipe buffer owns, and the target's page released at once, all
 * during the call: no reference to a target's page outlives it, and the
 * bytes in the pipe never change.  (Version 2 left references to the
 * target's pages in the pipe by default: a memfd could not be sealed,
 * a huge page outlived its process, while the pipe held them.)
 *
 *   target mm      VMA [ pg0 | pg1 | hole | pg3 ]     (pg3 never reached:
 *                         |     |     X               the request stops at
 *                         |     |     `- EFAULT       the first failure)
 *                  FOLL_GET|FOLL_DUMP (+FOLL_FORCE), copied, put
 *                         v     v
 *   pipe ring      | cpy | cpy |     |     |    each buf: the copy, offset,
 *                   nosteal_pipe_buf_ops, flags 0    len; release = put_page
 *
 * Rules that keep this safe:
 * - nosteal_pipe_buf_ops lives in vmlinux: buffers left in a pipe do not
 *   point into this module, so it may be unloaded while pipes hold pages.
 * - no PIPE_BUF_FLAG_CAN_MERGE: a later write() to the pipe starts a new
 *   buffer.
 * - FOLL_DUMP: in private anonymous memory, holes and zero-page mappings
 *   fail instead of being populated: no page and no page table is
 *   allocated.  Holes in file-backed and shared mappings (shared anonymous
 *   memory is shmem) are faulted in as process_vm_readv() does.  Swapped-out
 *   pages are swapped in.
 */
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/pipe_fs_i.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/splice.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/version.h>
#include <linux/wait.h>

#include "spvm_core.h"

/* Pages looked up per get_user_pages_remote() call, as vmsplice() does. */
#define SPVM_BATCH	16

/**
 * spvm_args_from_user() - copy and check a struct spvm_args
 * @args:  kernel copy to fill
 * @uargs: the caller's struct, whose first field is its size
 *
 * Checks what does not depend on the entry point: size, unknown flags,
 * reserved bits and the vector length.
 *
 * Return: 0, -EFAULT, -EINVAL, or -E2BIG for a larger struct whose unknown
 * tail is not zero.
 */
int spvm_args_from_user(struct spvm_args *args, const void __user *uargs)
{
	u64 usize;
	int ret;

	if (get_user(usize, (const u64 __user *)uargs))
		return -EFAULT;
	if (usize < SPVM_ARGS_SIZE_VER0)
		return -EINVAL;
	if (usize > PAGE_SIZE)
		return -E2BIG;

	ret = copy_struct_from_user(args, sizeof(*args), uargs, usize);
	if (ret)
		return ret;

	if (args->flags & ~SPVM_FLAGS_ALL)
		return -EINVAL;
	if (args->__reserved)
		return -EINVAL;
	if (args->iovcnt > UIO_MAXIOV)
		return -EINVAL;
	return 0;
}

/**
 * spvm_features_to_user() - answer a features query
 * @ufeat:   the caller's struct spvm_features, whose first field is its size
 * @flags:   request flags this entry point accepts
 * @targets: SPVM_TARGET_* kinds of target_fd this entry point accepts
 *
 * Writes only the fields both sides know and reports how many bytes that
 * was in ->size.
 *
 * Return: 0, -EFAULT, or -EINVAL for a struct older than the first version.
 */
int spvm_features_to_user(void __user *ufeat, u64 flags, u32 targets)
{
	struct spvm_features feat = {
		.version	= SPVM_VERSION,
		.flags		= flags,
		.args_size	= sizeof(struct spvm_args),
		.max_iovcnt	= UIO_MAXIOV,
		.targets	= targets,
	};
	u64 usize;

	if (get_user(usize, (const u64 __user *)ufeat))
		return -EFAULT;
	if (usize < SPVM_FEATURES_SIZE_VER0)
		return -EINVAL;

	feat.size = min_t(u64, usize, sizeof(feat));
	if (copy_to_user(ufeat, &feat, feat.size))
		return -EFAULT;
	return 0;
}

/**
 * spvm_iov_from_user() - copy and check the remote vector of a request
 * @args:  a request checked by spvm_args_from_user()
 * @empty: set when the vector describes no byte at all
 *
 * The addresses are the target's, so they are not access_ok()-checked here:
 * get_user_pages_remote() rejects what the target cannot have mapped.
 *
 * The ABI carries addresses and lengths as u64, the core walks them as
 * unsigned long.  On a 32-bit kernel a pointer, base or end above 4 GiB
 * would be truncated into another address, so it is refused here: the
 * vector pointer as unreadable (EFAULT), a range as one that wraps around
 * (EINVAL).  On 64-bit kernels, compat callers included, everything fits.
 *
 * Return: a vector to release with kvfree() (NULL when @args->iovcnt is 0),
 * or ERR_PTR(-EFAULT) when it cannot be read, ERR_PTR(-EINVAL) for a length
 * above SSIZE_MAX or a range that wraps around (in u64, or in unsigned long
 * on 32-bit), ERR_PTR(-ENOMEM).
 */
struct spvm_iovec *spvm_iov_from_user(const struct spvm_args *args,
				      bool *empty)
{
	struct spvm_iovec *iov;
	u32 i;

	*empty = true;
	if (!args->iovcnt)
		return NULL;
	if (args->iov != (unsigned long)args->iov)
		return ERR_PTR(-EFAULT);

	iov = kvmalloc_array(args->iovcnt, sizeof(*iov), GFP_KERNEL);
	if (!iov)
		return ERR_PTR(-ENOMEM);
	if (copy_from_user(iov, u64_to_user_ptr(args->iov),
			   array_size(args->iovcnt, sizeof(*iov)))) {
		kvfree(iov);
		return ERR_PTR(-EFAULT);
	}

	for (i = 0; i < args->iovcnt; i++) {
		unsigned long base = iov[i].base, len = iov[i].len;

		if (base != iov[i].base || len != iov[i].len ||
		    len > SSIZE_MAX || base + len < base) {
			kvfree(iov);
			return ERR_PTR(-EINVAL);
		}
		if (iov[i].len)
			*empty = false;
	}
	return iov;
}

/*
 * Slots a writer may still fill.  pipe_occupancy() takes the raw indices on
 * every version: since 6.14 head and tail are pipe_index_t and the helper
 * does the wrap-around in that type, so no version guard is needed here as
 * long as the fields are never subtracted by hand.  Without the pipe's lock
 * this is an estimate: add_to_pipe() has the last word.
 */
static unsigned int spvm_pipe_room(const struct pipe_inode_info *pipe)
{
	unsigned int used = pipe_occupancy(READ_ONCE(pipe->head),
					   READ_ONCE(pipe->tail));
	unsigned int max = READ_ONCE(pipe->max_usage);

	return used < max ? max - used : 0;
}

/* Wake-up condition of a blocked writer: fs/pipe.c keeps its own private. */
static bool spvm_pipe_writable(const struct pipe_inode_info *pipe)
{
	return !pipe_full(READ_ONCE(pipe->head), READ_ONCE(pipe->tail),
			  READ_ONCE(pipe->max_usage)) ||
	       !READ_ONCE(pipe->readers);
}

/*
 * Wait, with the pipe locked on entry and exit, until at least one slot is
 * free.  Same outcomes as vmsplice(): EPIPE and SIGPIPE without readers,
 * EAGAIN when not allowed to block, -ERESTARTSYS on a signal (so SA_RESTART
 * restarts the call and other handlers see EINTR).
 */
static int spvm_wait_for_room(struct pipe_inode_info *pipe, u64 flags)
{
	for (;;) {
		if (!pipe->readers) {
			send_sig(SIGPIPE, current, 0);
			return -EPIPE;
		}
		if (spvm_pipe_room(pipe))
			return 0;
		if (flags & SPVM_NONBLOCK)
			return -EAGAIN;
		if (signal_pending(current))
			return -ERESTARTSYS;

		pipe_unlock(pipe);
		/* A signal ends the wait early; the next pass reports it. */
		wait_event_interruptible(pipe->wr_wait, spvm_pipe_writable(pipe));
		pipe_lock(pipe);
	}
}

/*
 * get_user_pages_remote() with the target's mmap_lock, and never with the
 * pipe's lock: a lookup waits as long as a swap-in, a FUSE server or a
 * userfaultfd handler takes, and other users of the pipe must not wait
 * with it.  Passing @locked lets a fault drop the mmap_lock instead of
 * holding it across such a wait.  The wait is killable; since 6.2
 * FOLL_INTERRUPTIBLE lets any signal end a userfaultfd wait, and -EINTR
 * then restarts the call like a signal during the wait for room.  6.5
 * removed the vmas argument.
 */
static long spvm_get_pages(struct mm_struct *mm, unsigned long start,
			   unsigned long nr, unsigned int gup_flags,
			   struct page **pages)
{
	int locked = 1;
	long got;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
	got = get_user_pages_remote(mm, start, nr, gup_flags, pages, &locked);
#else
	got = get_user_pages_remote(mm, start, nr, gup_flags, pages, NULL,
				    &locked);
#endif
	if (locked)
		mmap_read_unlock(mm);
	/* Only with a signal pending, so ERESTARTSYS never reaches the user. */
	return got == -EINTR ? -ERESTARTSYS : got;
}

/*
 * Replace each of the @nr target pages in @pages by a copy
 * and drop the reference to the target's page, so that none outlives the
 * call.  The copy is charged to the caller's memory cgroup, as pipe_write()
 * charges the pages a write() puts in a pipe.  It holds the bytes of the
 * moment of the copy: a write the target makes meanwhile may be seen in
 * part, as with process_vm_readv().  The copy is taken whole (a page is
 * never larger than what a pipe buffer may hold), the buffer only shows
 * the requested part of it.
 *
 * Returns how many pages were copied; the pages past a failed allocation
 * are released.
 */
static long spvm_copy_pages(struct page **pages, long nr)
{
	long i, j;

	for (i = 0; i < nr; i++) {
		struct page *copy = alloc_page(GFP_HIGHUSER | __GFP_ACCOUNT);

		if (!copy)
			break;
		copy_highpage(copy, pages[i]);
		put_page(pages[i]);
		pages[i] = copy;
	}
	for (j = i; j < nr; j++)
		put_page(pages[j]);
	return i;
}

/* How far a fill got: the next byte of the current range, bytes attached. */
struct spvm_pos {
	unsigned long addr;
	unsigned long len;
	ssize_t total;
};

/*
 * Attach @nr pages looked up at @pos to @pipe, as many as it has room for
 * now, and release the others: the pipe may have filled up since the room
 * was estimated.  Wakes up readers when something was attached.
 *
 * Returns the number of pages attached, or -EPIPE (and SIGPIPE) when the
 * pipe lost its readers before the first one.
 */
static long spvm_attach(struct pipe_inode_info *pipe, struct page **pages,
			long nr, struct spvm_pos *pos)
{
	/*
	 * The copy belongs to the buffer; the nosteal ops release it with
	 * put_page().  write()'s anon_pipe_buf_ops are private to fs/pipe.c;
	 * the only difference is that SPLICE_F_MOVE copies such a page
	 * instead of stealing it.
	 */
	ssize_t ret = 0;
	long i;

	pipe_lock(pipe);
	for (i = 0; i < nr; i++) {
		struct pipe_buffer buf = {
			.page	= pages[i],
			.offset	= offset_in_page(pos->addr),
			.ops	= &nosteal_pipe_buf_ops,
		};

		buf.len = min_t(unsigned long, PAGE_SIZE - buf.offset, pos->len);
		/* Releases the page itself when it fails. */
		ret = add_to_pipe(pipe, &buf);
		if (ret < 0)
			break;
		pos->total += buf.len;
		pos->addr += buf.len;
		pos->len -= buf.len;
	}
	pipe_unlock(pipe);

	if (i < nr) {
		long j;

		for (j = i + 1; j < nr; j++)
			put_page(pages[j]);
	}
	if (i) {
		wake_up_interruptible_poll(&pipe->rd_wait, EPOLLIN | EPOLLRDNORM);
		kill_fasync(&pipe->fasync_readers, SIGIO, POLL_IN);
	}
	return i || ret != -EPIPE ? i : -EPIPE;
}

/*
 * Fill @pipe from @iov until the vector ends, the pipe is full or a page
 * cannot be had.  Each batch is looked up first, into @pages, for as many
 * slots as the pipe seems to have, copied, then attached under
 * the pipe's lock.  Returns the bytes attached; when there are none, 0 if
 * the pipe had no room left, else the error of the first page or of the
 * pipe.
 */
static ssize_t spvm_fill_pipe(struct mm_struct *mm,
			      struct pipe_inode_info *pipe,
			      const struct spvm_iovec *iov,
			      unsigned int nr_segs, unsigned int gup_flags)
{
	struct page *pages[SPVM_BATCH];
	struct spvm_pos pos = { 0 };
	unsigned int seg;

	for (seg = 0; seg < nr_segs; seg++) {
		/* spvm_iov_from_user() checked that both fit */
		pos.addr = iov[seg].base;
		pos.len = iov[seg].len;

		while (pos.len) {
			unsigned long span, nr;
			long got, done;

			/*
			 * Each page adds at most PAGE_SIZE: stopping at
			 * MAX_RW_COUNT keeps the count in an ioctl()'s int.
			 */
			nr = min_t(unsigned long, spvm_pipe_room(pipe),
				   (MAX_RW_COUNT - pos.total) >> PAGE_SHIFT);
			if (!nr)
				return pos.total;
			span = DIV_ROUND_UP(offset_in_page(pos.addr) + pos.len,
					    PAGE_SIZE);
			nr = min3(nr, span, (unsigned long)SPVM_BATCH);

			got = spvm_get_pages(mm, pos.addr & PAGE_MASK, nr,
					     gup_flags, pages);
			if (got <= 0)
				return pos.total ?: (got ?: -EFAULT);
			/* Not under the pipe's lock either: allocation may wait. */
			got = spvm_copy_pages(pages, got);
			if (!got)
				return pos.total ?: -ENOMEM;

			done = spvm_attach(pipe, pages, got, &pos);
			if (done < 0)
				return pos.total ?: done;
			/*
			 * A short batch ends at a page that could not be had,
			 * a short attach at a pipe that filled up.
			 */
			if ((unsigned long)done < nr)
				return pos.total;
			cond_resched();
		}
	}
	return pos.total;
}

/**
 * spvm_splice() - attach pages of a target described by @iov to @pipe
 * @target:  the process to read, resolved by the entry point's
 *           &struct spvm_target_ops.get_mm once the pipe has room
 * @pipe:    a pipe the caller holds open for writing
 * @iov:     ranges of the target, checked by spvm_iov_from_user()
 * @nr_segs: number of elements of @iov
 * @flags:   SPVM_* request flags, already checked against what the entry
 *           point offers
 *
 * Waits for the first free slot only (unless SPVM_NONBLOCK), then resolves
 * the target and checks the caller's right to read it, then attaches pages
 * in order until the vector is done, the pipe is full, or a page fails: a
 * hole or zero page, a range without PROT_READ unless SPVM_FORCE,
 * VM_IO/VM_PFNMAP or secret memory.  Copies are attached
 * (spvm_copy_pages()); SPVM_STABLE, which asked for that in version 2,
 * changes nothing.
 *
 * The order matters: the caller controls how long the wait lasts (it can
 * fill the pipe itself), so a check made before it could be passed now and
 * used much later, after the target changed credentials or became
 * undumpable.  Nothing of the target is held while waiting either: a target
 * that exits meanwhile is freed, and the call returns -ESRCH.
 *
 * Pages are looked up without the pipe's lock, a batch at a time, then
 * attached under it: a lookup that waits (swap-in, FUSE, userfaultfd) does
 * not keep other readers and writers of the pipe waiting on its mutex.  If
 * another writer takes the room meanwhile, the pages that no longer fit are
 * released; when none fit, the call waits for room again, and checks again.
 *
 * Return: the number of bytes attached (possibly fewer than requested), or,
 * when none was, -EPIPE, -EAGAIN, -ERESTARTSYS (a signal while waiting for
 * room, or, since 6.2, while a lookup waited), whatever
 * &struct spvm_target_ops.get_mm returns (-ESRCH: the target's address
 * space is gone, -EPERM), -EFAULT, -EREMOTEIO (since 6.2: PCI P2PDMA
 * memory), -ENOMEM or -EINTR (a fatal signal: the caller never sees it).
 */
ssize_t spvm_splice(const struct spvm_target *target,
		    struct pipe_inode_info *pipe,
		    const struct spvm_iovec *iov, unsigned int nr_segs,
		    u64 flags)
{
	unsigned int gup_flags = FOLL_GET | FOLL_DUMP;
	struct mm_struct *mm;
	ssize_t ret;

	if (flags & SPVM_FORCE)
		gup_flags |= FOLL_FORCE;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
	gup_flags |= FOLL_INTERRUPTIBLE;
#endif

	do {
		pipe_lock(pipe);
		ret = spvm_wait_for_room(pipe, flags);
		pipe_unlock(pipe);
		if (ret)
			return ret;

		/* Not under the pipe lock: the check may sleep. */
		mm = target->ops->get_mm(target->priv, flags);
		if (IS_ERR(mm))
			return PTR_ERR(mm);

		ret = spvm_fill_pipe(mm, pipe, iov, nr_segs, gup_flags);
		mmput(mm);
		/* 0: the vector is not empty, so the room went to another writer */
	} while (!ret && !(flags & SPVM_NONBLOCK));

	return ret ?: -EAGAIN;
}
