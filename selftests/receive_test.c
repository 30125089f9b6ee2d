// SPDX-License-Identifier: GPL-2.0
/*
 * memsplice receive: one receiver for every round of a migration, and the
 * flat image set it leaves.
 *
 * On any kernel (loopback): memsplice's passes (uffd-wp or soft-dirty:
 * the second sends only what changed, PE_PARENT for the rest) into one
 * receiver, whose flat set must hold the victim's memory byte for byte and
 * no PE_PARENT entry; the receiver stopped between rounds and started
 * again; and a sender of our own, speaking criu's protocol by hand: a
 * session that breaks in the middle, the lies a sender can tell (PE_PARENT
 * for a page never sent, runs out of order, a lazy-pages request), a
 * stranger refused by --peer, and 32-byte (criu 4.2) headers.  Each bad
 * session gets one line and leaves the store as the last round left it,
 * which a good round then builds on.
 *
 * With criu (3.17 in the 6.1 guest), between two network namespaces: a
 * memsplice pre-dump, a criu pre-dump and criu's final dump, all
 * --page-server into one receiver at the destination; the flat set plus
 * the final dump's other images restore with `criu restore`, and the
 * restored tree verifies every page.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "mm.pb-c.h"
#include "lib/imgview.h"
#include "lib/pattern.h"
#include "lib/twohosts.h"
#include "lib/vtest.h"

#define PORT		"27300"
#define ANON		256
#define PE_PARENT	1u
#define PE_LAZY		2u
#define PE_PRESENT	4u
#define OPEN2		4
#define PARENT		5
#define ADD_F		6
#define GET		7
#define CLOSE		0x1023
#define PS_MS_IMAGES	0x6d01
#define PS_MS_FILE	0x6d02

FIXTURE(receive) {
	struct victim v;
	char *dir;
	char src[600], dst[600], out[600];	/* out: the receiver's */
	pid_t rcv;
	char err[8192];
	char pid[16];
	struct vregion *anon;
};

FIXTURE_SETUP(receive)
{
	memset(&self->v, 0, sizeof(self->v));
	self->rcv = -1;
	self->dir = make_dir("receive");
	ASSERT_NE(NULL, self->dir);
	snprintf(self->src, sizeof(self->src), "%s/src", self->dir);
	snprintf(self->dst, sizeof(self->dst), "%s/dst", self->dir);
	snprintf(self->out, sizeof(self->out), "%s/receive.out", self->dir);
	ASSERT_EQ(0, mkdir(self->src, 0700));
	ASSERT_EQ(0, mkdir(self->dst, 0700));
}

FIXTURE_TEARDOWN(receive)
{
	if (self->rcv > 0) {
		kill(self->rcv, SIGKILL);
		waitpid(self->rcv, NULL, 0);
	}
	victim_kill(&self->v);
	if (self->dir)
		remove_dir(self->dir);
	free(self->dir);
}

/* `memsplice receive [--rounds @rounds]` with @extra (NULL-terminated), listening */
static bool receiver(struct __test_metadata *_metadata, FIXTURE_DATA(receive) *self,
		     const char *rounds, const char *const *extra)
{
	const char *argv[24] = { memsplice_bin(), "receive", "-D", self->dst, "--port", PORT,
				 "--timeout", "10", rounds ? "--rounds" : NULL, rounds };
	int n = rounds ? 10 : 8;

	for (; extra && *extra && n < 23; extra++)
		argv[n++] = *extra;
	unlink(self->out);	/* its "listening" from its own start */
	self->rcv = spawn_to(argv, self->out);
	if (self->rcv > 0 && file_says(self->out, "listening", 30))
		return true;
	read_text(self->out, self->err, sizeof(self->err));
	TH_LOG("memsplice receive: %s", self->err);
	return false;
}

/* the exit status of the receiver *@pid (then -1), its output @out in @err; -1 if it lives on */
static int exit_of(pid_t *pid, const char *out, char *err, size_t len)
{
	int st = 0;

	for (double end = now_s() + 60; now_s() < end;) {
		pid_t r = waitpid(*pid, &st, WNOHANG);

		if (r == *pid) {
			*pid = -1;
			read_text(out, err, len);
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		}
		usleep(20 * 1000);	/* polled with a deadline */
	}
	read_text(out, err, len);
	return -1;
}

static int receiver_exit(FIXTURE_DATA(receive) *self)
{
	return exit_of(&self->rcv, self->out, self->err, sizeof(self->err));
}

static int start_victim(FIXTURE_DATA(receive) *self)
{
	const char *args[] = { "--anon", "256", "--nothp", "--threads", "1", NULL };

	if (victim_start(&self->v, args, 1, 1))
		return -1;
	snprintf(self->pid, sizeof(self->pid), "%d", self->v.pid);
	self->anon = victim_region(&self->v, self->v.pid, "anon");
	return self->anon ? 0 : -1;
}

/* the flat set in dst holds the victim's memory, and no PE_PARENT entry */
static void flat_matches(struct __test_metadata *_metadata, FIXTURE_DATA(receive) *self)
{
	struct dump_view dv;
	uint64_t bad = 0;
	char parent[700];

	snprintf(parent, sizeof(parent), "%s/parent", self->dst);
	EXPECT_NE(0, access(parent, F_OK));
	ASSERT_EQ(0, dump_view_open(&dv, self->dst, self->v.pid, false));
	EXPECT_EQ(1, dv.nr_levels);
	EXPECT_EQ(0, dump_view_total(&dv, PE_PARENT));
	EXPECT_LE(ANON, dump_view_total(&dv, PE_PRESENT));
	EXPECT_LT(0, compare_with_mem(&dv, self->v.pid, &bad)) {
		TH_LOG("page %#llx of the flat set is not the victim's", (unsigned long long)bad);
	}
	dump_view_close(&dv);
}

/*
 * memsplice's passes (2, the second sending what changed only) and its own
 * final dump to the receiver, then its other images (--receiver): the
 * receiver ends by itself, with them next to the flat set
 */
TEST_F_TIMEOUT(receive, memsplice_passes_flat_set_exact, 300)
{
	const char *ck[] = { memsplice_bin(), "checkpoint", "-t", self->pid, "-D", self->src,
			     "--page-server", "--address", "127.0.0.1", "--port", PORT,
			     "--receiver", "--final", "dump", "--min-passes", "2", "--max-passes",
			     "2", NULL };
	char inv[700];

	ASSERT_EQ(0, start_victim(self));
	ASSERT_TRUE(receiver(_metadata, self, NULL, NULL));
	ASSERT_EQ(0, run_cmd(ck, self->err, sizeof(self->err))) TH_LOG("%s", self->err);
	EXPECT_NE(NULL, strstr(self->err, "sent to the receiver")) TH_LOG("%s", self->err);
	ASSERT_EQ(0, receiver_exit(self)) TH_LOG("%s", self->err);
	EXPECT_NE(NULL, strstr(self->err, "round 3:")) TH_LOG("%s", self->err);
	EXPECT_NE(NULL, strstr(self->err, "kept")) TH_LOG("%s", self->err);
	snprintf(inv, sizeof(inv), "%s/inventory.img", self->dst);
	EXPECT_EQ(0, access(inv, F_OK));
	flat_matches(_metadata, self);
}

/* how often the receiver's output says @what so far (read into self->err) */
static int count_in(FIXTURE_DATA(receive) *self, const char *what)
{
	int n = 0;

	read_text(self->out, self->err, sizeof(self->err));
	for (const char *s = strstr(self->err, what); s; s = strstr(s + 1, what))
		n++;
	return n;
}

/* a connection of our own to the receiver, from @from (NULL: any) */
static int dial(const char *from)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(atoi(PORT)) };
	struct sockaddr_in me = { .sin_family = AF_INET };
	int sk = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	if (sk >= 0 && from && (inet_pton(AF_INET, from, &me.sin_addr) != 1 ||
				bind(sk, (struct sockaddr *)&me, sizeof(me)))) {
		close(sk);
		return -1;
	}
	if (sk >= 0 && connect(sk, (struct sockaddr *)&to, sizeof(to))) {
		close(sk);
		return -1;
	}
	return sk;
}

/* one header in criu's layout of @size bytes (24: 3.17, 32: 4.2) */
static int hdr(int sk, int size, uint32_t cmd, uint64_t nr, uint64_t vaddr, uint64_t id)
{
	uint32_t h32[2] = { cmd, 0 };
	uint64_t h64[3] = { nr, vaddr, id };
	char buf[32];

	if (size == 24) {
		uint32_t n = (uint32_t)nr;

		memcpy(buf, &cmd, 4);
		memcpy(buf + 4, &n, 4);
		memcpy(buf + 8, &vaddr, 8);
		memcpy(buf + 16, &id, 8);
	} else {
		memcpy(buf, h32, 8);
		memcpy(buf + 8, h64, 24);
	}
	return send(sk, buf, size, MSG_NOSIGNAL) == size ? 0 : -1;
}

/* @nr pages of the pattern at @vaddr with @seed */
static int pages(int sk, uint64_t vaddr, uint64_t nr, uint64_t seed)
{
	char page[VPAGE];

	for (uint64_t i = 0; i < nr; i++) {
		pattern_fill(page, vaddr + i * VPAGE, seed);
		if (send(sk, page, VPAGE, MSG_NOSIGNAL) != VPAGE)
			return -1;
	}
	return 0;
}

/* @len bytes of answer; -1 if the receiver closed instead */
static int answer(int sk, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(sk, (char *)buf + got, len - got, 0);

		if (n <= 0)
			return -1;
		got += n;
	}
	return 0;
}

#define ID	(1ULL << 8 | 1)		/* process 1's pagemap */
#define VA	0x7f0000000000ULL

/*
 * A round by hand in @size-byte headers: OPEN2 (answer: @held expected),
 * @keep pages PE_PARENT, then @nr pages of @seed, CLOSE (answer 0); 0 if
 * all went as a sender expects
 */
static int round_by_hand(int size, int held, uint64_t keep, uint64_t nr, uint64_t seed)
{
	int sk = dial(NULL), ret = -1;
	int32_t status = -1;
	char has = -1;

	if (sk < 0)
		return -1;
	if (hdr(sk, size, OPEN2, 0, 0, ID) || answer(sk, &has, 1) || has != held)
		goto out;
	if (keep && hdr(sk, size, PE_PARENT << 16 | ADD_F, keep, VA, ID))
		goto out;
	if (hdr(sk, size, PE_PRESENT << 16 | ADD_F, nr, VA + keep * VPAGE, ID) ||
	    pages(sk, VA + keep * VPAGE, nr, seed) || hdr(sk, size, CLOSE, 0, 0, 0) ||
	    answer(sk, &status, 4) || status)
		goto out;
	ret = 0;
out:
	close(sk);
	return ret;
}

/* page @i of the flat set's object 1 holds @seed's pattern */
static bool flat_page(FIXTURE_DATA(receive) *self, uint64_t i, uint64_t seed)
{
	struct dump_view dv;
	char page[VPAGE];
	bool ok;

	if (dump_view_open(&dv, self->dst, 1, false))
		return false;
	ok = dump_view_page(&dv, VA + i * VPAGE, page) == 1 &&
	     pattern_check(page, VA + i * VPAGE, seed) < 0;
	dump_view_close(&dv);
	return ok;
}

/*
 * Bad sessions between two good rounds, each refused with one line and
 * nothing applied: a sender that hangs up mid-pages, PE_PARENT for a page
 * never sent, runs out of order, a lazy-pages request, 2^31 pages announced
 * (and one sent); the second round, kept on the first, in 32-byte headers.
 */
TEST_F_TIMEOUT(receive, bad_sessions_leave_the_store, 120)
{
	static const struct { const char *says; } bad[] = {
		{ "hung up in the middle of its round" },
		{ "which sent none" },
		{ "not after what it listed last" },
		{ "lazy-pages server" },
		{ "hung up in the middle of its round" },
	};
	int sk;
	char has;

	ASSERT_TRUE(receiver(_metadata, self, "2", NULL));
	ASSERT_EQ(0, round_by_hand(24, 0, 0, 8, 1));
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sk = dial(NULL);
		ASSERT_LE(0, sk);
		ASSERT_EQ(0, hdr(sk, 24, OPEN2, 0, 0, ID));
		ASSERT_EQ(0, answer(sk, &has, 1));
		EXPECT_EQ(1, has);
		switch (i) {
		case 0:		/* 4 pages announced, 2 sent */
			ASSERT_EQ(0, hdr(sk, 24, PE_PRESENT << 16 | ADD_F, 4, VA, ID));
			ASSERT_EQ(0, pages(sk, VA, 2, 9));
			break;
		case 1:
			ASSERT_EQ(0, hdr(sk, 24, PE_PARENT << 16 | ADD_F, 1, VA + 8 * VPAGE, ID));
			break;
		case 2:
			ASSERT_EQ(0, hdr(sk, 24, PE_PRESENT << 16 | ADD_F, 1, VA + VPAGE, ID));
			ASSERT_EQ(0, pages(sk, VA + VPAGE, 1, 9));
			ASSERT_EQ(0, hdr(sk, 24, PE_PRESENT << 16 | ADD_F, 1, VA, ID));
			ASSERT_EQ(0, pages(sk, VA, 1, 9));
			break;
		case 3:
			ASSERT_EQ(0, hdr(sk, 24, GET, 1, VA, 1));
			break;
		case 4:		/* 8 TiB announced: taken as it comes, not reserved */
			ASSERT_EQ(0, hdr(sk, 24, PE_PRESENT << 16 | ADD_F, 1u << 31, VA, ID));
			ASSERT_EQ(0, pages(sk, VA, 1, 9));
			break;
		}
		if (i && i != 4) {	/* the receiver ends the session */
			EXPECT_EQ(-1, answer(sk, &has, 1));
		}
		close(sk);
		/* this session's failure said, with its reason */
		for (double end = now_s() + 30; now_s() < end &&
		     count_in(self, "round 2 failed") < (int)i + 1;)
			usleep(20 * 1000);	/* polled with a deadline */
		EXPECT_EQ((int)i + 1, count_in(self, "round 2 failed")) TH_LOG("%s", self->err);
		EXPECT_EQ(i == 4 ? 2 : 1, count_in(self, bad[i].says)) TH_LOG("%s", self->err);
	}
	/* round 2 keeps 6 pages of round 1 and sends 2, in 4.2's headers */
	ASSERT_EQ(0, round_by_hand(32, 1, 6, 2, 2));
	ASSERT_EQ(0, receiver_exit(self)) TH_LOG("%s", self->err);
	for (int i = 0; i < 6; i++) {
		EXPECT_TRUE(flat_page(self, i, 1)) TH_LOG("page %d", i);
	}
	for (int i = 6; i < 8; i++) {
		EXPECT_TRUE(flat_page(self, i, 2)) TH_LOG("page %d", i);
	}
}

/* stopped after round 1 (a signal), started again: round 2 builds on it */
TEST_F_TIMEOUT(receive, restarted_between_rounds, 120)
{
	ASSERT_TRUE(receiver(_metadata, self, "2", NULL));
	ASSERT_EQ(0, round_by_hand(24, 0, 0, 8, 1));
	ASSERT_TRUE(file_says(self->out, "round 1:", 30));
	ASSERT_EQ(0, kill(self->rcv, SIGTERM));
	EXPECT_EQ(1, receiver_exit(self));
	EXPECT_NE(NULL, strstr(self->err, "keeps 1 rounds")) TH_LOG("%s", self->err);
	ASSERT_TRUE(receiver(_metadata, self, "2", NULL));
	ASSERT_EQ(0, round_by_hand(24, 1, 4, 4, 3));
	ASSERT_EQ(0, receiver_exit(self)) TH_LOG("%s", self->err);
	EXPECT_NE(NULL, strstr(self->err, "holds 1 rounds")) TH_LOG("%s", self->err);
	for (int i = 0; i < 4; i++) {
		EXPECT_TRUE(flat_page(self, i, 1)) TH_LOG("page %d", i);
	}
	for (int i = 4; i < 8; i++) {
		EXPECT_TRUE(flat_page(self, i, 3)) TH_LOG("page %d", i);
	}
}

/* a file of the final images handed over by hand: name @name, @len bytes of @byte */
static int file_by_hand(int sk, const char *name, size_t len, char byte)
{
	char buf[256];

	memset(buf, byte, sizeof(buf));
	if (hdr(sk, 24, PS_MS_FILE, len, strlen(name), 1) ||
	    send(sk, name, strlen(name), MSG_NOSIGNAL) != (ssize_t)strlen(name))
		return -1;
	for (size_t done = 0; done < len; done += sizeof(buf))
		if (send(sk, buf, len - done < sizeof(buf) ? len - done : sizeof(buf),
			 MSG_NOSIGNAL) < 0)
			return -1;
	return 0;
}

/*
 * The final images (checkpoint --receiver's session): a name outside DIR
 * and one of the store's own refused, nothing of them left in DIR; then
 * a good one ends the migration with the file in place.
 */
TEST_F_TIMEOUT(receive, final_images_by_hand, 120)
{
	static const char *const bad[] = { "../escape.img", "pagemap-1.img" };
	char path[700], buf[600];
	int32_t status = -1;
	int sk;

	ASSERT_TRUE(receiver(_metadata, self, NULL, NULL));
	ASSERT_EQ(0, round_by_hand(24, 0, 0, 4, 1));
	for (unsigned int i = 0; i < 2; i++) {
		sk = dial(NULL);
		ASSERT_LE(0, sk);
		ASSERT_EQ(0, hdr(sk, 24, PS_MS_IMAGES, 0, 0, 1));
		ASSERT_EQ(0, file_by_hand(sk, "core-1.img", 100, 'c'));
		ASSERT_EQ(0, file_by_hand(sk, bad[i], 10, 'x'));
		EXPECT_EQ(-1, answer(sk, &status, 4));
		close(sk);
		for (double end = now_s() + 30; now_s() < end &&
		     count_in(self, "final images failed") < (int)i + 1;)
			usleep(20 * 1000);	/* polled with a deadline */
		EXPECT_EQ(1, count_in(self, bad[i])) TH_LOG("%s", self->err);
	}
	/* nothing of those sessions in DIR, nor beside it */
	EXPECT_EQ(0, shell("cd '%s' && ! ls -A | grep -v '^store$' | grep . && "
			   "[ ! -e ../escape.img ]", self->dst)) TH_LOG("DIR holds more");

	sk = dial(NULL);
	ASSERT_LE(0, sk);
	ASSERT_EQ(0, hdr(sk, 24, PS_MS_IMAGES, 0, 0, 1));
	ASSERT_EQ(0, file_by_hand(sk, "core-1.img", 300, 'c'));
	ASSERT_EQ(0, hdr(sk, 24, CLOSE, 0, 0, 0));
	ASSERT_EQ(0, answer(sk, &status, 4));
	EXPECT_EQ(0, status);
	close(sk);
	ASSERT_EQ(0, receiver_exit(self)) TH_LOG("%s", self->err);
	snprintf(path, sizeof(path), "%s/core-1.img", self->dst);
	ASSERT_EQ(0, read_text(path, buf, sizeof(buf)));
	EXPECT_EQ(300, strlen(buf));
	EXPECT_EQ('c', buf[299]);
	for (int i = 0; i < 4; i++) {
		EXPECT_TRUE(flat_page(self, i, 1)) TH_LOG("page %d", i);
	}
}

/* an mm image of process 1 with one VMA [@start, @end), as criu writes it, into @buf */
static size_t mm_image(uint8_t *buf, size_t len, uint64_t start, uint64_t end)
{
	VmaEntry vma = VMA_ENTRY__INIT, *vmas[] = { &vma };
	MmEntry mm = MM_ENTRY__INIT;
	uint32_t magic[2] = { 0x54564319, 0x57492820 }, n;

	vma.start = start;
	vma.end = end;
	vma.prot = 3;
	vma.flags = 0x22;		/* MAP_PRIVATE | MAP_ANONYMOUS */
	vma.fd = -1;
	mm.n_vmas = 1;
	mm.vmas = vmas;
	n = mm_entry__get_packed_size(&mm);
	if (sizeof(magic) + 4 + n > len)
		return 0;
	memcpy(buf, magic, sizeof(magic));
	memcpy(buf + sizeof(magic), &n, 4);
	mm_entry__pack(&mm, buf + sizeof(magic) + 4);
	return sizeof(magic) + 4 + n;
}

/*
 * The final images say process 1 maps less than the rounds sent it: the
 * receiver refuses with one line, writes no flat set and puts no final
 * image in DIR (the store keeps the rounds)
 */
TEST_F_TIMEOUT(receive, pages_outside_the_mappings_refused, 120)
{
	uint8_t img[512];
	size_t len = mm_image(img, sizeof(img), VA + 2 * VPAGE, VA + 100 * VPAGE);
	int32_t status = 0;
	int sk;

	ASSERT_LT(0, len);
	ASSERT_TRUE(receiver(_metadata, self, NULL, NULL));
	ASSERT_EQ(0, round_by_hand(24, 0, 0, 4, 1));		/* pages 0-3 of VA */
	sk = dial(NULL);
	ASSERT_LE(0, sk);
	ASSERT_EQ(0, hdr(sk, 24, PS_MS_IMAGES, 0, 0, 1));
	ASSERT_EQ(0, hdr(sk, 24, PS_MS_FILE, len, strlen("mm-1.img"), 1));
	ASSERT_EQ(8, send(sk, "mm-1.img", 8, MSG_NOSIGNAL));
	ASSERT_EQ((ssize_t)len, send(sk, img, len, MSG_NOSIGNAL));
	ASSERT_EQ(0, hdr(sk, 24, CLOSE, 0, 0, 0));
	ASSERT_EQ(0, answer(sk, &status, 4));
	EXPECT_EQ(-1, status);
	close(sk);
	EXPECT_NE(0, receiver_exit(self));
	EXPECT_NE(NULL, strstr(self->err, "outside its mappings in mm-1.img")) TH_LOG("%s", self->err);
	EXPECT_EQ(0, shell("cd '%s' && ! ls -A | grep -v '^store$' | grep .", self->dst))
		TH_LOG("DIR holds more than the store");
}

/* --peer: a connection from elsewhere is refused and logged, the peer's round taken */
TEST_F_TIMEOUT(receive, stranger_refused, 120)
{
	const char *peer[] = { "--peer", "127.0.0.1", NULL };
	int sk;
	char has;

	ASSERT_TRUE(receiver(_metadata, self, "1", peer));
	sk = dial("127.0.0.2");
	ASSERT_LE(0, sk);
	hdr(sk, 24, OPEN2, 0, 0, ID);
	EXPECT_EQ(-1, answer(sk, &has, 1));
	close(sk);
	ASSERT_TRUE(file_says(self->out, "refused a connection from 127.0.0.2", 30));
	ASSERT_EQ(0, round_by_hand(24, 0, 0, 4, 1));
	ASSERT_EQ(0, receiver_exit(self)) TH_LOG("%s", self->err);
	for (int i = 0; i < 4; i++) {
		EXPECT_TRUE(flat_page(self, i, 1)) TH_LOG("page %d", i);
	}
}

/*
 * --tls at both ends: memsplice's passes, its final dump and the final
 * images, each session through the handshake; a plain sender refused
 */
TEST_F_TIMEOUT(receive, over_tls, 300)
{
	char paths[3][800];
	const char *tls[8];
	const char *ck[32] = { memsplice_bin(), "checkpoint", "-t", self->pid, "-D", self->src,
			       "--page-server", "--address", "127.0.0.1", "--port", PORT,
			       "--receiver", "--final", "dump", "--min-passes", "2",
			       "--max-passes", "2" };
	int n = 18;

	ASSERT_EQ(0, tls_files_make(self->dir, paths, tls)) TH_LOG("certtool failed (gnutls-bin)");
	for (int i = 0; tls[i]; i++)
		ck[n++] = tls[i];
	ASSERT_EQ(0, start_victim(self));
	ASSERT_TRUE(receiver(_metadata, self, NULL, tls));
	EXPECT_NE(0, round_by_hand(24, 0, 0, 4, 1));
	ASSERT_TRUE(file_says(self->out, "no TLS session", 30));
	ASSERT_EQ(0, run_cmd(ck, self->err, sizeof(self->err))) TH_LOG("%s", self->err);
	ASSERT_EQ(0, receiver_exit(self)) TH_LOG("%s", self->err);
	EXPECT_NE(NULL, strstr(self->err, "round 3:")) TH_LOG("%s", self->err);
	flat_matches(_metadata, self);
}

/* ---- with criu, between two network namespaces ----------------------------- */

FIXTURE(criu) {
	struct victim v;
	char *dir;
	char src[600], dst[600], out[600], fifo[600], why[200];
	char pid[16];
	pid_t rcv;
	char err[8192];
};

FIXTURE_SETUP(criu)
{
	const char *why = migration_unusable();

	memset(&self->v, 0, sizeof(self->v));
	self->rcv = -1;
	if (why) {
		snprintf(self->why, sizeof(self->why), "%s", why);
		SKIP(return, "%s", self->why);
	}
	ASSERT_EQ(0, twohosts_enter());
	self->dir = make_dir("receive-criu");
	ASSERT_NE(NULL, self->dir);
	snprintf(self->src, sizeof(self->src), "%s/src", self->dir);
	snprintf(self->dst, sizeof(self->dst), "%s/dst", self->dir);
	snprintf(self->out, sizeof(self->out), "%s/receive.out", self->dir);
	snprintf(self->fifo, sizeof(self->fifo), "%s/report", self->dir);
	ASSERT_EQ(0, mkdir(self->src, 0755));
	ASSERT_EQ(0, mkdir(self->dst, 0755));
}

FIXTURE_TEARDOWN(criu)
{
	if (self->rcv > 0) {
		kill(self->rcv, SIGKILL);
		waitpid(self->rcv, NULL, 0);
	}
	victim_kill(&self->v);
	if (self->dir) {
		remove_dir(self->dir);
		netns_remove();
	}
	free(self->dir);
}

/* the pages round @n kept (PE_PARENT), from the receiver's output @out; -1 if not said */
static long kept(const char *out, int n)
{
	char key[32];
	const char *s;
	long sent, k;

	snprintf(key, sizeof(key), "round %d:", n);
	s = strstr(out, key);
	if (!s || sscanf(s + strlen(key), " %*d objects, %ld pages sent, %ld kept", &sent, &k) != 2)
		return -1;
	return k;
}

/* a round from the source: @argv run there, its failure logged with @log's tail */
static int round_from(struct __test_metadata *_metadata, FIXTURE_DATA(criu) *self,
		      const char *const *argv, int n, const char *log)
{
	char path[700], tail[2048];
	int ret = run_cmd(argv, self->err, sizeof(self->err));

	if (ret) {
		snprintf(path, sizeof(path), "%s/%d/%s", self->src, n, log);
		TH_LOG("round %d: exit %d: %s %s", n, ret, self->err,
		       file_tail(path, 6, tail, sizeof(tail)));
	}
	return ret;
}

/*
 * the flat set in dst and the other images of @final (NULL: the receiver
 * has them) restored by criu; every page verified
 */
static void restore_flat(struct __test_metadata *_metadata, FIXTURE_DATA(criu) *self,
			 const char *final)
{
	char pidfile[700], buf[64];
	const char *rs[] = { "ip", "netns", "exec", NS_DST, criu_bin(), "restore", "-D",
			     self->dst, "-d", "-o", "restore.log", "--pidfile", pidfile, NULL };
	int nr = self->v.nr_pids;
	struct dump_view dv;
	pid_t root;

	/* one layer: every page of the root's "anon" present, none in a parent */
	ASSERT_EQ(0, dump_view_open(&dv, self->dst, self->v.pid, false));
	EXPECT_EQ(0, dump_view_total(&dv, PE_PARENT));
	EXPECT_LE(ANON, dump_view_total(&dv, PE_PRESENT));
	dump_view_close(&dv);

	/* the final dump's other images next to it (none of them the receiver's) */
	if (final)
		ASSERT_EQ(0, shell("cd '%s' && for f in *.img; do [ ! -e '%s'/\"$f\" ] || "
				   "exit 1; cp \"$f\" '%s'/ || exit 1; done", final, self->dst,
				   self->dst));
	snprintf(pidfile, sizeof(pidfile), "%s/restore.pid", self->dir);
	ASSERT_EQ(0, victim_reap(&self->v));
	ASSERT_EQ(0, run_cmd(rs, self->err, sizeof(self->err))) {
		char log[700], tail[2048];

		snprintf(log, sizeof(log), "%s/restore.log", self->dst);
		TH_LOG("criu restore: %s %s", self->err, file_tail(log, 8, tail, sizeof(tail)));
	}
	ASSERT_EQ(0, read_text(pidfile, buf, sizeof(buf)));
	root = atoi(buf);
	ASSERT_LT(0, root);
	ASSERT_EQ(nr, victim_adopt(&self->v, root));
	EXPECT_EQ(0, victim_verify_all(&self->v));
}

static const char *const rich[] = { "--anon", "256", "--nothp", "--shared", "32",
				    "--protnone", "16", "--threads", "2", "--children", "1",
				    NULL };

/* the receiver at the destination, from the source only, @rounds (NULL: until the images) */
static bool receiver_dst(FIXTURE_DATA(criu) *self, const char *rounds)
{
	const char *rcv[] = { "ip", "netns", "exec", NS_DST, memsplice_bin(), "receive", "-D",
			      self->dst, "--address", DST_ADDR, "--port", PORT, "--peer", SRC_ADDR,
			      rounds ? "--rounds" : NULL, rounds, NULL };

	self->rcv = spawn_to(rcv, self->out);
	return self->rcv > 0 && file_says(self->out, "listening", 30);
}

/* @more (NULL-terminated) after the @*n entries of @argv (@max with the NULL) */
static void append(const char **argv, int *n, int max, const char *const *more)
{
	for (; more && *more && *n < max - 1; more++)
		argv[(*n)++] = *more;
	argv[*n] = NULL;
}

/*
 * Round 1 a memsplice pre-dump, round 2 a criu pre-dump on it, round 3
 * criu's final dump on that, all into one receiver at the destination
 * (each with @tls, NULL-terminated, if given); its flat set and the final
 * dump's other images restored by criu.
 */
static void criu_rounds(struct __test_metadata *_metadata, FIXTURE_DATA(criu) *self,
			const char *const *tls)
{
	const struct victim_opts vo = { .fifo = self->fifo, .detach = true };
	char d1[700], d2[700], d3[700];
	const char *rcv[32] = { "ip", "netns", "exec", NS_DST, memsplice_bin(), "receive", "-D",
				self->dst, "--address", DST_ADDR, "--port", PORT, "--peer",
				SRC_ADDR, "--rounds", "3" };
	const char *r1[32] = { memsplice_bin(), "pre-dump", "-t", self->pid, "-D", d1,
			       "--track-mem", "--page-server", "--address", DST_ADDR, "--port",
			       PORT };
	const char *r2[32] = { criu_bin(), "pre-dump", "-t", self->pid, "-D", d2, "--track-mem",
			       "--prev-images-dir", "../1", "--page-server", "--address", DST_ADDR,
			       "--port", PORT, "-o", "predump.log" };
	const char *r3[32] = { criu_bin(), "dump", "-t", self->pid, "-D", d3, "--track-mem",
			       "--prev-images-dir", "../2", "--page-server", "--address", DST_ADDR,
			       "--port", PORT, "-o", "dump.log" };
	int n0 = 16, n1 = 12, n2 = 16, n3 = 16;

	append(rcv, &n0, 32, tls);
	append(r1, &n1, 32, tls);
	append(r2, &n2, 32, tls);
	append(r3, &n3, 32, tls);
	ASSERT_EQ(0, victim_start_opts(&self->v, rich, 2, 4, &vo));
	snprintf(self->pid, sizeof(self->pid), "%d", self->v.pid);
	snprintf(d1, sizeof(d1), "%s/1", self->src);
	snprintf(d2, sizeof(d2), "%s/2", self->src);
	snprintf(d3, sizeof(d3), "%s/3", self->src);
	ASSERT_EQ(0, mkdir(d1, 0755) | mkdir(d2, 0755) | mkdir(d3, 0755));
	self->rcv = spawn_to(rcv, self->out);
	ASSERT_TRUE(file_says(self->out, "listening", 30));

	ASSERT_EQ(0, round_from(_metadata, self, r1, 1, "none"));
	ASSERT_EQ(0, victim_dirty(&self->v, self->v.pid));
	ASSERT_EQ(0, round_from(_metadata, self, r2, 2, "predump.log"));
	ASSERT_EQ(0, victim_dirty(&self->v, self->v.pid));
	ASSERT_EQ(0, round_from(_metadata, self, r3, 3, "dump.log"));
	ASSERT_EQ(0, exit_of(&self->rcv, self->out, self->err, sizeof(self->err)))
		TH_LOG("memsplice receive: %s", self->err);
	TH_LOG("%s", self->err);
	/* criu's rounds built on what the store held: most pages kept, not sent again */
	EXPECT_LT(ANON, kept(self->err, 2));
	EXPECT_LT(ANON, kept(self->err, 3));
	restore_flat(_metadata, self, d3);
}

TEST_F_TIMEOUT(criu, memsplice_and_criu_rounds_restore, 600)
{
	NEED_SETUP();
	criu_rounds(_metadata, self, NULL);
}

/* the same, every round through criu's TLS (criu 3.17 --tls as the sender) */
TEST_F_TIMEOUT(criu, criu_rounds_over_tls, 600)
{
	char paths[3][800];
	const char *tls[8];

	NEED_SETUP();
	ASSERT_EQ(0, tls_files_make(self->dir, paths, tls)) TH_LOG("certtool failed (gnutls-bin)");
	criu_rounds(_metadata, self, tls);
}

/*
 * The README's commands: memsplice checkpoint (2 passes, criu's final dump)
 * into one receiver, which takes the final images too (--receiver) and
 * ends by itself; criu restores its DIR as it is
 */
TEST_F_TIMEOUT(criu, checkpoint_into_receiver, 600)
{
	const struct victim_opts vo = { .fifo = self->fifo, .detach = true };
	const char *ck[] = { memsplice_bin(), "checkpoint", "-t", self->pid, "-D", self->src,
			     "--page-server", "--address", DST_ADDR, "--port", PORT, "--receiver",
			     "--min-passes", "2", "--max-passes", "2", NULL };

	NEED_SETUP();
	ASSERT_EQ(0, victim_start_opts(&self->v, rich, 2, 4, &vo));
	snprintf(self->pid, sizeof(self->pid), "%d", self->v.pid);
	ASSERT_TRUE(receiver_dst(self, NULL));
	ASSERT_EQ(0, run_cmd(ck, self->err, sizeof(self->err))) TH_LOG("%s", self->err);
	ASSERT_EQ(0, exit_of(&self->rcv, self->out, self->err, sizeof(self->err)))
		TH_LOG("memsplice receive: %s", self->err);
	TH_LOG("%s", self->err);
	EXPECT_LT(ANON, kept(self->err, 3));	/* criu's dump on the passes */
	restore_flat(_metadata, self, NULL);
}

TEST_HARNESS_MAIN
