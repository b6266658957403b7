/* A kernel without cgroup.kill (before 5.14), for one test: loaded with
 * LD_PRELOAD into a runtime, it makes open() of any .../cgroup.kill fail
 * with ENOENT, as it does there; everything else goes to glibc's open. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/types.h>

typedef int open_fn(const char *, int, ...);

static int hidden(const char *path)
{
	const char *name = strrchr(path, '/');

	return strcmp(name != NULL ? name + 1 : path, "cgroup.kill") == 0;
}

static int open_or_hide(const char *symbol, const char *path, int flags, mode_t mode)
{
	open_fn *real;

	if (hidden(path)) {
		errno = ENOENT;
		return -1;
	}
	real = (open_fn *)dlsym(RTLD_NEXT, symbol);
	if (real == NULL) {
		errno = ENOSYS;
		return -1;
	}
	return real(path, flags, mode);
}

/* The mode argument is there only with O_CREAT or O_TMPFILE (open(2)). */
#define MODE_ARG(flags, mode) do { \
	if ((flags) & (O_CREAT | O_TMPFILE)) { \
		va_list ap; \
		va_start(ap, flags); \
		mode = va_arg(ap, mode_t); \
		va_end(ap); \
	} \
} while (0)

int open(const char *path, int flags, ...)
{
	mode_t mode = 0;

	MODE_ARG(flags, mode);
	return open_or_hide("open", path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	mode_t mode = 0;

	MODE_ARG(flags, mode);
	return open_or_hide("open64", path, flags, mode);
}
