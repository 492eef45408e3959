/*
 * bench-native: the same credential cycles `plugincheck bench` runs inside
 * its worker, called directly from C. The ratio of the two is the cost of
 * the worker's calling path (Go → purego → C) per cycle.
 *
 * It is started by `plugincheck bench` exactly as a worker is: with the
 * host library preloaded (LD_PRELOAD, or the sysroot loader's --preload)
 * so that libslurmfull precedes libc in the global scope, and SLURM_CONF
 * pointing at the run's slurm.conf.
 *
 *   bench-native auth PLUGIN [options]     create → pack → unpack → verify →
 *                                          ids → destroy both
 *   bench-native cred PLUGIN [options]     sign → verify_sign → xfree
 *
 * Options:
 *   --prefix P        symbol prefix of the auth functions (auth_p_)
 *   --create-args N   4 (auth_info, r_uid, data, dlen) or 1 (auth_info)
 *   --get-ids         auth_p_get_ids instead of get_uid and get_gid
 *   --protocol V      protocol version for pack and unpack
 *   --auth-info S     auth_info for create and verify
 *   --data-len N      bytes of data in each credential / signed buffer
 *   --key FILE        cred key file (private and public)
 *   --verify-args N   5, or 6 with replay_okay (passed as true)
 *   --daemon NAME     set slurm_prog_name before the configuration loads
 *   --threads N       threads running the loop at once
 *   --duration-ms N   length of each timed run
 *   --runs N          timed runs (after one warm-up run)
 *
 * Output, one JSON object on stdout: each run's cycles and nanoseconds,
 * and latency percentiles of single cycles over all runs.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* buf_t on x86-64, every release from 19.05 (loader/profile: BufOff*). */
typedef struct {
	uint32_t magic;
	char *head;
	uint32_t size;
	uint32_t processed;
	uint8_t mmaped;
	uint8_t shadow;
} buf_t;

typedef void *(*create4_fn)(char *, uint32_t, void *, int);
typedef void *(*create1_fn)(char *);
typedef int (*ptr_fn)(void *);
typedef int (*verify_fn)(void *, char *);
typedef int (*pack_fn)(void *, buf_t *, uint16_t);
typedef void *(*unpack_fn)(buf_t *, uint16_t);
typedef uint32_t (*id_fn)(void *);
typedef void (*ids_fn)(void *, uint32_t *, uint32_t *);
typedef buf_t *(*init_buf_fn)(uint32_t);
typedef void (*free_buf_fn)(buf_t *);
typedef void *(*read_key_fn)(const char *);
typedef int (*sign_fn)(void *, char *, int, char **, uint32_t *);
typedef int (*verify5_fn)(void *, char *, uint32_t, char *, uint32_t);
typedef int (*verify6_fn)(void *, char *, uint32_t, char *, uint32_t, int);

/* Latency histogram: 32 linear steps per power of two (about 3 %). */
#define SUB_BITS 5
#define NBUCKETS (64 << SUB_BITS)

static int bucket_of(uint64_t v)
{
	if (v < (1u << SUB_BITS))
		return (int) v;
	int e = 63 - __builtin_clzll(v);	/* v >= 2^SUB_BITS */
	int shift = e - SUB_BITS;
	return ((shift + 1) << SUB_BITS) | (int) ((v >> shift) & ((1u << SUB_BITS) - 1));
}

static uint64_t bucket_value(int b)
{
	if (b < (1 << SUB_BITS))
		return b;
	int shift = (b >> SUB_BITS) - 1;
	uint64_t m = (uint64_t) (b & ((1 << SUB_BITS) - 1)) | (1u << SUB_BITS);
	/* middle of the bucket */
	return (m << shift) + ((1ull << shift) >> 1);
}

static struct {
	int auth;
	const char *plugin, *prefix, *auth_info, *key, *daemon;
	int create_args, get_ids, verify_args, threads, runs, data_len;
	uint16_t protocol;
	long duration_ms;
} opt = {
	.prefix = "auth_p_", .auth_info = "", .create_args = 4, .verify_args = 5,
	.threads = 1, .runs = 3, .data_len = 0, .protocol = 0x2600, .duration_ms = 1000,
};

static struct {
	create4_fn create4;
	create1_fn create1;
	ptr_fn destroy;
	verify_fn verify;
	pack_fn pack;
	unpack_fn unpack;
	id_fn get_uid, get_gid;
	ids_fn get_ids;
	init_buf_fn init_buf;
	free_buf_fn free_buf;
	sign_fn sign;
	verify5_fn verify5;
	verify6_fn verify6;
	void (*xfree)(void **);
	void *priv, *pub;
	char *data;
} f;

/* Aligned to two cache lines, as the worker pads its threads' counters: a
 * thread's counters on a line the next one's buf pointer shares would make
 * the threads slow each other down. */
struct __attribute__((aligned(128))) worker {
	pthread_t tid;
	uint64_t cycles, failed;
	uint64_t hist[NBUCKETS];
	uint64_t max_ns;
	char first_failure[200];
	buf_t *buf;
};

static volatile int go_flag;
static uint64_t deadline_ns;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "bench-native: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(2);
}

static void *need(void *handle, const char *name)
{
	void *p = dlsym(handle, name);
	if (!p)
		die("symbol %s not found", name);
	return p;
}

static void fail(struct worker *w, const char *what, long rc)
{
	w->failed++;
	if (!w->first_failure[0])
		snprintf(w->first_failure, sizeof(w->first_failure), "%s returned %ld, errno %d", what, rc, errno);
}

/* One auth cycle; 0 when it completed. */
static int auth_cycle(struct worker *w)
{
	void *cred, *back;
	errno = 0;
	if (opt.create_args == 4)
		cred = f.create4((char *) opt.auth_info, 0xFFFFFFFFu, f.data, opt.data_len);
	else
		cred = f.create1((char *) opt.auth_info);
	if (!cred) {
		fail(w, "create", 0);
		return -1;
	}
	*(int *) cred = 0;	/* slurm_auth.c: cred->index = index (0, the AuthType plugin) */
	w->buf->processed = 0;
	int rc = f.pack(cred, w->buf, opt.protocol);
	if (rc) {
		fail(w, "pack", rc);
		f.destroy(cred);
		return -1;
	}
	w->buf->processed = 0;
	back = f.unpack(w->buf, opt.protocol);
	if (!back) {
		fail(w, "unpack", 0);
		f.destroy(cred);
		return -1;
	}
	*(int *) back = 0;
	rc = f.verify(back, (char *) opt.auth_info);
	if (rc) {
		fail(w, "verify", rc);
	} else if (f.get_ids) {
		uint32_t uid, gid;
		f.get_ids(back, &uid, &gid);
	} else {
		f.get_uid(back);
		f.get_gid(back);
	}
	f.destroy(back);
	f.destroy(cred);
	return rc ? -1 : 0;
}

static int cred_cycle(struct worker *w)
{
	char *sig = NULL;
	uint32_t size = 0;
	errno = 0;
	int rc = f.sign(f.priv, f.data, opt.data_len, &sig, &size);
	if (rc || !sig) {
		fail(w, "sign", rc);
		return -1;
	}
	if (opt.verify_args == 6)
		rc = f.verify6(f.pub, f.data, opt.data_len, sig, size, 1);
	else
		rc = f.verify5(f.pub, f.data, opt.data_len, sig, size);
	if (rc)
		fail(w, "verify_sign", rc);
	f.xfree((void **) &sig);
	return rc ? -1 : 0;
}

static void *run_loop(void *arg)
{
	struct worker *w = arg;
	while (!go_flag)
		;
	uint64_t prev = now_ns();
	for (;;) {
		if (opt.auth)
			auth_cycle(w);
		else
			cred_cycle(w);
		uint64_t t = now_ns();
		uint64_t d = t - prev;
		prev = t;
		w->cycles++;
		w->hist[bucket_of(d)]++;
		if (d > w->max_ns)
			w->max_ns = d;
		if (t >= deadline_ns || w->failed > 1000)
			break;
	}
	return NULL;
}

/* One timed run on opt.threads threads; returns wall nanoseconds. */
static uint64_t run(struct worker *ws)
{
	go_flag = 0;
	for (int i = 0; i < opt.threads; i++) {
		if (pthread_create(&ws[i].tid, NULL, run_loop, &ws[i]))
			die("pthread_create failed%s", "");
	}
	uint64_t start = now_ns();
	deadline_ns = start + (uint64_t) opt.duration_ms * 1000000u;
	__atomic_store_n(&go_flag, 1, __ATOMIC_SEQ_CST);
	for (int i = 0; i < opt.threads; i++)
		pthread_join(ws[i].tid, NULL);
	return now_ns() - start;
}

int main(int argc, char **argv)
{
	static struct option longopts[] = {
		{"prefix", 1, 0, 'P'}, {"create-args", 1, 0, 'c'}, {"get-ids", 0, 0, 'I'},
		{"protocol", 1, 0, 'p'}, {"auth-info", 1, 0, 'a'}, {"data-len", 1, 0, 'l'},
		{"key", 1, 0, 'k'}, {"verify-args", 1, 0, 'v'}, {"daemon", 1, 0, 'D'},
		{"threads", 1, 0, 't'}, {"duration-ms", 1, 0, 'd'}, {"runs", 1, 0, 'r'},
		{0, 0, 0, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'P': opt.prefix = optarg; break;
		case 'c': opt.create_args = atoi(optarg); break;
		case 'I': opt.get_ids = 1; break;
		case 'p': opt.protocol = (uint16_t) strtoul(optarg, NULL, 0); break;
		case 'a': opt.auth_info = optarg; break;
		case 'l': opt.data_len = atoi(optarg); break;
		case 'k': opt.key = optarg; break;
		case 'v': opt.verify_args = atoi(optarg); break;
		case 'D': opt.daemon = optarg; break;
		case 't': opt.threads = atoi(optarg); break;
		case 'd': opt.duration_ms = atol(optarg); break;
		case 'r': opt.runs = atoi(optarg); break;
		default: die("usage: bench-native auth|cred PLUGIN [options]%s", "");
		}
	}
	if (argc - optind != 2)
		die("usage: bench-native auth|cred PLUGIN [options]%s", "");
	if (!strcmp(argv[optind], "auth"))
		opt.auth = 1;
	else if (strcmp(argv[optind], "cred"))
		die("unknown kind %s (auth or cred)", argv[optind]);
	opt.plugin = argv[optind + 1];
	if (opt.threads < 1 || opt.threads > 256 || opt.runs < 1 || opt.duration_ms < 1 || opt.data_len < 0)
		die("bad --threads, --runs, --duration-ms or --data-len%s", "");

	/* The host is preloaded: its symbols are in the global scope. */
	if (opt.daemon) {
		char **prog = dlsym(RTLD_DEFAULT, "slurm_prog_name");
		if (prog)
			*prog = strdup(opt.daemon);
	}
	int (*conf_init)(const char *) = dlsym(RTLD_DEFAULT, "slurm_conf_init");
	if (conf_init && conf_init(getenv("SLURM_CONF")))
		die("slurm_conf_init(%s) failed", getenv("SLURM_CONF") ? getenv("SLURM_CONF") : "(default)");
	f.init_buf = need(RTLD_DEFAULT, "init_buf");
	f.free_buf = need(RTLD_DEFAULT, "free_buf");
	f.xfree = need(RTLD_DEFAULT, "slurm_xfree");

	/* RTLD_LAZY | RTLD_LOCAL, as Slurm's plugin loader and the worker do. */
	void *h = dlopen(opt.plugin, RTLD_LAZY | RTLD_LOCAL);
	if (!h)
		die("%s", dlerror());
	int (*init)(void) = dlsym(h, "init");
	if (init && init())
		die("init of %s failed", opt.plugin);

	f.data = calloc(1, opt.data_len + 1);
	for (int i = 0; i < opt.data_len; i++)
		f.data[i] = (char) ('a' + i % 26);
	char name[128];
#define SYM(field, suffix) (snprintf(name, sizeof(name), "%s%s", opt.prefix, suffix), f.field = need(h, name))
	if (opt.auth) {
		if (opt.create_args == 4)
			SYM(create4, "create");
		else
			SYM(create1, "create");
		SYM(destroy, "destroy");
		SYM(verify, "verify");
		SYM(pack, "pack");
		SYM(unpack, "unpack");
		if (opt.get_ids) {
			SYM(get_ids, "get_ids");
		} else {
			SYM(get_uid, "get_uid");
			SYM(get_gid, "get_gid");
		}
	} else {
		if (!opt.key)
			die("cred needs --key FILE%s", "");
		read_key_fn rpriv = need(h, "cred_p_read_private_key");
		read_key_fn rpub = need(h, "cred_p_read_public_key");
		f.sign = need(h, "cred_p_sign");
		/* One symbol, called with 5 or 6 arguments by --verify-args. */
		void *verify = need(h, "cred_p_verify_sign");
		f.verify5 = (verify5_fn) verify;
		f.verify6 = (verify6_fn) verify;
		if (!(f.priv = rpriv(opt.key)) || !(f.pub = rpub(opt.key)))
			die("cannot read the key %s", opt.key);
	}

	struct worker *ws = aligned_alloc(128, opt.threads * sizeof(*ws));
	if (!ws)
		die("out of memory%s", "");
	memset(ws, 0, opt.threads * sizeof(*ws));
	for (int i = 0; i < opt.threads; i++)
		ws[i].buf = f.init_buf(1024);

	/* Warm-up: a tenth of a run, discarded. */
	long full = opt.duration_ms;
	opt.duration_ms = full / 10 > 0 ? full / 10 : 1;
	run(ws);
	opt.duration_ms = full;
	uint64_t total_failed = 0;
	char failure[200] = "";
	for (int i = 0; i < opt.threads; i++) {
		total_failed += ws[i].failed;
		if (!failure[0])
			strcpy(failure, ws[i].first_failure);
	}

	printf("{\"kind\":\"%s\",\"threads\":%d,\"runs\":[", opt.auth ? "auth" : "cred", opt.threads);
	static uint64_t hist[NBUCKETS];
	uint64_t max_ns = 0, count = 0;
	for (int r = 0; r < opt.runs; r++) {
		for (int i = 0; i < opt.threads; i++) {
			buf_t *b = ws[i].buf;
			memset(&ws[i], 0, sizeof(ws[i]));
			ws[i].buf = b;
		}
		uint64_t wall = run(ws);
		uint64_t cycles = 0;
		for (int i = 0; i < opt.threads; i++) {
			cycles += ws[i].cycles;
			total_failed += ws[i].failed;
			if (!failure[0])
				strcpy(failure, ws[i].first_failure);
			for (int b = 0; b < NBUCKETS; b++)
				hist[b] += ws[i].hist[b];
			if (ws[i].max_ns > max_ns)
				max_ns = ws[i].max_ns;
		}
		count += cycles;
		printf("%s{\"cycles\":%llu,\"ns\":%llu}", r ? "," : "", (unsigned long long) cycles, (unsigned long long) wall);
	}
	uint64_t pct[3] = {0, 0, 0};
	double want[3] = {0.50, 0.90, 0.99};
	for (int p = 0; p < 3; p++) {
		uint64_t seen = 0, target = (uint64_t) (want[p] * (double) count);
		for (int b = 0; b < NBUCKETS; b++) {
			seen += hist[b];
			if (seen > target) {
				pct[p] = bucket_value(b);
				break;
			}
		}
	}
	printf("],\"p50_ns\":%llu,\"p90_ns\":%llu,\"p99_ns\":%llu,\"max_ns\":%llu,\"failed\":%llu,\"first_failure\":\"",
	       (unsigned long long) pct[0], (unsigned long long) pct[1], (unsigned long long) pct[2],
	       (unsigned long long) max_ns, (unsigned long long) total_failed);
	for (char *p = failure; *p; p++)
		if (*p != '"' && *p != '\\' && (unsigned char) *p >= 0x20)
			putchar(*p);
	printf("\"}\n");
	fflush(stdout);
	/* Skip fini and exit handlers: the plugin's state is throwaway. */
	_exit(0);
}
