/* SPDX-License-Identifier: GPL-2.0 */
/*
 * CRIU's page-server wire format (criu/page-xfer.c), the one place that
 * knows it: the sink sends rounds in it, and a receiver and the lazy-pages
 * server will speak it too.
 *
 * Raw TCP, no greeting, no version field: each message is a header in host
 * byte order and layout, some followed by page data.
 * cmd = flags << PS_CMD_BITS | command (flags: PE_* of pagemap.proto);
 * dst_id = id << PS_TYPE_BITS | type (a process's pagemap, or a shared
 * segment's); for PS_IOV_GET the bare vpid.
 */
#ifndef MEMSPLICE_PROTO_PAGESERVER_H
#define MEMSPLICE_PROTO_PAGESERVER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define PS_IOV_ADD		1
#define PS_IOV_HOLE		2
#define PS_IOV_OPEN		3
#define PS_IOV_OPEN2		4	/* -> u8: the server has a parent for it */
#define PS_IOV_PARENT		5	/* -> s32: the server has a parent */
#define PS_IOV_ADD_F		6	/* flags in cmd; PE_PRESENT: nr_pages of data follow */
#define PS_IOV_GET		7	/* lazy pages: -> ADD_F | PE_PRESENT header + data */
#define PS_IOV_CLOSE		0x1023	/* -> s32 status */
#define PS_IOV_FORCE_CLOSE	0x1024
/*
 * memsplice's own, sent only to `memsplice receive` (checkpoint
 * --receiver), never to criu: a session that carries the final dump's
 * other images and ends the migration.
 *   PS_MS_IMAGES  dst_id 1, vaddr 0, nr_pages 0: the session's first message
 *   PS_MS_FILE    nr_pages: the file's size in bytes, vaddr: its name's
 *                 length; the name, then the bytes, follow
 *   PS_IOV_CLOSE  -> s32 status: 0 once the files and the flat image set
 *                 are in place, on disk
 */
#define PS_MS_IMAGES		0x6d01
#define PS_MS_FILE		0x6d02
#define PS_MS_NAME_MAX		255
#define PS_MS_FILE_MAX		(1u << 30)	/* bytes of one image */
#define PS_CMD_BITS		16
#define PS_TYPE_BITS		8
#define PS_TYPE_PID		1
#define PS_TYPE_SHMEM		2

/*
 * The header, whose layout CRIU changed without a version field: u32
 * nr_pages up to CRIU 4.1 (24 bytes), u64 from 4.2 (32 bytes).
 */
enum ps_layout {
	PS_LAYOUT_24 = 24,
	PS_LAYOUT_32 = 32,
};

/* CRIU <= 4.1 */
struct ps_iov24 {
	uint32_t cmd;
	uint32_t nr_pages;
	uint64_t vaddr;
	uint64_t dst_id;
};

/* CRIU >= 4.2: the same fields, nr_pages u64, natural alignment */
struct ps_iov32 {
	uint32_t cmd;
	uint32_t pad;
	uint64_t nr_pages;
	uint64_t vaddr;
	uint64_t dst_id;
};

_Static_assert(sizeof(struct ps_iov24) == 24, "CRIU 3.17's page_server_iov is 24 bytes");
_Static_assert(sizeof(struct ps_iov32) == 32, "CRIU 4.2's page_server_iov is 32 bytes");

union ps_hdr {
	struct ps_iov24 v24;
	struct ps_iov32 v32;
};

/*
 * ps_layout_of - the header layout of CRIU version @version ("X.Y" or
 * "X.Y.Z"); 0, or -EINVAL when @version is not one.
 */
int ps_layout_of(const char *version, enum ps_layout *layout);

/*
 * ps_encode - the header of one message in @layout into *@h; its size.
 * With 24-byte headers @nr_pages must fit 32 bits (the caller checks).
 */
size_t ps_encode(enum ps_layout layout, union ps_hdr *h, uint32_t cmd, uint64_t nr_pages,
		 uint64_t vaddr, uint64_t dst_id);

/* one message's header, decoded */
struct ps_msg {
	uint32_t cmd;
	uint64_t nr_pages, vaddr, dst_id;
};

/* ps_decode - the header *@h, read in @layout, into *@m */
void ps_decode(enum ps_layout layout, const union ps_hdr *h, struct ps_msg *m);

/*
 * A connection: its socket (with SO_SNDTIMEO/SO_RCVTIMEO bounding every
 * wait: -EAGAIN), the header layout spoken on it, the flag a signal sets
 * (a wait it interrupts ends with -EINTR), and its TLS session (NULL:
 * plain TCP; proto/tls.h).
 */
struct tls;

struct ps_conn {
	int sk;
	enum ps_layout layout;
	volatile sig_atomic_t *interrupted;
	struct tls *tls;
};

/*
 * ps_set_timeouts - bound every wait on the TCP socket @sk to @seconds
 * (SO_SNDTIMEO, SO_RCVTIMEO: -EAGAIN), headers sent at once (TCP_NODELAY)
 */
int ps_set_timeouts(int sk, unsigned int seconds);
/* ps_sendv - send all of @iov (partial sends continued); 0 or -errno */
int ps_sendv(const struct ps_conn *c, struct iovec *iov, int cnt, int flags);
/* ps_recv - receive exactly @len bytes; a closed connection is -ECONNRESET */
int ps_recv(const struct ps_conn *c, void *buf, size_t len);
/*
 * ps_recv_file - receive exactly @len bytes into @fd at @off (through a
 * buffer); -EIO when the file does not take them
 */
int ps_recv_file(const struct ps_conn *c, int fd, off_t off, size_t len);
/* ps_splice - move @len bytes from a pipe into the socket, by reference (copied under TLS) */
int ps_splice(const struct ps_conn *c, int pipe_fd, size_t len);
/* ps_send_msg - one header (no data); ps_recv_msg - one header, decoded */
int ps_send_msg(const struct ps_conn *c, uint32_t cmd, uint64_t nr_pages, uint64_t vaddr,
		uint64_t dst_id, int flags);
int ps_recv_msg(const struct ps_conn *c, struct ps_msg *m);
/*
 * ps_recv_first - a session's first header, read by a server, whose layout
 * it tells (the wire has no version field): a sender opens a pagemap
 * first (OPEN, OPEN2 or PARENT, vaddr 0, dst_id not 0), and bytes 16-23
 * hold dst_id in a 24-byte header, vaddr (0) in a 32-byte one (so do
 * memsplice's PS_MS_IMAGES).  Sets c->layout.  -EPROTO for a first header
 * that opens nothing.
 */
int ps_recv_first(struct ps_conn *c, struct ps_msg *m);

#endif
