/*
 * ioctl-loop: the physical limit for `vfio-fuzz bench`'s real-backend figure.
 *
 *   ioctl-loop PAIRS
 *
 * IOMMU_IOAS_MAP + IOMMU_IOAS_UNMAP pairs of one 64 KiB anonymous area at IOVA 0x10000000,
 * on a fresh IOAS with a mock domain attached when the kernel has CONFIG_IOMMUFD_TEST (else
 * a bare IOAS): the same calls, flags and sizes as IoctlRoundTrips.Direct in C#. Prints
 * "BENCH ioctl-c <pairs per second> mock-domain=<0|1>". Written for vfio-fuzz; built static
 * by harness/lab/run against the kernel's own include/uapi/linux/iommufd.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/iommufd.h>

/* drivers/iommu/iommufd/iommufd_test.h is not uapi: the two fields we use, with the
 * kernel's layout (16-byte header, union at 16, `last` at 64: 72 bytes). */
struct mock_domain_cmd {
	uint32_t size, op, id, reserved;
	uint32_t out_stdev_id, out_hwpt_id, out_idev_id;
	uint8_t pad[64 - 28];
	uint32_t last;
	uint32_t tail;
};
#define IOMMU_TEST_OP_MOCK_DOMAIN 2
#define IOMMU_TEST_CMD _IO(IOMMUFD_TYPE, IOMMUFD_CMD_BASE + 32)

#define IOVA 0x10000000ULL
#define LENGTH (64UL << 10)

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long pairs = argc > 1 ? atol(argv[1]) : 100000;
	int fd = open("/dev/iommu", O_RDWR);
	if (fd < 0) { perror("ioctl-loop: /dev/iommu"); return 2; }
	void *buf = mmap(NULL, LENGTH, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (buf == MAP_FAILED) { perror("ioctl-loop: mmap"); return 2; }

	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	if (ioctl(fd, IOMMU_IOAS_ALLOC, &alloc)) { perror("ioctl-loop: IOMMU_IOAS_ALLOC"); return 2; }
	struct mock_domain_cmd mock = { .size = sizeof(mock), .op = IOMMU_TEST_OP_MOCK_DOMAIN, .id = alloc.out_ioas_id };
	int mock_domain = ioctl(fd, IOMMU_TEST_CMD, &mock) == 0;

	struct iommu_ioas_map map = {
		.size = sizeof(map), .ioas_id = alloc.out_ioas_id, .user_va = (uintptr_t)buf, .length = LENGTH, .iova = IOVA,
		.flags = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_FIXED_IOVA,
	};
	struct iommu_ioas_unmap unmap = { .size = sizeof(unmap), .ioas_id = alloc.out_ioas_id, .iova = IOVA };
	double t0 = now();
	for (long i = 0; i < pairs; i++) {
		if (ioctl(fd, IOMMU_IOAS_MAP, &map)) { perror("ioctl-loop: IOMMU_IOAS_MAP"); return 1; }
		unmap.length = LENGTH;
		if (ioctl(fd, IOMMU_IOAS_UNMAP, &unmap)) { perror("ioctl-loop: IOMMU_IOAS_UNMAP"); return 1; }
	}
	double elapsed = now() - t0;
	printf("BENCH ioctl-c %.0f mock-domain=%d\n", pairs / elapsed, mock_domain);
	close(fd);
	return 0;
}
