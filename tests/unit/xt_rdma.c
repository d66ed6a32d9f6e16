/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xt_rdma.c - test_rdma: the transport contract suite (test_transport.c)
 * over the RDMA driver, end to end on real soft-RoCE devices (run it
 * through tests/rxe/run-tests), and what only RDMA has: rdma_cm private
 * data, device and NUMA placement in the log, then libmemsync itself over
 * RDMA.  xt_rdma_stub.c reuses all of it over the fake NIC
 * (XT_RDMA_NO_MAIN).  Included by test_transport.c (-DTEST_TRANSPORT).
 *
 * Pass 1 puts server and client on one device ($MS_RXE_ADDR); pass 2 puts
 * the server on $MS_RXE_B_ADDR and binds the client to $MS_RXE_A_ADDR, so
 * the packets cross a veth between two devices.  On a host without an
 * RDMA device the whole test is skipped.
 */
#include <netdb.h>

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "memsync.h"
#include "fixture.h"
#include "preg_check.h"
#include "proto.h"
#include "rdma.h"

#define SRV_ADDR (X.srv_addr)

static int rdma_cli(const char *src, const char *host, const char *port,
		    const struct ms_xopts *o, struct ms_xconn **out, char *err, size_t errlen)
{
	return ms_rdma_connect_from(src, host, port, o, out, err, errlen);
}

/* Private data that is not memsync's: rejected, nothing else happens. */
static void test_bad_private_data(struct tsrv *t)
{
	struct rdma_event_channel *ch = rdma_create_event_channel();
	struct rdma_cm_id *id = NULL;
	struct rdma_cm_event *ev;
	struct addrinfo *ai = NULL;
	uint32_t junk[2] = { 0x12345678, 1 };
	struct rdma_conn_param cp = { .private_data = junk, .private_data_len = sizeof(junk),
				      .qp_num = 1 };
	int got = -1, step = 0;

	if (!ch || rdma_create_id(ch, &id, NULL, RDMA_PS_TCP) ||
	    getaddrinfo(SRV_ADDR, t->port, NULL, &ai))
		tap_bail("raw rdma_cm set-up");
	if (rdma_resolve_addr(id, NULL, ai->ai_addr, 5000) == 0 &&
	    rdma_get_cm_event(ch, &ev) == 0) {
		step = ev->event == RDMA_CM_EVENT_ADDR_RESOLVED;
		rdma_ack_cm_event(ev);
	}
	if (step && rdma_resolve_route(id, 5000) == 0 && rdma_get_cm_event(ch, &ev) == 0) {
		step = ev->event == RDMA_CM_EVENT_ROUTE_RESOLVED;
		rdma_ack_cm_event(ev);
	}
	if (step && rdma_connect(id, &cp) == 0 && rdma_get_cm_event(ch, &ev) == 0) {
		got = ev->event;
		rdma_ack_cm_event(ev);
	}
	is_int(got, RDMA_CM_EVENT_REJECTED, "bad private data: the connection is rejected");
	usleep(100000);
	ok(log_has(t, "not a memsync client", "rejected"), "and the server says why");
	freeaddrinfo(ai);
	rdma_destroy_id(id);
	rdma_destroy_event_channel(ch);
}

/* rdma_cm binds an address without a device, and listen says so. */
static void test_errors(void)
{
	struct ms_xsrv *s2 = NULL;
	char err[256] = "";

	is_int(T->listen("127.0.0.1", "0", NULL, &s2, err, sizeof(err)), -ENODEV,
	       "listen on an address without an RDMA device: -ENODEV");
}

static void rdma_extra(struct tsrv *t, const char *what)
{
	ok(log_has(t, "rdma: listening on", "placement: NUMA node"),
	   "%s: the listener logs its device and NUMA placement", what);
	test_bad_private_data(t);
	test_errors();
}

static void rdma_after_stop(struct tsrv *t, const char *what)
{
	ok(log_has(t, "rdma: server loop on NUMA node", ""), "%s: loop placement logged", what);
}

/* X for the RDMA driver, servers on addr, clients from src (or NULL). */
static void rdma_setup(const char *addr, const char *src)
{
	X = (struct xcfg){
		.ops = &ms_rdma_ops, .srv_addr = addr, .cli_src = src,
		.caps = XC_ACCESS_FATAL | XC_NEEDS_LMR | XC_DESC_ADDR,
		.rsz = 16u << 20, .nregs = 16, .nreads = 300, .big_io = 16u << 20,
		.connect = rdma_cli, .extra = rdma_extra, .after_stop = rdma_after_stop,
	};
}

/* ------------------------------------------------------------ engine */

#define MiB (1ull << 20)
#define CHUNK (64u << 10)

/* A client with the given transport choice (AUTO too, which the fixture's
 * fx_connect cannot ask for). */
static ms_client *connect_kind(const struct fx_server *f, enum ms_transport_kind kind)
{
	struct ms_client_opts o = { .opts_size = sizeof(o), .transport = kind, .timeout_ms = 20000 };
	char err[256];
	ms_client *c = ms_connect(SRV_ADDR, f->port, &o, err, sizeof(err));

	if (!c)
		diag("connect: %s", err);
	return c;
}

static void test_engine(void)
{
	const uint64_t size = 4 * MiB;
	const struct fx_region r1 = { .name = "r1", .size = size, .chunk_size = CHUNK };
	struct fx_server f = { .transport = MS_TRANSPORT_RDMA, .host = SRV_ADDR };
	struct ms_xfer_stats st;
	struct ms_region_info info;
	char err[256];
	uint8_t *local, *mem;
	ms_export *e;
	ms_client *c, *c2;
	ms_region *r, *w;
	uint64_t t0;
	int ret;

	diag("---- engine over RDMA: server %s", SRV_ADDR);
	fx_server_up_with(&f, &r1, 1, FX_SEED);
	is_str(ms_server_transport(f.s), "rdma", "engine: server transport is rdma");
	e = f.e[0];
	mem = f.mem[0];
	ok(ms_server_port(f.s) != 0, "engine: server started (port %s)", f.port);

	c = connect_kind(&f, MS_TRANSPORT_AUTO);
	if (!c)
		tap_bail("cannot connect");
	is_str(ms_client_transport(c), "rdma", "engine: auto picks rdma for %s", SRV_ADDR);
	r = ms_open(c, "r1", MS_MODE_READ);
	ok(r != NULL, "engine: open r1 read-only");
	local = calloc(1, size);
	t0 = ms_now_ns();
	ret = ms_pull(r, 0, local, size, NULL, &st);
	is_int(ret, 0, "engine: pull of a 4 MiB region (%.1f ms)",
	       (double)(ms_now_ns() - t0) / 1e6);
	ok(memcmp(local, mem, size) == 0, "engine: pulled bytes equal the server's");
	ok(st.chunks_moved == size / CHUNK && st.bytes == size, "engine: %llu chunks verified",
	   (unsigned long long)st.chunks_moved);
	memset(local, 0, size);
	is_int(ms_pull(r, 1000, local, 200000, NULL, NULL), 0, "engine: unaligned pull");
	ok(memcmp(local, mem + 1000, 200000) == 0, "engine: unaligned bytes are right");
	/* the destination registered piece by piece ahead of the READs */
	preg_checks(c, r, mem, size, "engine: pieces");
	mem[5 * CHUNK + 7] ^= 0xff;
	is_int(ms_pull(r, 0, local, size, NULL, NULL), -EIO,
	       "engine: an uncommitted change fails verification");
	ms_export_commit(e, 5 * CHUNK, 1);
	ok(ms_pull(r, 0, local, size, NULL, NULL) == 0 && memcmp(local, mem, size) == 0,
	   "engine: after the commit the change is served");

	ok(ms_write(r, 0, local, 4096, NULL, NULL) == -EACCES,
	   "engine: write on a read handle: -EACCES");
	w = ms_open(c, "r1", MS_MODE_WRITE);
	ok(w != NULL, "engine: open r1 for writing (lease)");
	c2 = fx_connect(&f, NULL);
	ok(c2 && ms_open(c2, "r1", MS_MODE_WRITE) == NULL && errno == EBUSY,
	   "engine: second writer: EBUSY");
	if (!w)
		tap_bail("no write handle: %s", ms_client_errmsg(c));
	ms_region_info(w, &info);
	for (int i = 0; i < 3; i++)
		local[(size_t)(i * 17 + 3) * CHUNK + 100] ^= 0x42;
	is_int(ms_push(w, 0, local, size, NULL, &st), 0, "engine: push");
	ok(st.chunks_moved == 3 && st.bytes == 3 * CHUNK, "engine: push moved 3 chunks (%llu B)",
	   (unsigned long long)st.bytes);
	ok(memcmp(local, mem, size) == 0, "engine: server holds the pushed bytes");
	{
		struct ms_region_info i2;

		ms_region_info(w, &i2);
		is_int(i2.generation, info.generation + 1, "engine: generation bumped once");
	}
	is_int(ms_push(w, 0, local, size, NULL, &st), 0, "engine: push again");
	ok(st.chunks_moved == 0, "engine: nothing differs: nothing moved");
	ms_close(w);
	w = c2 ? ms_open(c2, "r1", MS_MODE_WRITE) : NULL;
	ok(w != NULL, "engine: lease free after close");
	ms_close(w);
	ms_disconnect(c2);
	is_int(fx_warnings(&f), 0, "engine: the server logged no warning so far");

	/* the raw transport with the read-only grant: the NIC refuses a WRITE */
	{
		struct ms_xopts xo = { .depth = 4, .max_io = 1 << 20, .timeout_ms = 5000 };
		struct ms_msg_hello h = { .version = MS_PROTO_VERSION, .agent = "test" };
		struct ms_msg_open om = { .name = "r1", .mode = MS_MODE_READ };
		struct ms_msg_open_ok ok_;
		static uint8_t req[4096], resp[4096];
		uint8_t *before = malloc(CHUNK), junk[4096];
		struct ms_xconn *x = NULL;
		struct ms_xmr *lmr;
		size_t rlen;
		int rc;

		memcpy(before, mem, CHUNK);
		if (T->connect(SRV_ADDR, f.port, &xo, &x, err, sizeof(err)))
			tap_bail("raw connect: %s", err);
		T->call(x, req, (size_t)ms_enc_hello(req, sizeof(req), &h), resp, sizeof(resp),
			&rlen, 5000);
		T->call(x, req, (size_t)ms_enc_open(req, sizeof(req), &om), resp, sizeof(resp),
			&rlen, 5000);
		ok(ms_dec_open_ok(resp, rlen, &ok_) == 0, "engine raw: read-only open");
		memset(junk, 0x5a, sizeof(junk));
		lmr = lreg(x, junk, sizeof(junk));
		rc = io1(x, MS_XOP_WRITE, junk, lmr, sizeof(junk), &ok_.data, 0);
		is_int(rc, -EACCES, "engine raw: the read-only key cannot write");
		ok(memcmp(before, mem, CHUNK) == 0, "engine raw: region unchanged");
		T->close(x);
		free(before);
	}

	/* the server goes away under a connected client: errors, no hang */
	fx_server_down(&f);
	ret = ms_pull(r, 0, local, size, NULL, NULL);
	is_int(ret, -ECONNRESET, "engine: pull after the server died fails: -ECONNRESET (%s)",
	       ms_client_errmsg(c));
	ms_close(r);
	ms_disconnect(c);
	free(local);
}

#ifndef XT_RDMA_NO_MAIN
static long counter(const char *dev, const char *name)
{
	char path[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/infiniband/%s/ports/1/hw_counters/%s", dev,
		 name);
	f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

int main(void)
{
	const char *addr = getenv("MS_RXE_ADDR"), *a = getenv("MS_RXE_A_ADDR");
	const char *b = getenv("MS_RXE_B_ADDR"), *bdev = getenv("MS_RXE_B_DEV");
	struct ibv_device **devs;
	char why[256];
	int ndev = 0;
	long r0, r1;

	devs = ibv_get_device_list(&ndev);
	if (devs)
		ibv_free_device_list(devs);
	if (!devs || ndev == 0)
		tap_skip_all("no RDMA device (run it through tests/rxe/run-tests)");
	if (!addr)
		tap_skip_all("MS_RXE_ADDR is not set (run it through tests/rxe/run-tests)");
	ok(ms_rdma_usable(addr, why, sizeof(why)) == 1, "rdma reaches %s: %s", addr, why);
	ok(ms_rdma_usable("127.0.0.1", why, sizeof(why)) == 0, "but not 127.0.0.1: %s", why);

	rdma_setup(addr, NULL);
	xs_pass("one device");
	xs_lifecycle();
	test_engine();

	if (a && b) {
		rdma_setup(b, a);
		r0 = bdev ? counter(bdev, "rcvd_pkts") : -1;
		xs_pass("two devices");
		r1 = bdev ? counter(bdev, "rcvd_pkts") : -1;
		ok(r0 >= 0 && r1 - r0 > 1000, "%s received %ld packets during the pass",
		   bdev ? bdev : "(B device)", r1 - r0);
	} else {
		ok(0, "MS_RXE_A_ADDR / MS_RXE_B_ADDR not set: no two-device pass");
	}
	return tap_done();
}
#endif
