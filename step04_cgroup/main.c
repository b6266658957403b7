/*
 * A container runtime, built one isolation feature at a time.
 *
 *   step01_pid     a PID namespace: the command is PID 1
 *   step02_mount   + a mount namespace: its own root (pivot_root) and /proc
 *   step03_net     + a network namespace: its own interfaces, only lo
 *   step04_cgroup  + cgroup v2 limits: memory, CPU and number of processes
 *
 * Usage: sudo ./stepNN_x/run [OPTIONS] [--] [COMMAND [ARG...]]   (see --help)
 *
 * Exit status, as docker run: the command's own status, 128+N if it died of
 * signal N, 125 if the runtime failed, 126 if the command cannot be invoked,
 * 127 if it was not found.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STEP_NAME "step04_cgroup"

/* Exit statuses of the runtime itself, as docker run uses them. */
#define EXIT_RUNTIME_FAILED 125
#define EXIT_CANNOT_INVOKE 126
#define EXIT_NOT_FOUND 127

#define GRACE_SECONDS 2		/* how long a signal waits for PID 1 to catch it */

#define CGROUP_ROOT "/sys/fs/cgroup"
#define CGROUP_PARENT CGROUP_ROOT "/workshop"	/* every container's cgroup, and never a process */
#define CGROUP_PREFIX "ws-"	/* CGROUP_PARENT/ws-<runtime PID>-<random>; make reset finds these */
#define CGROUP_LEAF "container"	/* the container's own cgroup, below the one with its limits */
/* What the container (root: it can mount cgroup2) may make below its own
 * cgroup: a few levels as a nested runtime or systemd makes, and a tree
 * small enough to remove at exit in a moment. */
#define CGROUP_MAX_DEPTH "16"
#define CGROUP_MAX_DESCENDANTS "256"
#define CPU_PERIOD_US 100000	/* cpu.max: quota per 100 ms period */
#define PID_MAX_LIMIT (4 * 1024 * 1024)	/* the most PIDs a 64-bit kernel has (linux/threads.h) */

struct container {
	char **argv;		/* the command and its arguments */
	int status_pipe[2];	/* child -> runtime: 0 = about to exec, else a failure's exit status */
	pid_t pid;		/* the container's PID 1, as the host sees it */
	int terminal;		/* stdin is our terminal, and we are its foreground job */
	int started;		/* the command runs: setup is over */
	sigset_t signals;	/* blocked in the runtime and read from signal_fd */
	int signal_fd;		/* every signal sent to the runtime arrives here */
	const char *rootfs;	/* the directory that becomes the container's / */
	long long memory;	/* memory.max in bytes */
	double cpus;		/* cpu.max as a number of CPUs */
	long pids_limit;	/* pids.max */
	int cgroup_fd;		/* its own cgroup (the leaf), for CLONE_INTO_CGROUP */
};

/* In the child: its end of status_pipe, where fail() reports why setup
 * failed. In the runtime it stays -1, and fail() only exits. */
static int report_fd = -1;

/* The one error helper: say what failed and exit with a docker-style status.
 * In the child it also tells the runtime, so that a setup failure is never
 * mistaken for the command's own exit status. */
__attribute__((format(printf, 2, 3), noreturn))
static void fail(int status, const char *format, ...)
{
	va_list args;

	fprintf(stderr, STEP_NAME ": ");
	va_start(args, format);
	vfprintf(stderr, format, args);
	va_end(args);
	fputc('\n', stderr);
	if (report_fd < 0)
		exit(status);	/* the runtime */
	if (write(report_fd, &status, sizeof status) < 0)
		fprintf(stderr, STEP_NAME ": cannot report to the runtime: %s\n", strerror(errno));
	_exit(status);		/* the child: nothing of the runtime's (atexit, stdio) runs twice */
}

/* ---- Options ---------------------------------------------------------- */

static void usage(FILE *out)
{
	fprintf(out, "Usage: sudo %s [OPTIONS] [--] [COMMAND [ARG...]]\n", program_invocation_name);
	fputs("Run COMMAND (default: /bin/sh) in a container.\n"
	      "\n"
	      "Options:\n"
	      "  -h, --help             show this help and exit\n"
	      "  -r, --rootfs DIR       the container's root filesystem (default: rootfs/ at the top of this repository)\n"
	      "  -m, --memory SIZE      memory limit, e.g. 64M or 1G (default: 64M)\n"
	      "      --cpus N           CPU limit in CPUs, e.g. 0.5 (default: 0.5)\n"
	      "      --pids-limit N     maximum number of processes (default: 64)\n"
	      "\n"
	      "COMMAND's environment (none of the caller's, as under docker run):\n"
	      "  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
	      "  HOME=/root\n"
	      "  TERM                   the caller's, if set\n"
	      "\n"
	      "Exit status: the command's own; 128+N if it died of signal N;\n"
	      "125 the runtime failed; 126 COMMAND cannot be invoked; 127 COMMAND not found.\n", out);
}

static void bad_option(const char *format, const char *value)
{
	fprintf(stderr, STEP_NAME ": ");
	fprintf(stderr, format, value);
	fprintf(stderr, "\nTry '%s --help'.\n", program_invocation_name);
	exit(EXIT_RUNTIME_FAILED);
}

/* "64M" -> 67108864: a positive number with an optional k, m or g suffix. */
static long long parse_size(const char *text)
{
	char *end;
	unsigned long long number;
	int shift = 0;

	errno = 0;
	number = strtoull(text, &end, 10);
	if (!isdigit((unsigned char)text[0]) || errno != 0 || number == 0)
		bad_option("--memory: '%s' is not a positive size such as 64M", text);
	switch (tolower((unsigned char)*end)) {
	case '\0': break;
	case 'k': shift = 10; break;
	case 'm': shift = 20; break;
	case 'g': shift = 30; break;
	default: bad_option("--memory: '%s' has an unknown unit (use k, m or g)", text);
	}
	if (*end != '\0' && end[1] != '\0')
		bad_option("--memory: '%s' has an unknown unit (use k, m or g)", text);
	if (number > (unsigned long long)LLONG_MAX >> shift)
		bad_option("--memory: '%s' is too large", text);
	return (long long)(number << shift);
}

/* "0.5" -> half a CPU; the kernel's smallest quota is 1 ms per period. */
static double parse_cpus(const char *text)
{
	char *end;
	double cpus;

	errno = 0;
	cpus = strtod(text, &end);
	if (!isdigit((unsigned char)text[0]) || *end != '\0' || errno != 0 ||
	    !(cpus >= 0.01 && cpus <= 1024))
		bad_option("--cpus: '%s' is not a number of CPUs from 0.01 to 1024", text);
	return cpus;
}

static long parse_pids_limit(const char *text)
{
	char *end;
	long limit;

	errno = 0;
	limit = strtol(text, &end, 10);
	if (!isdigit((unsigned char)text[0]) || *end != '\0' || errno != 0 || limit <= 0)
		bad_option("--pids-limit: '%s' is not a positive number", text);
	if (limit > PID_MAX_LIMIT)
		bad_option("--pids-limit: '%s' is more than the kernel's PID_MAX_LIMIT (4194304)", text);
	return limit;
}

/* Name the option as the user typed it: argv's word for a long one; for a
 * short one its letter (optopt), since in a cluster such as -Zh optind has
 * not moved past the word yet. */
static void unknown_option(int option, char *argv[])
{
	const char *word = argv[optind - 1];
	const char *equals = strchr(word, '=');

	if (strncmp(word, "--", 2) != 0)
		fail(EXIT_RUNTIME_FAILED, option == ':' ? "option '-%c' needs a value (see %s --help)"
		     : "unknown option '-%c' (see %s --help)", optopt, program_invocation_name);
	if (option == ':')
		fail(EXIT_RUNTIME_FAILED, "option '%s' needs a value (see %s --help)", word, program_invocation_name);
	if (equals != NULL && optopt != 0)	/* --help=x: a known option that takes none */
		fail(EXIT_RUNTIME_FAILED, "option '%.*s' takes no value (see %s --help)",
		     (int)(equals - word), word, program_invocation_name);
	fail(EXIT_RUNTIME_FAILED, "unknown option '%s' (see %s --help)", word, program_invocation_name);
}

static void parse_options(int argc, char *argv[], struct container *c)
{
	/* One option per line, so that each step only adds lines. */
	enum {
		OPT_CPUS = 256,
		OPT_PIDS_LIMIT,
	};
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "rootfs", required_argument, NULL, 'r' },
		{ "memory", required_argument, NULL, 'm' },
		{ "cpus", required_argument, NULL, OPT_CPUS },
		{ "pids-limit", required_argument, NULL, OPT_PIDS_LIMIT },
		{ NULL, 0, NULL, 0 },
	};
	/* '+': stop at the first non-option, so "run ls -l" needs no "--";
	 * ':': report a missing value as ':' rather than printing for us. */
	static const char short_options[] =
		"+:h"
		"r:"
		"m:"
		;
	int option;

	opterr = 0;	/* our messages, prefixed like every other */
	while ((option = getopt_long(argc, argv, short_options, options, NULL)) != -1) {
		switch (option) {
		case 'h':
			usage(stdout);
			exit(0);
		case 'r':
			c->rootfs = optarg;
			break;
		case 'm':
			c->memory = parse_size(optarg);
			break;
		case OPT_CPUS:
			c->cpus = parse_cpus(optarg);
			break;
		case OPT_PIDS_LIMIT:
			c->pids_limit = parse_pids_limit(optarg);
			break;
		default:	/* '?' or ':' */
			unknown_option(option, argv);
		}
	}
	if (optind < argc)
		c->argv = &argv[optind];
}

/* ---- Checks, before anything on the host changes ---------------------- */

static void require_root(void)
{
	if (geteuid() != 0)
		fail(EXIT_RUNTIME_FAILED, "must be run as root (namespaces need CAP_SYS_ADMIN): try sudo %s",
		     program_invocation_name);
}

/* Started with fd 0, 1 or 2 closed, the runtime's first pipe would get that
 * number, and the container's output would go into the pipe. /dev/null
 * takes each closed one first, as runc and crun do. */
static void open_stdio(void)
{
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			fail(EXIT_RUNTIME_FAILED, "open /dev/null as fd %d: %s", fd, strerror(errno));
}

/* By default, rootfs/ at the top of this repository, found from this
 * program's own path (.../stepNN_x/run), so run works from any directory. */
static const char *default_rootfs(void)
{
	static char path[PATH_MAX];
	ssize_t length = readlink("/proc/self/exe", path, sizeof path - sizeof "/rootfs");
	char *slash;

	if (length < 0)
		fail(EXIT_RUNTIME_FAILED, "readlink /proc/self/exe: %s", strerror(errno));
	path[length] = '\0';
	for (int i = 0; i < 2; i++) {	/* drop "/run", then "/stepNN_x" */
		slash = strrchr(path, '/');
		if (slash == NULL)
			fail(EXIT_RUNTIME_FAILED, "cannot find the repository from %s", path);
		*slash = '\0';
	}
	strcat(path, "/rootfs");
	return path;
}

static void check_rootfs(struct container *c)
{
	static const char *const mount_points[] = { "dev", "proc" };
	struct stat rootfs, host_root;

	char *real;

	if (c->rootfs == NULL)
		c->rootfs = default_rootfs();
	if (stat(c->rootfs, &rootfs) < 0)
		fail(EXIT_RUNTIME_FAILED, "rootfs %s: %s (make one with: make rootfs)", c->rootfs, strerror(errno));
	if (!S_ISDIR(rootfs.st_mode))
		fail(EXIT_RUNTIME_FAILED, "rootfs %s: not a directory", c->rootfs);
	/* The real path: "--rootfs ." would make pivot_root's "." the old root
	 * itself (EBUSY), and messages name the directory as it is. */
	real = realpath(c->rootfs, NULL);
	if (real == NULL)
		fail(EXIT_RUNTIME_FAILED, "rootfs %s: %s", c->rootfs, strerror(errno));
	c->rootfs = real;
	/* /dev and /proc get mounts: a symlink there would be followed on the
	 * host, before pivot_root, and the mount would land outside the rootfs. */
	for (size_t i = 0; i < sizeof mount_points / sizeof mount_points[0]; i++) {
		struct stat point;
		char path[PATH_MAX];

		snprintf(path, sizeof path, "%s/%s", c->rootfs, mount_points[i]);
		if (lstat(path, &point) < 0)
			fail(EXIT_RUNTIME_FAILED, "rootfs %s: /%s: %s (make one with: make rootfs)", c->rootfs,
			     mount_points[i], strerror(errno));
		if (!S_ISDIR(point.st_mode))
			fail(EXIT_RUNTIME_FAILED, "rootfs %s: /%s is not a directory (a symlink would lead the mount "
			     "out of the rootfs)", c->rootfs, mount_points[i]);
	}
	if (stat("/", &host_root) < 0)
		fail(EXIT_RUNTIME_FAILED, "stat /: %s", strerror(errno));
	if (rootfs.st_dev == host_root.st_dev && rootfs.st_ino == host_root.st_ino)
		fail(EXIT_RUNTIME_FAILED, "rootfs %s is the host's own /: a container needs a root of its own",
		     c->rootfs);
}

/* pivot_root moves the root of the whole mount namespace only if the
 * runtime's / is that root. In a chroot it is not: the real root stays above
 * the container's, and the classic chroot escape climbs back to it. Inside
 * a chroot, / is not the directory PID 1 sees as its root (systemd checks
 * for a chroot the same way). */
static void check_not_chrooted(void)
{
	struct stat root, init_root;

	if (stat("/", &root) < 0)
		fail(EXIT_RUNTIME_FAILED, "stat /: %s", strerror(errno));
	if (stat("/proc/1/root", &init_root) < 0) {
		if (errno == EACCES)
			return;		/* a sandbox that hides PID 1 even from root: check_no_way_out tells */
		fail(EXIT_RUNTIME_FAILED, "stat /proc/1/root: %s", strerror(errno));
	}
	if (root.st_dev != init_root.st_dev || root.st_ino != init_root.st_ino)
		fail(EXIT_RUNTIME_FAILED, "running inside a chroot (/ is not PID 1's root): pivot_root would leave "
		     "the real root reachable; run from the host's root, or enter the other root with "
		     "pivot_root in a mount namespace (unshare --mount --pid --fork --mount-proc)");
}

/* Read a small file into buffer, as a string; -1 with errno on failure. */
static int read_file(const char *path, char *buffer, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t length;

	if (fd < 0)
		return -1;
	length = read(fd, buffer, size - 1);
	close(fd);
	if (length < 0)
		return -1;
	buffer[length] = '\0';
	return 0;
}

/* Is word one of the space-separated words in list? */
static int has_word(const char *list, const char *word)
{
	size_t length = strlen(word);

	for (const char *p = strstr(list, word); p != NULL; p = strstr(p + 1, word))
		if ((p == list || p[-1] == ' ') && (p[length] == ' ' || p[length] == '\n' || p[length] == '\0'))
			return 1;
	return 0;
}

/* Steps 04 and later need a pure cgroup v2 hierarchy with these controllers;
 * hybrid hosts (cgroup v1 controllers, v2 without them) cannot set limits. */
static void check_cgroup_v2(void)
{
	static const char *const needed[] = { "memory", "cpu", "pids" };
	struct statfs fs;
	char controllers[256];

	if (statfs(CGROUP_ROOT, &fs) < 0)
		fail(EXIT_RUNTIME_FAILED, "statfs %s: %s", CGROUP_ROOT, strerror(errno));
	if (fs.f_type != CGROUP2_SUPER_MAGIC)
		fail(EXIT_RUNTIME_FAILED, "%s is not cgroup v2 (this host has a %s cgroup hierarchy); "
		     "steps 04-06 need cgroup v2: see sudo make doctor", CGROUP_ROOT,
		     fs.f_type == TMPFS_MAGIC ? "hybrid or v1" : "non-v2");
	if (read_file(CGROUP_ROOT "/cgroup.controllers", controllers, sizeof controllers) < 0)
		fail(EXIT_RUNTIME_FAILED, "read %s/cgroup.controllers: %s", CGROUP_ROOT, strerror(errno));
	controllers[strcspn(controllers, "\n")] = '\0';
	for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++)
		if (!has_word(controllers, needed[i]))
			fail(EXIT_RUNTIME_FAILED, "cgroup v2 controller '%s' is not available (%s has: %s); "
			     "see sudo make doctor", needed[i], CGROUP_ROOT, controllers[0] != '\0' ? controllers : "none");
}

/* ---- Inside the container (the child) --------------------------------- */

/* If the runtime dies, even by SIGKILL, the kernel kills the container too.
 * That holds only from prctl on: a runtime that died before has closed its
 * end of status_pipe, which poll reports on ours as POLLERR. A command that
 * changes its uid (setpriv, su-exec) loses the death signal; from step04 on,
 * make reset still finds it by its cgroup and kills it. */
static void die_with_runtime(void)
{
	struct pollfd runtime = { .fd = report_fd, .events = POLLOUT };

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		fail(EXIT_RUNTIME_FAILED, "prctl PR_SET_PDEATHSIG: %s", strerror(errno));
	if (poll(&runtime, 1, 0) < 0)
		fail(EXIT_RUNTIME_FAILED, "poll status pipe: %s", strerror(errno));
	if (runtime.revents & POLLERR)
		_exit(EXIT_RUNTIME_FAILED);	/* the runtime is gone: nobody to tell */
}

/* A rootfs from podman export has an empty /dev. The container gets a few
 * device nodes of its own on a tmpfs, never the host's whole /dev. */
static void mount_dev(void)
{
	static const struct { const char *path; unsigned int major, minor; } nodes[] = {
		{ "dev/null", 1, 3 },
		{ "dev/zero", 1, 5 },
		{ "dev/random", 1, 8 },
		{ "dev/urandom", 1, 9 },
		{ "dev/tty", 5, 0 },
		{ "dev/full", 1, 7 },
	};
	static const char *const links[][2] = {	/* target, name */
		{ "pts/ptmx", "dev/ptmx" },
		{ "/proc/self/fd", "dev/fd" },
		{ "/proc/self/fd/0", "dev/stdin" },
		{ "/proc/self/fd/1", "dev/stdout" },
		{ "/proc/self/fd/2", "dev/stderr" },
	};

	if (mount("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=64k") < 0)
		fail(EXIT_RUNTIME_FAILED, "mount tmpfs on /dev: %s", strerror(errno));
	for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
		if (mknod(nodes[i].path, S_IFCHR, makedev(nodes[i].major, nodes[i].minor)) < 0)
			fail(EXIT_RUNTIME_FAILED, "mknod /%s: %s", nodes[i].path, strerror(errno));
		if (chmod(nodes[i].path, 0666) < 0)	/* mknod was given no permission bits */
			fail(EXIT_RUNTIME_FAILED, "chmod /%s: %s", nodes[i].path, strerror(errno));
	}
	/* A new devpts instance: the container sees only its own terminals. */
	if (mkdir("dev/pts", 0755) < 0)
		fail(EXIT_RUNTIME_FAILED, "mkdir /dev/pts: %s", strerror(errno));
	if (mount("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620") < 0)
		fail(EXIT_RUNTIME_FAILED, "mount devpts on /dev/pts: %s", strerror(errno));
	/* POSIX shared memory (shm_open) lives in /dev/shm, as under docker run:
	 * a tmpfs of its own, whose pages count as the container's memory. */
	if (mkdir("dev/shm", 01777) < 0)
		fail(EXIT_RUNTIME_FAILED, "mkdir /dev/shm: %s", strerror(errno));
	if (mount("shm", "dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=64m") < 0)
		fail(EXIT_RUNTIME_FAILED, "mount tmpfs on /dev/shm: %s", strerror(errno));
	for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
		if (symlink(links[i][0], links[i][1]) < 0)
			fail(EXIT_RUNTIME_FAILED, "symlink /%s: %s", links[i][1], strerror(errno));
}

/* The chroot check that needs no /proc/1 (check_not_chrooted): try the
 * classic escape itself. Chroot into a directory below our new root with
 * the working directory left outside, climb "..": inside a chroot it gets
 * above our root, to the real one. Then put the root back. */
static void check_no_way_out(void)
{
	struct stat root, top;
	int root_fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (root_fd < 0 || fstat(root_fd, &root) < 0)
		fail(EXIT_RUNTIME_FAILED, "open /: %s", strerror(errno));
	if (chroot("dev") < 0)
		fail(EXIT_RUNTIME_FAILED, "chroot /dev: %s", strerror(errno));
	for (int i = 0; i < 64; i++)
		if (chdir("..") < 0)
			fail(EXIT_RUNTIME_FAILED, "chdir ..: %s", strerror(errno));
	if (stat(".", &top) < 0)
		fail(EXIT_RUNTIME_FAILED, "stat ..: %s", strerror(errno));
	if (fchdir(root_fd) < 0 || chroot(".") < 0 || chdir("/") < 0)
		fail(EXIT_RUNTIME_FAILED, "restore the root: %s", strerror(errno));
	close(root_fd);
	if (top.st_dev != root.st_dev || top.st_ino != root.st_ino)
		fail(EXIT_RUNTIME_FAILED, "running inside a chroot (\"..\" climbs above the container's root): "
		     "pivot_root would leave the real root reachable; run from the host's root, or enter the "
		     "other root with pivot_root in a mount namespace (unshare --mount --pid --fork --mount-proc)");
}

/* Switch the container's / to rootfs, with a fresh /proc for its own PIDs. */
static void enter_rootfs(const char *rootfs)
{
	/* systemd makes / shared: without this, our mounts would appear on the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		fail(EXIT_RUNTIME_FAILED, "make mounts private: %s", strerror(errno));
	/* pivot_root needs the new root to be a mount point: bind it onto itself
	 * (not recursively: no host mount below it comes along). */
	if (mount(rootfs, rootfs, NULL, MS_BIND, NULL) < 0)
		fail(EXIT_RUNTIME_FAILED, "bind mount %s: %s", rootfs, strerror(errno));
	if (chdir(rootfs) < 0)
		fail(EXIT_RUNTIME_FAILED, "chdir %s: %s", rootfs, strerror(errno));
	mount_dev();
	/* This process is in the new PID namespace, so this /proc shows its PIDs. */
	if (mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		fail(EXIT_RUNTIME_FAILED, "mount /proc: %s", strerror(errno));
	/* With new_root and put_old both ".", the old root is stacked on top of
	 * the new one; detaching it leaves no path back to the host's files. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		fail(EXIT_RUNTIME_FAILED, "pivot_root: %s", strerror(errno));
	if (umount2(".", MNT_DETACH) < 0)
		fail(EXIT_RUNTIME_FAILED, "detach the old root: %s", strerror(errno));
	if (chdir("/") < 0)
		fail(EXIT_RUNTIME_FAILED, "chdir /: %s", strerror(errno));
	check_no_way_out();
}

/* On a terminal the container is a job of its own, as a shell runs a
 * command: its own process group, in the terminal's foreground. A shell
 * inside can then hand the terminal back to its own group when it exits;
 * the caller's group is out of sight in the new PID namespace. SIGTTOU is
 * still blocked (take_signals), so tcsetpgrp works from the background. */
static void become_job(const struct container *c)
{
	if (!c->terminal)
		return;		/* it stays in the runtime's group, as a pipeline's commands do */
	if (setpgid(0, 0) < 0)
		fail(EXIT_RUNTIME_FAILED, "setpgid: %s", strerror(errno));
	if (tcsetpgrp(STDIN_FILENO, getpgrp()) < 0)
		fail(EXIT_RUNTIME_FAILED, "tcsetpgrp: %s", strerror(errno));
}

/* The command gets a small environment of known values, as under docker
 * run, never the caller's (sudo's SUDO_*, the host's PS1, DBUS_*, XDG_*).
 * TERM stays, so that a shell or less knows the terminal. */
static void set_environment(void)
{
	char *term = getenv("TERM");

	if (term != NULL && (term = strdup(term)) == NULL)
		fail(EXIT_RUNTIME_FAILED, "strdup: %s", strerror(errno));
	if (clearenv() != 0)
		fail(EXIT_RUNTIME_FAILED, "clearenv failed");
	if (setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1) < 0 ||
	    setenv("HOME", "/root", 1) < 0 || (term != NULL && setenv("TERM", term, 1) < 0))
		fail(EXIT_RUNTIME_FAILED, "setenv: %s", strerror(errno));
	free(term);
}

/* The runtime blocks every signal (take_signals); the command starts with
 * none blocked. Its dispositions are the caller's, as across any exec: the
 * default, or ignored where the caller ignored a signal (nohup). */
static void reset_signals(void)
{
	sigset_t none;

	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		fail(EXIT_RUNTIME_FAILED, "sigprocmask: %s", strerror(errno));
}

static void exec_command(char **argv)
{
	int setup_done = 0;

	/* Every fd but 0-2 closes at the exec: one the caller left open (run
	 * 3</) would be a way back to the host's files (runc's CVE-2024-21626). */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		fail(EXIT_RUNTIME_FAILED, "close_range: %s", strerror(errno));
	if (write(report_fd, &setup_done, sizeof setup_done) != sizeof setup_done)
		fail(EXIT_RUNTIME_FAILED, "write status pipe: %s", strerror(errno));
	execvp(argv[0], argv);
	fail(errno == ENOENT || errno == ENOTDIR ? EXIT_NOT_FOUND : EXIT_CANNOT_INVOKE,
	     "cannot run %s: %s", argv[0], strerror(errno));
}

/* The child of clone3(): set up the container from the inside, then become
 * the command. Any failure here reaches the runtime over status_pipe. */
static void container_main(struct container *c)
{
	close(c->status_pipe[0]);
	report_fd = c->status_pipe[1];
	die_with_runtime();
	become_job(c);
	set_environment();
	enter_rootfs(c->rootfs);
	reset_signals();
	exec_command(c->argv);
}

/* ---- On the host (the runtime) ---------------------------------------- */

static char cgroup_dir[64];		/* for remove_cgroup at exit */

static int write_file(const char *dir, const char *file, const char *text)
{
	char path[128];
	int fd;
	ssize_t written;

	snprintf(path, sizeof path, "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	written = write(fd, text, strlen(text));
	if (written < 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return close(fd);
}

static void set_limit(const char *file, const char *value)
{
	if (write_file(cgroup_dir, file, value) < 0)
		fail(EXIT_RUNTIME_FAILED, "write %s to %s/%s: %s", value, cgroup_dir, file, strerror(errno));
}

/* A cgroup has the controllers' files only if its parent enables them in
 * its cgroup.subtree_control: the root for workshop, workshop for ws-*.
 * While workshop enables a controller, the kernel refuses (EBUSY) to disable
 * it at the root, so systemd, which rewrites the root's subtree_control on
 * a reload, cannot take cpu.max away from a running container. Returns -1
 * (ENOENT) if dir is gone. */
static int enable_controllers(const char *dir)
{
	static const char *const needed[] = { "+memory", "+cpu", "+pids" };
	char path[128], enabled[256];

	snprintf(path, sizeof path, "%s/cgroup.subtree_control", dir);
	if (read_file(path, enabled, sizeof enabled) < 0) {
		if (errno == ENOENT)
			return -1;
		fail(EXIT_RUNTIME_FAILED, "read %s: %s", path, strerror(errno));
	}
	for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++) {
		if (has_word(enabled, needed[i] + 1) || write_file(dir, "cgroup.subtree_control", needed[i]) == 0)
			continue;
		if (errno == ENOENT)
			return -1;
		fail(EXIT_RUNTIME_FAILED, "enable %s in %s: %s", needed[i] + 1, path, strerror(errno));
	}
	return 0;
}

/* Wait (bounded) until no process is left in cgroup dir or below it: the
 * kernel notifies pollers of cgroup.events when "populated" changes. */
static void wait_until_empty(const char *dir)
{
	char path[128], events[256];
	struct pollfd changed;

	snprintf(path, sizeof path, "%s/cgroup.events", dir);
	changed.fd = open(path, O_RDONLY | O_CLOEXEC);
	changed.events = POLLPRI;
	if (changed.fd < 0)
		return;
	for (int tries = 0; tries < 50; tries++) {
		ssize_t length = pread(changed.fd, events, sizeof events - 1, 0);
		if (length < 0)
			break;
		events[length] = '\0';
		if (strstr(events, "populated 0") != NULL)
			break;
		if (poll(&changed, 1, 100) < 0 && errno != EINTR)
			break;
	}
	close(changed.fd);
}

/* rmdir name (in the directory at_fd) after every cgroup below it, deepest
 * first: the container is root, so it can mount cgroup2 and make cgroups of
 * its own in there, and rmdir refuses a cgroup that has children. Relative
 * to directory fds, so no path grows with the depth. A child that stays
 * makes the rmdir of its parent fail (EBUSY), which the caller retries. */
static int remove_tree(int at_fd, const char *name)
{
	struct dirent *entry;
	DIR *stream;
	int fd = openat(at_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -1;
	stream = fdopendir(fd);
	if (stream == NULL) {
		close(fd);
		return -1;
	}
	while ((entry = readdir(stream)) != NULL)
		if (entry->d_type == DT_DIR && strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0)
			remove_tree(dirfd(stream), entry->d_name);
	closedir(stream);
	return unlinkat(at_fd, name, AT_REMOVEDIR);
}

/* SIGKILL every process in cgroup name (in the directory at_fd) and below;
 * returns how many there were. */
static int kill_tree(int at_fd, const char *name)
{
	struct dirent *entry;
	DIR *stream;
	FILE *procs;
	int fd, pid, found = 0;

	fd = openat(at_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;	/* gone meanwhile */
	stream = fdopendir(fd);
	if (stream == NULL) {
		fprintf(stderr, STEP_NAME ": fdopendir %s: %s\n", name, strerror(errno));
		close(fd);
		return 0;
	}
	fd = openat(dirfd(stream), "cgroup.procs", O_RDONLY | O_CLOEXEC);
	procs = fd < 0 ? NULL : fdopen(fd, "r");
	if (procs == NULL && errno != ENOENT)
		fprintf(stderr, STEP_NAME ": read %s/cgroup.procs: %s\n", name, strerror(errno));
	if (procs == NULL && fd >= 0)
		close(fd);
	while (procs != NULL && fscanf(procs, "%d", &pid) == 1) {
		found++;
		if (kill(pid, SIGKILL) < 0 && errno != ESRCH)
			fprintf(stderr, STEP_NAME ": kill %d in %s: %s\n", pid, name, strerror(errno));
	}
	if (procs != NULL)
		fclose(procs);
	while ((entry = readdir(stream)) != NULL)
		if (entry->d_type == DT_DIR && strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0)
			found += kill_tree(dirfd(stream), entry->d_name);
	closedir(stream);
	return found;
}

/* Without cgroup.kill (kernels before 5.14), SIGKILL the processes of
 * cgroup dir and below one by one, again while any is left, as make reset
 * does (bounded: 50 rounds of 0.1 s). Frozen first, no process forks or
 * exits on its own meanwhile, so a PID read from cgroup.procs is not reused
 * by another process before its kill. */
static void kill_cgroup_procs(const char *dir)
{
	const struct timespec pause = { 0, 100 * 1000 * 1000 };

	if (write_file(dir, "cgroup.freeze", "1") < 0 && errno != ENOENT)
		fprintf(stderr, STEP_NAME ": write 1 to %s/cgroup.freeze: %s\n", dir, strerror(errno));
	for (int tries = 0; tries < 50 && kill_tree(AT_FDCWD, dir) > 0; tries++)
		if (nanosleep(&pause, NULL) < 0 && errno != EINTR)
			fprintf(stderr, STEP_NAME ": nanosleep: %s\n", strerror(errno));
}

/* Kill whatever is left in cgroup dir and below (cgroup.kill takes the
 * whole subtree), then remove it. This runs at exit, so it warns instead of
 * failing. */
static void remove_cgroup_tree(const char *dir)
{
	if (write_file(dir, "cgroup.kill", "1") < 0) {
		if (errno != ENOENT)
			fprintf(stderr, STEP_NAME ": write %s/cgroup.kill: %s\n", dir, strerror(errno));
		else if (access(dir, F_OK) == 0)
			kill_cgroup_procs(dir);	/* dir is there, cgroup.kill is not: before 5.14 */
	}
	wait_until_empty(dir);
	for (int tries = 0; remove_tree(AT_FDCWD, dir) < 0; tries++) {
		if (errno == ENOENT)
			return;		/* already gone */
		if (errno != EBUSY || tries == 20) {
			fprintf(stderr, STEP_NAME ": remove %s: %s (sudo make reset cleans up)\n", dir, strerror(errno));
			return;
		}
		wait_until_empty(dir);	/* busy: the last task is still leaving */
	}
}

/* At exit: the container's cgroup, then workshop if no other run uses it
 * (EBUSY: one does). */
static void remove_cgroup(void)
{
	remove_cgroup_tree(cgroup_dir);
	if (rmdir(CGROUP_PARENT) < 0 && errno != EBUSY && errno != ENOENT)
		fprintf(stderr, STEP_NAME ": remove %s: %s\n", CGROUP_PARENT, strerror(errno));
}

/* The run's cgroup, CGROUP_PARENT/ws-<runtime PID>-<random>, with the
 * limits, and below it the container's own, a leaf (CGROUP_LEAF). The PID
 * alone is not unique: a run in another PID namespace can have the same one.
 * A cgroup that is there already is another run's, live or not, and never
 * ours to kill or remove: we take another name. */
static void create_cgroup(struct container *c)
{
	char value[64], leaf[80];
	unsigned int random_part;

	for (int tries = 1;; tries++) {
		if (getrandom(&random_part, sizeof random_part, 0) != sizeof random_part)
			fail(EXIT_RUNTIME_FAILED, "getrandom: %s", strerror(errno));
		snprintf(cgroup_dir, sizeof cgroup_dir, "%s/%s%d-%08x", CGROUP_PARENT, CGROUP_PREFIX, (int)getpid(), random_part);
		if (enable_controllers(CGROUP_ROOT) < 0)
			fail(EXIT_RUNTIME_FAILED, "%s: %s", CGROUP_ROOT, strerror(errno));
		if (mkdir(CGROUP_PARENT, 0755) < 0 && errno != EEXIST)
			fail(EXIT_RUNTIME_FAILED, "mkdir %s: %s", CGROUP_PARENT, strerror(errno));
		if (enable_controllers(CGROUP_PARENT) == 0 && mkdir(cgroup_dir, 0755) == 0)
			break;
		/* ENOENT: a run that left workshop empty removed it meanwhile: again.
		 * EEXIST: another run's name: again, with another random part. */
		if ((errno != ENOENT && errno != EEXIST) || tries == 10)
			fail(EXIT_RUNTIME_FAILED, "mkdir %s: %s", cgroup_dir, strerror(errno));
	}
	if (atexit(remove_cgroup) != 0)
		fail(EXIT_RUNTIME_FAILED, "atexit: cannot register the cgroup's removal");
	set_limit("cgroup.max.depth", CGROUP_MAX_DEPTH);
	set_limit("cgroup.max.descendants", CGROUP_MAX_DESCENDANTS);
	snprintf(value, sizeof value, "%lld", c->memory);
	set_limit("memory.max", value);
	/* Without swap the OOM killer acts at memory.max instead of swapping. */
	if (write_file(cgroup_dir, "memory.swap.max", "0") < 0 && errno != ENOENT)
		fail(EXIT_RUNTIME_FAILED, "write 0 to %s/memory.swap.max: %s", cgroup_dir, strerror(errno));
	snprintf(value, sizeof value, "%lld %d", (long long)(c->cpus * CPU_PERIOD_US + 0.5), CPU_PERIOD_US);
	set_limit("cpu.max", value);
	snprintf(value, sizeof value, "%ld", c->pids_limit);
	set_limit("pids.max", value);
	/* The limits bind the leaf from above, where root in the container
	 * cannot write even when it can write its own cgroup's files: with
	 * step06's cgroup namespace the leaf is the root it sees, and without
	 * nsdelegate that root's files are writable (cgroup-v2.rst). */
	snprintf(leaf, sizeof leaf, "%s/%s", cgroup_dir, CGROUP_LEAF);
	if (mkdir(leaf, 0755) < 0)
		fail(EXIT_RUNTIME_FAILED, "mkdir %s: %s", leaf, strerror(errno));
	c->cgroup_fd = open(leaf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->cgroup_fd < 0)
		fail(EXIT_RUNTIME_FAILED, "open %s: %s", leaf, strerror(errno));
}

/* Has the OOM killer killed a process of the container? (memory.events) */
static int oom_killed(void)
{
	char path[128], events[512];
	const char *count;

	snprintf(path, sizeof path, "%s/memory.events", cgroup_dir);
	if (read_file(path, events, sizeof events) < 0)
		return 0;
	count = strstr(events, "oom_kill ");
	return count != NULL && atol(count + strlen("oom_kill ")) > 0;
}

/* Every signal sent to the runtime is blocked, and read from signal_fd by
 * its one loop (wait_for_start, then wait_for_container): no handler runs
 * in between, so nothing happens behind the loop's back. Left alone are
 * faults (a crash of the runtime's own) and what the caller ignored, which
 * stays ignored (nohup: a hangup ends neither the runtime nor the command).
 * A blocked SIGPIPE makes a write to a pipe without a reader fail with
 * EPIPE, which the runtime reports, instead of killing it without a word. */
static void take_signals(struct container *c)
{
	static const int faults[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS };
	struct sigaction old;

	/* An inherited SIG_IGN for SIGCHLD would make the kernel reap the
	 * container at once, leaving no status to wait for (waitpid(2)). */
	if (signal(SIGCHLD, SIG_DFL) == SIG_ERR)
		fail(EXIT_RUNTIME_FAILED, "reset SIGCHLD: %s", strerror(errno));
	sigfillset(&c->signals);
	for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++)
		sigdelset(&c->signals, faults[i]);
	for (int sig = 1; sig < NSIG; sig++)
		if (sigaction(sig, NULL, &old) == 0 && old.sa_handler == SIG_IGN)
			sigdelset(&c->signals, sig);
	/* SIG_SETMASK: the caller's mask is replaced, not added to. */
	if (sigprocmask(SIG_SETMASK, &c->signals, NULL) < 0)
		fail(EXIT_RUNTIME_FAILED, "sigprocmask: %s", strerror(errno));
	c->signal_fd = signalfd(-1, &c->signals, SFD_CLOEXEC);
	if (c->signal_fd < 0)
		fail(EXIT_RUNTIME_FAILED, "signalfd: %s", strerror(errno));
}

static pid_t caller_group;	/* the process group the runtime was started in */
static int gave_terminal;	/* the terminal is the container's group's (enter_job) */
static pid_t job_group;		/* the container's, while the runtime is in it; else 0 */

/* Is stdin our terminal, and are we its foreground job? Then the container
 * takes our place there (become_job, join_job). tcgetpgrp fails unless
 * stdin is our controlling terminal. */
static void check_terminal(struct container *c)
{
	caller_group = getpgrp();
	c->terminal = isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == caller_group;
}

/* Give the terminal and the runtime back to the caller's process group, so
 * that the shell that started the runtime has both again: at exit (on every
 * path but SIGKILL) and before the runtime stops itself. */
static void leave_job(void)
{
	if (!gave_terminal)
		return;
	if (tcsetpgrp(STDIN_FILENO, caller_group) < 0)
		fprintf(stderr, STEP_NAME ": give the terminal back: %s\n", strerror(errno));
	gave_terminal = 0;
	if (job_group != 0 && setpgid(0, caller_group) < 0)
		fprintf(stderr, STEP_NAME ": go back to process group %d: %s\n", (int)caller_group, strerror(errno));
	job_group = 0;
}

/* Give the terminal to the container's process group (PID 1's), and join
 * it: the terminal's Ctrl-C and Ctrl-Z then reach the runtime too, and it
 * is the one that can stop the whole container. A session's leader (tmux
 * new-session ./run) cannot change its group (setpgid(2)); it stays out,
 * and has no shell to stop for anyway. */
static int enter_job(struct container *c)
{
	if (tcsetpgrp(STDIN_FILENO, c->pid) < 0)
		return -1;
	gave_terminal = 1;
	if (getsid(0) == getpid())
		return 0;
	if (setpgid(0, c->pid) < 0)
		return -1;
	job_group = c->pid;
	return 0;
}

/* On a terminal the container becomes its foreground job. The child does
 * the same as a shell's job does (become_job): whichever comes first makes
 * the group and hands it the terminal, so that a Ctrl-C during setup
 * reaches the runtime. EACCES: the child has done it and exec'd. */
static void join_job(struct container *c)
{
	if (!c->terminal)
		return;
	if (setpgid(c->pid, c->pid) < 0 && errno != EACCES)
		fail(EXIT_RUNTIME_FAILED, "setpgid: %s", strerror(errno));
	if (atexit(leave_job) != 0)
		fail(EXIT_RUNTIME_FAILED, "atexit: cannot register the terminal's return");
	if (enter_job(c) < 0)
		fail(EXIT_RUNTIME_FAILED, "make the container the terminal's job: %s", strerror(errno));
}

/* Stop or continue the whole container. PID 1 drops a SIGTSTP it has no
 * handler for, but SIGSTOP and SIGCONT from the parent namespace are forced
 * on it; the processes it started in its process group get the terminal's
 * SIGTSTP themselves. */
static void stop_container(struct container *c, int stop)
{
	/* The cgroup freezer stops every process of the container at once,
	 * whatever its process group, and only the runtime can thaw them. */
	if (write_file(cgroup_dir, "cgroup.freeze", stop ? "1" : "0") == 0)
		return;
	if (kill(c->pid, stop ? SIGSTOP : SIGCONT) < 0 && errno != ESRCH)
		fprintf(stderr, STEP_NAME ": %s the container: %s\n", stop ? "stop" : "continue", strerror(errno));
}

/* After a stop: continue the container, and if we are in the terminal's
 * foreground again (fg, not bg), give it the terminal again. Also for a
 * SIGCONT from anyone. */
static void resume_job(struct container *c)
{
	if (c->terminal && !gave_terminal) {
		/* What the terminal's SIGTSTP stopped in PID 1's group (we are
		 * out of it now, so this does not come back to us). */
		if (killpg(c->pid, SIGCONT) < 0 && errno != ESRCH)
			fprintf(stderr, STEP_NAME ": continue the container: %s\n", strerror(errno));
		if (tcgetpgrp(STDIN_FILENO) == caller_group && enter_job(c) < 0)
			fprintf(stderr, STEP_NAME ": take the terminal again: %s\n", strerror(errno));
	}
	stop_container(c, 0);
}

/* Ctrl-Z (or SIGTSTP, SIGTTIN, SIGTTOU from anyone): stop the container,
 * then the runtime itself with the same signal, so that the shell that
 * started it sees a stopped job. fg or bg lets the runtime go on here. */
static void suspend_job(struct container *c, int sig)
{
	sigset_t stop;

	stop_container(c, 1);
	leave_job();
	sigemptyset(&stop);
	sigaddset(&stop, sig);
	/* Its default action stops the runtime the moment it is unblocked. */
	if (kill(getpid(), sig) < 0 || sigprocmask(SIG_UNBLOCK, &stop, NULL) < 0 ||
	    sigprocmask(SIG_BLOCK, &stop, NULL) < 0)
		fprintf(stderr, STEP_NAME ": stop the runtime: %s\n", strerror(errno));
	resume_job(c);
}

/* PID 1 of a namespace gets only the signals it has a handler for: the
 * kernel drops any other, even one from us (pid_namespaces(7)). So a signal
 * waits here until PID 1 catches it (SigCgt in /proc/PID/status), at most
 * GRACE_SECONDS from the command's start: one sent before a shell has set
 * its trap is not lost. When the time is up, a SIGTERM becomes SIGKILL, as
 * docker stop does; any other signal is dropped, as the kernel would. */
static long long held_until[NSIG];	/* ms on the monotonic clock; 0: not held */
static int hung_up;			/* the terminal was closed (hang_up) */

static long long now_ms(void)
{
	struct timespec now;

	if (clock_gettime(CLOCK_MONOTONIC, &now) < 0)
		fail(EXIT_RUNTIME_FAILED, "clock_gettime: %s", strerror(errno));
	return now.tv_sec * 1000LL + now.tv_nsec / 1000000;
}

static void hold_signal(int sig)
{
	held_until[sig] = now_ms() + GRACE_SECONDS * 1000;
}

/* Does process pid have a handler for sig? A zombie has none. */
static int catches(pid_t pid, int sig)
{
	char path[64], line[256];
	unsigned long long caught = 0;
	FILE *status;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	status = fopen(path, "re");
	if (status == NULL)
		return 0;
	while (fgets(line, sizeof line, status) != NULL)
		if (sscanf(line, "SigCgt: %llx", &caught) == 1)
			break;
	fclose(status);
	return caught >> (sig - 1) & 1;
}

/* Send each held signal that PID 1 catches now, and end the wait of those
 * whose time is up. Returns how long poll may sleep: -1 if none is held. */
static int deliver_held(struct container *c)
{
	int timeout = -1;

	for (int sig = 1; sig < NSIG; sig++) {
		if (held_until[sig] == 0)
			continue;
		if (catches(c->pid, sig)) {
			if (kill(c->pid, sig) < 0 && errno != ESRCH)
				fprintf(stderr, STEP_NAME ": forward SIG%s: %s\n", sigabbrev_np(sig), strerror(errno));
		} else if (now_ms() < held_until[sig]) {
			timeout = 10;	/* look again in 10 ms */
			continue;
		} else if ((sig == SIGTERM || (sig == SIGHUP && hung_up)) && kill(c->pid, SIGKILL) < 0 &&
			   errno != ESRCH) {
			fprintf(stderr, STEP_NAME ": SIGKILL: %s\n", strerror(errno));
		}
		held_until[sig] = 0;
	}
	return timeout;
}

/* clone3() the container's first process into new namespaces. Like fork(),
 * it returns twice: 0 in the child, the child's PID in the runtime. */
static void start_container(struct container *c)
{
	struct clone_args args = { .exit_signal = SIGCHLD };	/* tell us when it exits, like fork() */
	long pid;

	args.flags |= CLONE_NEWPID;	/* its own PID numbers: the command is PID 1 */
	args.flags |= CLONE_NEWNS;	/* its own mount table */
	args.flags |= CLONE_NEWNET;	/* its own network interfaces */
	/* Born in its cgroup: limited from its first instruction, and no moving a
	 * running process between cgroups, which waits for an RCU grace period. */
	args.flags |= CLONE_INTO_CGROUP;
	args.cgroup = c->cgroup_fd;
	/* O_CLOEXEC: a successful exec closes the child's end; that EOF is how
	 * the runtime knows that the command started. */
	if (pipe2(c->status_pipe, O_CLOEXEC) < 0)
		fail(EXIT_RUNTIME_FAILED, "pipe: %s", strerror(errno));
	pid = syscall(SYS_clone3, &args, sizeof args);	/* glibc has no clone3() wrapper */
	if (pid < 0)
		fail(EXIT_RUNTIME_FAILED, "clone3: %s", strerror(errno));
	if (pid == 0)
		container_main(c);	/* the child: it execs the command or exits */
	c->pid = pid;
	close(c->status_pipe[1]);
}

/* Wait until PID 1 exits. WNOWAIT leaves it a zombie until the runtime
 * exits, so that its PID cannot go to another process while the runtime
 * may still signal it. (So does SIGCHLD's default, which take_signals
 * restores: with it ignored, the kernel reaps the child at once.) */
static siginfo_t wait_for_exit(struct container *c)
{
	siginfo_t exited;

	while (waitid(P_PID, c->pid, &exited, WEXITED | WNOWAIT) < 0)
		if (errno != EINTR)
			fail(EXIT_RUNTIME_FAILED, "waitid: %s", strerror(errno));
	return exited;
}

/* One signal from signal_fd. SIGCHLD only wakes the loop up, which then
 * asks waitid. The terminal's Ctrl-C, Ctrl-\ and hangup come from the
 * kernel (SI_KERNEL) to its whole foreground process group: the container
 * has them already, or, before its command runs, they cancel the run. */
static void take_signal(struct container *c)
{
	struct signalfd_siginfo info;
	ssize_t length = read(c->signal_fd, &info, sizeof info);
	int sig;

	if (length != sizeof info)
		fail(EXIT_RUNTIME_FAILED, "read signalfd: %s", length < 0 ? strerror(errno) : "short read");
	sig = (int)info.ssi_signo;
	switch (sig) {
	case SIGCHLD:
	case SIGWINCH:	/* a new window size: the terminal told its foreground group */
		return;
	case SIGTSTP:
	case SIGTTIN:
	case SIGTTOU:
		suspend_job(c, sig);
		return;
	case SIGCONT:
		resume_job(c);
		return;
	}
	if (info.ssi_code == SI_KERNEL && (sig == SIGINT || sig == SIGQUIT || sig == SIGHUP)) {
		if (c->started)
			return;
		if (kill(c->pid, SIGKILL) < 0 && errno != ESRCH)
			fail(EXIT_RUNTIME_FAILED, "kill the container: %s", strerror(errno));
		wait_for_exit(c);
		fail(128 + sig, "SIG%s before the command started: the run is cancelled", sigabbrev_np(sig));
	}
	hold_signal(sig);
}

/* The child reports over status_pipe: 0 when setup is done and it is about
 * to exec, or the exit status of a failure it has explained on stderr. EOF
 * after the 0 means the exec succeeded (O_CLOEXEC closed the pipe); EOF
 * before it, that the child died during setup: then the command never ran,
 * and the runtime failed, whatever signal killed the child. (A kill in the
 * execve itself, after the 0, is the command's death, as under docker.)
 * Signals that come meanwhile wait for the command (take_signal). */
static void wait_for_start(struct container *c)
{
	struct pollfd ready[] = {
		{ .fd = c->status_pipe[0], .events = POLLIN },
		{ .fd = c->signal_fd, .events = POLLIN },
	};
	int reported, setup_done = 0;
	ssize_t length;
	siginfo_t exited;

	for (;;) {
		if (poll(ready, 2, -1) < 0)
			fail(EXIT_RUNTIME_FAILED, "poll: %s", strerror(errno));
		if (ready[1].revents & POLLIN)
			take_signal(c);
		if (ready[0].revents == 0)
			continue;
		length = read(c->status_pipe[0], &reported, sizeof reported);
		if (length != sizeof reported)
			break;
		if (reported != 0) {
			wait_for_exit(c);
			exit(reported);	/* setup or exec failed inside; the child said why */
		}
		setup_done = 1;
	}
	if (length != 0)
		fail(EXIT_RUNTIME_FAILED, "read status pipe: %s", length < 0 ? strerror(errno) : "short read");
	if (setup_done) {
		c->started = 1;
		for (int sig = 1; sig < NSIG; sig++)	/* the held signals' time starts now */
			if (held_until[sig] != 0)
				hold_signal(sig);
		return;		/* the command runs */
	}
	exited = wait_for_exit(c);
	if (exited.si_code == CLD_KILLED && exited.si_status == SIGKILL && oom_killed())
		fail(EXIT_RUNTIME_FAILED, "the container was killed by SIGKILL during setup: out of memory "
		     "(--memory %lld bytes is too little)", c->memory);
	if (exited.si_code == CLD_EXITED)
		fail(EXIT_RUNTIME_FAILED, "the container exited with status %d during setup", exited.si_status);
	fail(EXIT_RUNTIME_FAILED, "the container was killed by SIG%s during setup", sigabbrev_np(exited.si_status));
}

/* The terminal was closed. The kernel told only the session's leader (the
 * shell, whose SIGHUP to its job no longer reaches us: we are in PID 1's
 * group), and a job must end with its terminal, as it would under a shell:
 * SIGHUP if PID 1 catches it, else SIGKILL when the grace period is over. */
static void hang_up(void)
{
	hung_up = 1;
	hold_signal(SIGHUP);
}

/* The runtime's loop: pass signals on (take_signal, deliver_held) until PID
 * 1 exits, then turn how it ended into the exit status, as docker run does:
 * its own status, or 128+N if signal N killed it. A signal it caught is its
 * own business and shows only in the status it chose. */
static int wait_for_container(struct container *c)
{
	struct pollfd ready[] = {
		{ .fd = c->signal_fd, .events = POLLIN },
		{ .fd = c->terminal ? STDIN_FILENO : -1, .events = 0 },	/* only POLLHUP */
	};
	siginfo_t exited;

	for (;;) {
		exited.si_pid = 0;
		if (waitid(P_PID, c->pid, &exited, WEXITED | WNOHANG | WNOWAIT) < 0)
			fail(EXIT_RUNTIME_FAILED, "waitid: %s", strerror(errno));
		if (exited.si_pid != 0)
			break;
		if (poll(ready, 2, deliver_held(c)) < 0)
			fail(EXIT_RUNTIME_FAILED, "poll: %s", strerror(errno));
		if (ready[0].revents & POLLIN)
			take_signal(c);
		if (ready[1].revents & (POLLHUP | POLLERR)) {
			ready[1].fd = -1;	/* it stays hung up: once is enough */
			hang_up();
		}
	}
	if (exited.si_code == CLD_EXITED)
		return exited.si_status;
	return 128 + exited.si_status;	/* killed by signal si_status */
}

int main(int argc, char *argv[])
{
	static char *default_command[] = { "/bin/sh", NULL };
	struct container c = {
		.argv = default_command,
		.memory = 64LL << 20,
		.cpus = 0.5,
		.pids_limit = 64,
	};

	open_stdio();	/* before any pipe takes fd 0, 1 or 2 */
	parse_options(argc, argv, &c);
	require_root();
	check_rootfs(&c);
	check_not_chrooted();
	check_cgroup_v2();
	take_signals(&c);	/* blocked from here on, and read by the loop */
	check_terminal(&c);
	create_cgroup(&c);
	start_container(&c);
	join_job(&c);
	wait_for_start(&c);
	return wait_for_container(&c);	/* exit() then runs the cleanups registered with atexit */
}
