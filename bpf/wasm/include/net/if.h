/* wasi has no <net/if.h>; libbpf needs only the name length. */
#ifndef KB_NET_IF_H
#define KB_NET_IF_H
#define IF_NAMESIZE 16
#define IFNAMSIZ IF_NAMESIZE
unsigned int if_nametoindex(const char *name);
#endif
