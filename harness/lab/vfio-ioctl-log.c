// LD_PRELOAD shim for the real-QEMU lab mode: QEMU 7.2 has no trace event for its type1
// container's DMA calls, so this logs every VFIO_IOMMU_MAP_DMA and VFIO_IOMMU_UNMAP_DMA the
// process makes, with the kernel's answer, on stderr, the stream QEMU's "log" trace backend
// writes its vfio_* events to. Both write unbuffered to fd 2 from the main loop, so the lines
// interleave in the order things happened. The line format is this project's own
// (vfio_fuzz_type1_*), parsed by VfioFuzz.RealQemu.NestedTrace.
//
// Requests are matched by their full number (type ';', nr 113/114, no size bits, as the uapi
// header defines them): VFIO_DEVICE_GET_PCI_HOT_RESET_INFO is nr 112 of the same type.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/vfio.h>

typedef int (*ioctl_fn)(int, unsigned long, ...);

static void say(const char *line, int len)
{
    int saved = errno;
    while (len > 0) {
        ssize_t n = write(2, line, (size_t)len);
        if (n <= 0) break;
        line += n;
        len -= (int)n;
    }
    errno = saved;
}

int ioctl(int fd, unsigned long request, ...)
{
    static ioctl_fn real;
    if (!real) real = (ioctl_fn)dlsym(RTLD_NEXT, "ioctl");
    va_list ap;
    va_start(ap, request);
    void *arg = va_arg(ap, void *);
    va_end(ap);

    // The kernel overwrites an unmap's size with what it unmapped: keep what was asked.
    unsigned long long asked = 0;
    if (request == VFIO_IOMMU_UNMAP_DMA) asked = ((const struct vfio_iommu_type1_dma_unmap *)arg)->size;
    int ret = real(fd, request, arg);
    int err = ret < 0 ? errno : 0;
    char line[256];
    int len = 0;
    if (request == VFIO_IOMMU_MAP_DMA) {
        const struct vfio_iommu_type1_dma_map *m = arg;
        len = snprintf(line, sizeof line,
                       "vfio_fuzz_type1_map_dma iova=0x%llx size=0x%llx vaddr=0x%llx flags=0x%x ret=%d errno=%d\n",
                       (unsigned long long)m->iova, (unsigned long long)m->size,
                       (unsigned long long)m->vaddr, m->flags, ret, err);
    } else if (request == VFIO_IOMMU_UNMAP_DMA) {
        const struct vfio_iommu_type1_dma_unmap *u = arg;
        len = snprintf(line, sizeof line,
                       "vfio_fuzz_type1_unmap_dma iova=0x%llx size=0x%llx unmapped=0x%llx flags=0x%x ret=%d errno=%d\n",
                       (unsigned long long)u->iova, asked, ret < 0 ? 0ULL : (unsigned long long)u->size, u->flags, ret, err);
    }
    if (len > 0) say(line, len < (int)sizeof line ? len : (int)sizeof line - 1);
    if (ret < 0) errno = err;
    return ret;
}
