/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rdma_place.c - put the server loop and region memory on the NUMA node
 * nearest the RDMA device.
 *
 * The node comes from, in order: hwloc's verbs helper (the device's PCI
 * locality), the device's sysfs numa_node, its network device's numa_node,
 * else node 0 (soft devices such as rxe have no PCI device).  hwloc gives
 * that node's CPU set; libnuma sets the loop thread's memory policy and
 * moves region pages before registration pins them.  On a one-node machine
 * all of this is still computed and logged, and changes nothing.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_HWLOC
#include <hwloc.h>
#include <hwloc/openfabrics-verbs.h>
#endif
#ifdef HAVE_NUMA
#include <numa.h>
#include <numaif.h>
#endif

#include "rdma_int.h"
#include "util.h"

static int read_int(const char *path, int *out)
{
	FILE *f = fopen(path, "re");
	int ok;

	if (!f)
		return -errno;
	ok = fscanf(f, "%d", out) == 1;
	fclose(f);
	return ok ? 0 : -EINVAL;
}

static int read_word(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	int ok;

	if (!f)
		return -errno;
	ok = fgets(buf, (int)len, f) != NULL;
	fclose(f);
	if (!ok)
		return -EINVAL;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

void ms_rdma_place_init(struct ms_rdma_place *pl, struct ibv_context *ctx)
{
	const char *dev = ibv_get_device_name(ctx->device);
	char path[256], ndev[64];
	int node = -1;

	memset(pl, 0, sizeof(*pl));
	pl->nnodes = 1;
	snprintf(pl->cpus, sizeof(pl->cpus), "all");
#ifdef HAVE_HWLOC
	{
		hwloc_topology_t topo;
		hwloc_bitmap_t set = hwloc_bitmap_alloc();
		hwloc_obj_t obj;

		if (set && hwloc_topology_init(&topo) == 0) {
			if (hwloc_topology_load(topo) == 0) {
				pl->topo = topo;
				pl->nnodes = MS_MAX(1, hwloc_get_nbobjs_by_type(topo,
									HWLOC_OBJ_NUMANODE));
				if (hwloc_ibv_get_device_cpuset(topo, ctx->device, set) == 0 &&
				    !hwloc_bitmap_iszero(set) &&
				    (obj = hwloc_get_next_obj_covering_cpuset_by_type(
					     topo, set, HWLOC_OBJ_NUMANODE, NULL)) != NULL) {
					node = (int)obj->os_index;
					snprintf(pl->how, sizeof(pl->how),
						 "hwloc: PCI locality of %s", dev);
				}
			} else {
				hwloc_topology_destroy(topo);
			}
		}
		pl->cpuset = set;
	}
#endif
	if (node < 0) {
		snprintf(path, sizeof(path), "/sys/class/infiniband/%s/device/numa_node", dev);
		if (read_int(path, &node) == 0 && node >= 0)
			snprintf(pl->how, sizeof(pl->how), "sysfs numa_node of %s", dev);
		else
			node = -1;
	}
	if (node < 0) {
		snprintf(path, sizeof(path), "/sys/class/infiniband/%s/ports/1/gid_attrs/ndevs/0",
			 dev);
		if (read_word(path, ndev, sizeof(ndev)) == 0) {
			snprintf(path, sizeof(path), "/sys/class/net/%s/device/numa_node", ndev);
			if (read_int(path, &node) == 0 && node >= 0)
				snprintf(pl->how, sizeof(pl->how), "numa_node of %s's netdev %s",
					 dev, ndev);
			else
				node = -1;
		} else {
			snprintf(ndev, sizeof(ndev), "(none)");
		}
		if (node < 0) {
			node = 0;
			snprintf(pl->how, sizeof(pl->how),
				 "%s and its netdev %s have no PCI locality (soft device?): node 0",
				 dev, ndev);
		}
	}
	pl->node = node;
#ifdef HAVE_HWLOC
	if (pl->topo && pl->cpuset) {
		hwloc_obj_t n = hwloc_get_numanode_obj_by_os_index(pl->topo, (unsigned)node);

		if (n && n->cpuset && !hwloc_bitmap_iszero(n->cpuset)) {
			hwloc_bitmap_copy(pl->cpuset, n->cpuset);
			hwloc_bitmap_list_snprintf(pl->cpus, sizeof(pl->cpus), pl->cpuset);
		} else {
			hwloc_bitmap_zero(pl->cpuset);
		}
	}
#else
	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/cpulist", node);
	if (read_word(path, pl->cpus, sizeof(pl->cpus)))
		snprintf(pl->cpus, sizeof(pl->cpus), "all");
#endif
}

void ms_rdma_place_fini(struct ms_rdma_place *pl)
{
#ifdef HAVE_HWLOC
	if (pl->cpuset)
		hwloc_bitmap_free(pl->cpuset);
	if (pl->topo)
		hwloc_topology_destroy(pl->topo);
#endif
	pl->cpuset = pl->topo = NULL;
}

void ms_rdma_place_thread(const struct ms_rdma_place *pl, char *msg, size_t len)
{
	const char *cpu = "CPUs not bound (no hwloc)";
	const char *mem = "memory policy unchanged (no libnuma)";

#ifdef HAVE_HWLOC
	if (!pl->topo || !pl->cpuset || hwloc_bitmap_iszero(pl->cpuset))
		cpu = "CPUs not bound (node has no CPU set)";
	else if (hwloc_set_cpubind(pl->topo, pl->cpuset, HWLOC_CPUBIND_THREAD))
		cpu = "CPUs not bound (hwloc_set_cpubind failed)";
	else
		cpu = "bound to the node's CPUs";
#endif
#ifdef HAVE_NUMA
	if (numa_available() < 0) {
		mem = "memory policy unchanged (no NUMA support in the kernel)";
	} else {
		numa_set_preferred(pl->node);
		mem = "memory preferred on the node";
	}
#endif
	snprintf(msg, len, "rdma: server loop on NUMA node %d (CPUs %s): %s, %s", pl->node,
		 pl->cpus, cpu, mem);
}

void ms_rdma_place_mem(const struct ms_rdma_place *pl, void *addr, size_t len, char *msg,
		       size_t mlen)
{
#ifdef HAVE_NUMA
	long pg = sysconf(_SC_PAGESIZE);
	uintptr_t a = (uintptr_t)addr & ~((uintptr_t)pg - 1);
	size_t l = len + ((uintptr_t)addr - a);
	unsigned long mask[16] = { 0 };

	if (numa_available() < 0) {
		snprintf(msg, mlen, "not placed: no NUMA support in the kernel");
		return;
	}
	if (numa_max_node() == 0) {
		snprintf(msg, mlen, "not moved: one NUMA node (node 0 is nearest to the device)");
		return;
	}
	if (pl->node < 0 || (size_t)pl->node >= sizeof(mask) * 8) {
		snprintf(msg, mlen, "not placed: node %d out of range", pl->node);
		return;
	}
	mask[pl->node / (8 * sizeof(long))] = 1ul << (pl->node % (8 * sizeof(long)));
	/* The region is already touched: MPOL_MF_MOVE migrates its pages
	 * now, before registration pins them. */
	if (mbind((void *)a, l, MPOL_PREFERRED, mask, sizeof(mask) * 8, MPOL_MF_MOVE))
		snprintf(msg, mlen, "not placed on node %d: mbind: %s", pl->node,
			 strerror(errno));
	else
		snprintf(msg, mlen, "placed on node %d", pl->node);
#else
	snprintf(msg, mlen, "not placed: built without libnuma");
#endif
}
