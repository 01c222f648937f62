/* The demo's workload: a few functions whose arguments, return values and
 * data exercise every kind of fetch a uprobe can make. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct order {
	unsigned int id;
	unsigned int express : 1;
	unsigned int items : 7;
	unsigned int priority : 3;
	const char *customer;
	unsigned char sku[4];
};

unsigned long orders_seen = 0;
/* Calls whose results go unused would be dropped by the optimiser; this keeps them. */
volatile long sink;
const char *shop_names[2] = { "north", "south" };

__attribute__((noinline)) int greet(const char *name, int times)
{
	int n = 0;
	for (int i = 0; i < times; i++)
		n += (int)strlen(name);
	sink = n;
	return n;
}

__attribute__((noinline)) long place_order(const struct order *o, const char **shops, long total_cents)
{
	orders_seen++;
	return total_cents * o->items + (long)strlen(shops[0]);
}

__attribute__((noinline)) int bad_pointer(const char *maybe)
{
	sink = (long)maybe;
	return maybe == NULL ? -1 : 0;
}

int main(void)
{
	struct order o = { .id = 42, .express = 1, .items = 3, .priority = 5, .customer = "ada", .sku = { 7, 8, 9, 10 } };

	greet("world", 2);
	greet("kprobe-bpf", 1);
	place_order(&o, shop_names, 1999);
	o.id = 43;
	o.customer = "grace";
	place_order(&o, shop_names, 250);
	bad_pointer((const char *)0x10);
	printf("workload: %lu orders\n", orders_seen);
	return 0;
}
