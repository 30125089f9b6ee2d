/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The receiver's page store: what a migration's rounds sent, the newest
 * copy of every page, kept until the flat image set is written.
 *
 * An object is what a round opens (OPEN2's dst_id): a process's memory or
 * a shared segment.  Its state is the listing the last committed round gave
 * it: runs of pages in address order, each either held (PE_PRESENT: the
 * data is in the store) or listed without data with the round's flags
 * (PE_LAZY: criu fetches it later).  A round replaces the listing of each
 * object it opens; a PE_PARENT run keeps the data the store holds for those
 * pages, and is refused for a page it does not hold.  Objects a round does
 * not open keep their listing.
 *
 * On disk, in a directory of its own (DIR/store under `memsplice receive`,
 * so that it survives the receiver's restart; tmpfs or disk as DIR is):
 *
 *   pages   4 KiB slots; each held page is in one slot
 *   index   the committed listings: a header (magic, version, rounds, counts),
 *           the objects, their runs, a checksum; replaced by rename
 *
 *   committed index:  obj 1: [a, 3 pages, slots 0-2] [b, 2 pages, lazy]
 *   pages:            | s0 | s1 | s2 | s3 | s4 | ...
 *   a round (open):       ^ kept by PE_PARENT   ^ new data of the round
 *
 * A round writes its data only into slots the committed index does not
 * use, so the committed state is whole until store_commit() renames the new
 * index over the old one: a session that breaks (store_abort(), or the
 * receiver killed) leaves the store as the last commit left it.  The pages
 * file holds at most the committed pages plus one round's new ones; memory
 * holds the runs and a bit per slot.
 *
 * Single-threaded; every call returns 0 or -errno and logs its error.
 */
#ifndef MEMSPLICE_RECEIVE_STORE_H
#define MEMSPLICE_RECEIVE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct store;

/* one run of an object's listing */
struct store_run {
	uint64_t vaddr;		/* page aligned */
	uint64_t nr;		/* pages */
	uint32_t flags;		/* PE_* of pagemap.proto; PE_PRESENT: held */
	uint64_t slot;		/* held: the first of nr consecutive slots */
};

/*
 * store_open - the store in directory @path (created if missing, its parent
 * must exist), in the state of its last commit; an index that does not
 * check out is -EBADMSG, never a silently empty store.
 */
int store_open(const char *path, struct store **sp);
/* store_close - an open round is aborted */
void store_close(struct store *s);

/* store_begin - start a round; -EBUSY if one is open */
int store_begin(struct store *s);
/* store_holds - whether the last commit holds data of object @id (a "parent" for it) */
bool store_holds(const struct store *s, uint64_t id);
/*
 * store_object - list object @id in this round from now on (its previous
 * listing is replaced at commit); *@held: store_holds() of it (what OPEN2
 * answers).  -EEXIST if the round opened it already.
 */
int store_object(struct store *s, uint64_t id, bool *held);

/*
 * store_fill_fn - write exactly @len bytes at @off of @fd (from the socket);
 * 0 or -errno
 */
typedef int (*store_fill_fn)(void *arg, int fd, off_t off, size_t len);

/*
 * store_put - @nr pages at @vaddr of the current object, their data written
 * by @fill (once per run of consecutive slots, in address order).  Runs of
 * an object come in increasing address order, without overlap: -EINVAL
 * otherwise, as for an unaligned @vaddr, @nr 0 or a range past 2^64.
 */
int store_put(struct store *s, uint64_t vaddr, uint64_t nr, store_fill_fn fill, void *arg);
/* store_keep - PE_PARENT: keep what the store holds there; -ENOENT if it does not */
int store_keep(struct store *s, uint64_t vaddr, uint64_t nr);
/* store_hole - listed without data, with @flags (not PE_PRESENT or PE_PARENT) */
int store_hole(struct store *s, uint64_t vaddr, uint64_t nr, uint32_t flags);

/* store_commit - make the round the store's state, on disk first */
int store_commit(struct store *s);
/* store_abort - forget the round: the state of the last commit */
void store_abort(struct store *s);

/* store_rounds - how many rounds it committed, over every run of the receiver */
uint64_t store_rounds(const struct store *s);
/* the committed objects: their number, the id of the @i-th (ascending) */
size_t store_nr_objects(const struct store *s);
uint64_t store_object_id(const struct store *s, size_t i);
/* store_runs - object @id's committed runs (*@nr of them); NULL if none */
const struct store_run *store_runs(const struct store *s, uint64_t id, size_t *nr);
/* store_pages_fd - where a held run's data lies: slot * 4096 in this file */
int store_pages_fd(const struct store *s);

#endif
