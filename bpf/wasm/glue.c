/* The small C API the TypeScript loader (runtime/loader.ts) calls: object
 * open from memory with its options struct built here (so TS never lays out
 * libbpf structs), libbpf's print callback forwarded to the host logger, and
 * errno readable after a failed call. Everything else exported is libbpf's
 * own public API (see exports.txt). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <bpf/libbpf.h>

__attribute__((import_module("kprobe_bpf"), import_name("log")))
void host_log(int level, const char *msg, unsigned len);

static int kb_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char small[512];
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	if (n < 0) {
		va_end(ap2);
		return n;
	}
	if ((size_t)n < sizeof(small)) {
		host_log(level, small, (unsigned)n);
	} else {
		char *big = malloc((size_t)n + 1);
		if (big) {
			vsnprintf(big, (size_t)n + 1, fmt, ap2);
			host_log(level, big, (unsigned)n);
			free(big);
		}
	}
	va_end(ap2);
	return n;
}

__attribute__((export_name("kb_init")))
void kb_init(void)
{
	libbpf_set_print(kb_print);
}

__attribute__((export_name("kb_errno")))
int kb_errno(void)
{
	return errno;
}

/* Opens an ELF object held in wasm memory. Returns NULL with errno set. */
__attribute__((export_name("kb_open_mem")))
struct bpf_object *kb_open_mem(const void *buf, size_t size, const char *name,
			       const char *kconfig, const char *btf_custom_path)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts,
		.object_name = name,
		.kconfig = kconfig,
		.btf_custom_path = btf_custom_path);
	struct bpf_object *obj = bpf_object__open_mem(buf, size, &opts);
	if (!obj)
		return NULL;
	return obj;
}
