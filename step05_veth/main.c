/*
 * A container runtime, built one isolation feature at a time.
 *
 *   step01_pid     a PID namespace: the command is PID 1
 *   step02_mount   + a mount namespace: its own root (pivot_root) and /proc
 *   step03_net     + a network namespace: its own interfaces, only lo
 *   step04_cgroup  + cgroup v2 limits: memory, CPU and number of processes
 *   step05_veth    + a veth pair: a cable between host and container
 *
 * Usage: sudo ./stepNN_x/run [OPTIONS] [--] [COMMAND [ARG...]]   (see --help)
 *
 * Exit status, as docker run: the command's own status, 128+N if it died of
 * signal N, 125 if the runtime failed, 126 if the command cannot be invoked,
 * 127 if it was not found.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/rtnetlink.h>
#include <linux/sched.h>
#include <linux/veth.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#define STEP_NAME "step05_veth"

/* Exit statuses of the runtime itself, as docker run uses them. */
#define EXIT_RUNTIME_FAILED 125
#define EXIT_CANNOT_INVOKE 126
#define EXIT_NOT_FOUND 127

#define GRACE_SECONDS 2		/* after a forwarded signal, before SIGKILL */

#define CGROUP_ROOT "/sys/fs/cgroup"
#define CGROUP_PREFIX "ws-"	/* CGROUP_ROOT/ws-<runtime PID>; make reset finds these */
#define CPU_PERIOD_US 100000	/* cpu.max: quota per 100 ms period */

#define VETH_PREFIX "ws-"	/* host end: ws-10.200.0 for 10.200.0.0/24; make reset finds these */
#define VETH_CONTAINER "eth0"	/* the container's end, inside its network namespace */

struct container {
	char **argv;		/* the command and its arguments */
	int status_pipe[2];	/* child -> runtime: setup failed, exit with this status */
	pid_t pid;		/* the container's PID 1, as the host sees it */
	const char *rootfs;	/* the directory that becomes the container's / */
	int sync_pipe[2];	/* runtime -> child: the host side is ready, go on */
	long long memory;	/* memory.max in bytes */
	double cpus;		/* cpu.max as a number of CPUs */
	long pids_limit;	/* pids.max */
	int cgroup_fd;		/* its cgroup's directory, for CLONE_INTO_CGROUP */
	struct in_addr ip;	/* the container's address; the host end is .1 */
};

/* In the child: its end of status_pipe, to tell the runtime why it failed. */
static int status_pipe = -1;

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
	if (status_pipe < 0)
		exit(status);	/* the runtime */
	if (write(status_pipe, &status, sizeof status) < 0)
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
	      "      --ip ADDR          the container's IPv4 address; the host end is .1 of its /24 (default: 10.200.0.2)\n"
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
	return limit;
}

/* The container gets ADDR/24; the host end of the cable gets .1 of the same
 * /24, so .0, .1 and .255 are not for the container. */
static struct in_addr parse_ip(const char *text)
{
	struct in_addr ip;
	unsigned int last;

	if (inet_pton(AF_INET, text, &ip) != 1)
		bad_option("--ip: '%s' is not an IPv4 address such as 10.200.0.2", text);
	last = ntohl(ip.s_addr) & 0xff;
	if (last < 2 || last > 254)
		bad_option("--ip: '%s' must end in 2 to 254 (.1 is the host's end)", text);
	return ip;
}

static void parse_options(int argc, char *argv[], struct container *c)
{
	/* One option per line, so that each step only adds lines. */
	enum {
		OPT_CPUS = 256,
		OPT_PIDS_LIMIT,
		OPT_IP,
	};
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "rootfs", required_argument, NULL, 'r' },
		{ "memory", required_argument, NULL, 'm' },
		{ "cpus", required_argument, NULL, OPT_CPUS },
		{ "pids-limit", required_argument, NULL, OPT_PIDS_LIMIT },
		{ "ip", required_argument, NULL, OPT_IP },
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
		case OPT_IP:
			c->ip = parse_ip(optarg);
			break;
		case ':':
			fail(EXIT_RUNTIME_FAILED, "option '%s' needs a value (see %s --help)",
			     argv[optind - 1], program_invocation_name);
		default:
			fail(EXIT_RUNTIME_FAILED, "unknown option '%s' (see %s --help)",
			     argv[optind - 1], program_invocation_name);
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
	struct stat rootfs, host_root;

	if (c->rootfs == NULL)
		c->rootfs = default_rootfs();
	if (stat(c->rootfs, &rootfs) < 0)
		fail(EXIT_RUNTIME_FAILED, "rootfs %s: %s (make one with: make rootfs)", c->rootfs, strerror(errno));
	if (!S_ISDIR(rootfs.st_mode))
		fail(EXIT_RUNTIME_FAILED, "rootfs %s: not a directory", c->rootfs);
	if (stat("/", &host_root) < 0)
		fail(EXIT_RUNTIME_FAILED, "stat /: %s", strerror(errno));
	if (rootfs.st_dev == host_root.st_dev && rootfs.st_ino == host_root.st_ino)
		fail(EXIT_RUNTIME_FAILED, "rootfs %s is the host's own /: a container needs a root of its own",
		     c->rootfs);
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
	for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++)
		if (!has_word(controllers, needed[i]))
			fail(EXIT_RUNTIME_FAILED, "cgroup v2 controller '%s' is not available (%s has: %s); "
			     "see sudo make doctor", needed[i], CGROUP_ROOT, strtok(controllers, "\n"));
}

/* ---- Inside the container (the child) --------------------------------- */

/* If the runtime dies, even by SIGKILL, the kernel kills the container too. */
static void die_with_runtime(void)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		fail(EXIT_RUNTIME_FAILED, "prctl PR_SET_PDEATHSIG: %s", strerror(errno));
}

/* Block until the runtime has put the host side in place. */
static void wait_for_runtime(struct container *c)
{
	char go;
	ssize_t length;

	close(c->sync_pipe[1]);
	length = read(c->sync_pipe[0], &go, 1);
	if (length < 0)
		fail(EXIT_RUNTIME_FAILED, "read sync pipe: %s", strerror(errno));
	if (length == 0)
		_exit(EXIT_RUNTIME_FAILED);	/* the runtime gave up and said why */
	close(c->sync_pipe[0]);
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
		if (chmod(nodes[i].path, 0666) < 0)	/* mknod's mode is cut by the umask */
			fail(EXIT_RUNTIME_FAILED, "chmod /%s: %s", nodes[i].path, strerror(errno));
	}
	/* A new devpts instance: the container sees only its own terminals. */
	if (mkdir("dev/pts", 0755) < 0)
		fail(EXIT_RUNTIME_FAILED, "mkdir /dev/pts: %s", strerror(errno));
	if (mount("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620") < 0)
		fail(EXIT_RUNTIME_FAILED, "mount devpts on /dev/pts: %s", strerror(errno));
	for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
		if (symlink(links[i][0], links[i][1]) < 0)
			fail(EXIT_RUNTIME_FAILED, "symlink /%s: %s", links[i][1], strerror(errno));
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
}

/* ---- rtnetlink: what `ip` speaks to the kernel underneath -------------- */

struct netlink_request {
	struct nlmsghdr header;
	union {
		struct ifinfomsg link;
		struct ifaddrmsg address;
		struct rtmsg route;
	};
	char attributes[512];
};

static void netlink_start(struct netlink_request *request, int type, int flags, size_t body)
{
	memset(request, 0, sizeof *request);
	request->header.nlmsg_len = NLMSG_LENGTH(body);
	request->header.nlmsg_type = type;
	request->header.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
}

/* Append an attribute (type, length, value) at the end of the request. */
static struct rtattr *netlink_add(struct netlink_request *request, int type, const void *data, size_t length)
{
	struct rtattr *attribute = (struct rtattr *)((char *)request + NLMSG_ALIGN(request->header.nlmsg_len));

	if (NLMSG_ALIGN(request->header.nlmsg_len) + RTA_SPACE(length) > sizeof *request)
		fail(EXIT_RUNTIME_FAILED, "netlink request too long");
	attribute->rta_type = type;
	attribute->rta_len = RTA_LENGTH(length);
	if (length > 0)
		memcpy(RTA_DATA(attribute), data, length);
	request->header.nlmsg_len = NLMSG_ALIGN(request->header.nlmsg_len) + RTA_SPACE(length);
	return attribute;
}

/* A nested attribute holds the attributes added until netlink_end_nest. */
static void netlink_end_nest(struct netlink_request *request, struct rtattr *nest)
{
	nest->rta_len = (char *)request + request->header.nlmsg_len - (char *)nest;
}

/* Send one request and wait for the kernel's answer: 0 or an errno value. */
static int netlink_talk(struct netlink_request *request)
{
	struct {
		struct nlmsghdr header;
		struct nlmsgerr error;
	} answer;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	ssize_t length;

	if (fd < 0)
		return errno;
	if (send(fd, request, request->header.nlmsg_len, 0) < 0 ||
	    (length = recv(fd, &answer, sizeof answer, 0)) < 0) {
		int saved = errno;
		close(fd);
		return saved;
	}
	close(fd);
	if (length < (ssize_t)sizeof answer || answer.header.nlmsg_type != NLMSG_ERROR)
		return EPROTO;
	return -answer.error.error;
}

static void netlink_do(struct netlink_request *request, const char *what, const char *name)
{
	int error = netlink_talk(request);

	if (error != 0) {
		errno = error;
		fail(EXIT_RUNTIME_FAILED, "%s %s: %s", what, name, strerror(errno));
	}
}

static int interface_index(const char *name)
{
	unsigned int index = if_nametoindex(name);

	if (index == 0)
		fail(EXIT_RUNTIME_FAILED, "find interface %s: %s", name, strerror(errno));
	return (int)index;
}

/* ip link set NAME up */
static void link_up(const char *name)
{
	struct netlink_request request;

	netlink_start(&request, RTM_NEWLINK, 0, sizeof request.link);
	request.link.ifi_family = AF_UNSPEC;
	request.link.ifi_index = interface_index(name);
	request.link.ifi_flags = IFF_UP;
	request.link.ifi_change = IFF_UP;
	netlink_do(&request, "set up", name);
}

/* ip address add IP/24 dev NAME */
static void add_address(const char *name, struct in_addr ip)
{
	struct netlink_request request;

	netlink_start(&request, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, sizeof request.address);
	request.address.ifa_family = AF_INET;
	request.address.ifa_prefixlen = 24;
	request.address.ifa_scope = RT_SCOPE_UNIVERSE;
	request.address.ifa_index = interface_index(name);
	netlink_add(&request, IFA_LOCAL, &ip, sizeof ip);
	netlink_add(&request, IFA_ADDRESS, &ip, sizeof ip);
	netlink_do(&request, "add address to", name);
}

/* ip route add default via GATEWAY */
static void add_default_route(struct in_addr gateway)
{
	struct netlink_request request;

	netlink_start(&request, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, sizeof request.route);
	request.route.rtm_family = AF_INET;
	request.route.rtm_table = RT_TABLE_MAIN;
	request.route.rtm_protocol = RTPROT_BOOT;
	request.route.rtm_scope = RT_SCOPE_UNIVERSE;
	request.route.rtm_type = RTN_UNICAST;
	netlink_add(&request, RTA_GATEWAY, &gateway, sizeof gateway);
	netlink_do(&request, "add default route via", inet_ntoa(gateway));
}

/* The host's end of the cable is .1 in the container's /24. */
static struct in_addr host_ip(struct in_addr ip)
{
	struct in_addr host = { htonl((ntohl(ip.s_addr) & 0xffffff00) | 1) };

	return host;
}

/* Inside: lo and eth0 up, eth0 with its address, the host as the gateway. */
static void configure_container_network(struct container *c)
{
	link_up("lo");
	add_address(VETH_CONTAINER, c->ip);
	link_up(VETH_CONTAINER);
	add_default_route(host_ip(c->ip));
}

/* A shell runs background jobs with SIGINT ignored, and we blocked signals
 * around clone: the command starts with default dispositions, none blocked. */
static void reset_signals(void)
{
	sigset_t none;

	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP && signal(sig, SIG_DFL) == SIG_ERR && errno != EINVAL)
			fail(EXIT_RUNTIME_FAILED, "reset signal %d: %s", sig, strerror(errno));	/* EINVAL: reserved by libc */
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		fail(EXIT_RUNTIME_FAILED, "sigprocmask: %s", strerror(errno));
}

static void exec_command(char **argv)
{
	execvp(argv[0], argv);
	fail(errno == ENOENT || errno == ENOTDIR ? EXIT_NOT_FOUND : EXIT_CANNOT_INVOKE,
	     "cannot run %s: %s", argv[0], strerror(errno));
}

/* The child of clone3(): set up the container from the inside, then become
 * the command. Any failure here reaches the runtime over status_pipe. */
static void container_main(struct container *c)
{
	close(c->status_pipe[0]);
	status_pipe = c->status_pipe[1];
	die_with_runtime();
	wait_for_runtime(c);
	enter_rootfs(c->rootfs);
	configure_container_network(c);
	reset_signals();
	exec_command(c->argv);
}

/* ---- On the host (the runtime) ---------------------------------------- */

static char cgroup_dir[64];		/* for remove_cgroup at exit */
static char veth_host[IFNAMSIZ];	/* for remove_veth at exit */

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

/* The controllers must be enabled in the parent's cgroup.subtree_control for
 * our cgroup to have their files. The root cgroup is exempt from the "no
 * internal processes" rule, so enabling them there is always allowed. */
static void enable_controllers(void)
{
	static const char *const needed[] = { "+memory", "+cpu", "+pids" };
	char enabled[256];

	if (read_file(CGROUP_ROOT "/cgroup.subtree_control", enabled, sizeof enabled) < 0)
		fail(EXIT_RUNTIME_FAILED, "read %s/cgroup.subtree_control: %s", CGROUP_ROOT, strerror(errno));
	for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++)
		if (!has_word(enabled, needed[i] + 1) && write_file(CGROUP_ROOT, "cgroup.subtree_control", needed[i]) < 0)
			fail(EXIT_RUNTIME_FAILED, "enable %s in %s/cgroup.subtree_control: %s", needed[i] + 1,
			     CGROUP_ROOT, strerror(errno));
}

/* Wait (bounded) until no process is left in our cgroup: the kernel notifies
 * pollers of cgroup.events when "populated" changes. */
static void wait_until_empty(void)
{
	char path[128], events[256];
	struct pollfd changed;

	snprintf(path, sizeof path, "%s/cgroup.events", cgroup_dir);
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

/* At exit: kill whatever is left in the container's cgroup and remove it.
 * This runs at exit, so it warns instead of failing. */
static void remove_cgroup(void)
{
	if (write_file(cgroup_dir, "cgroup.kill", "1") < 0 && errno != ENOENT)
		fprintf(stderr, STEP_NAME ": write %s/cgroup.kill: %s\n", cgroup_dir, strerror(errno));
	wait_until_empty();
	for (int tries = 0; rmdir(cgroup_dir) < 0; tries++) {
		if (errno != EBUSY || tries == 20) {
			fprintf(stderr, STEP_NAME ": remove %s: %s (sudo make reset cleans up)\n",
				cgroup_dir, strerror(errno));
			return;
		}
		wait_until_empty();	/* busy: the last task is still leaving */
	}
}

/* The container's cgroup, CGROUP_ROOT/ws-<runtime PID>, with its limits. */
static void create_cgroup(struct container *c)
{
	char value[64];

	enable_controllers();
	snprintf(cgroup_dir, sizeof cgroup_dir, "%s/%s%d", CGROUP_ROOT, CGROUP_PREFIX, (int)getpid());
	if (mkdir(cgroup_dir, 0755) < 0)
		fail(EXIT_RUNTIME_FAILED, "mkdir %s: %s", cgroup_dir, strerror(errno));
	if (atexit(remove_cgroup) != 0)
		fail(EXIT_RUNTIME_FAILED, "atexit: cannot register the cgroup's removal");
	c->cgroup_fd = open(cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->cgroup_fd < 0)
		fail(EXIT_RUNTIME_FAILED, "open %s: %s", cgroup_dir, strerror(errno));
	snprintf(value, sizeof value, "%lld", c->memory);
	set_limit("memory.max", value);
	/* Without swap the OOM killer acts at memory.max instead of swapping. */
	if (write_file(cgroup_dir, "memory.swap.max", "0") < 0 && errno != ENOENT)
		fail(EXIT_RUNTIME_FAILED, "write 0 to %s/memory.swap.max: %s", cgroup_dir, strerror(errno));
	snprintf(value, sizeof value, "%lld %d", (long long)(c->cpus * CPU_PERIOD_US + 0.5), CPU_PERIOD_US);
	set_limit("cpu.max", value);
	snprintf(value, sizeof value, "%ld", c->pids_limit);
	set_limit("pids.max", value);
}

/* At exit: deleting the host end deletes the pair. The kernel would also
 * remove it once the container's network namespace is gone, but only after
 * run has returned. The delete waits for an RCU grace period (rcu_barrier in
 * the kernel): most of what step05 adds to make bench's times. */
static void remove_veth(void)
{
	struct netlink_request request;
	int error;

	netlink_start(&request, RTM_DELLINK, 0, sizeof request.link);
	request.link.ifi_family = AF_UNSPEC;
	netlink_add(&request, IFLA_IFNAME, veth_host, strlen(veth_host) + 1);
	error = netlink_talk(&request);
	if (error != 0 && error != ENODEV)
		fprintf(stderr, STEP_NAME ": delete %s: %s (sudo make reset cleans up)\n", veth_host, strerror(error));
}

/* ip link add ws-A.B.C type veth peer name eth0 netns <container PID>:
 * one end on the host, the other created directly inside the container. */
static void create_veth(struct container *c)
{
	struct netlink_request request;
	struct rtattr *linkinfo, *data, *peer;
	struct ifinfomsg peer_link = { .ifi_family = AF_UNSPEC };
	uint32_t ip = ntohl(c->ip.s_addr), netns_pid = (uint32_t)c->pid;
	int error;

	snprintf(veth_host, sizeof veth_host, "%s%u.%u.%u", VETH_PREFIX, ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff);
	netlink_start(&request, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof request.link);
	request.link.ifi_family = AF_UNSPEC;
	netlink_add(&request, IFLA_IFNAME, veth_host, strlen(veth_host) + 1);
	linkinfo = netlink_add(&request, IFLA_LINKINFO, NULL, 0);
	netlink_add(&request, IFLA_INFO_KIND, "veth", sizeof "veth");
	data = netlink_add(&request, IFLA_INFO_DATA, NULL, 0);
	peer = netlink_add(&request, VETH_INFO_PEER, &peer_link, sizeof peer_link);
	netlink_add(&request, IFLA_IFNAME, VETH_CONTAINER, sizeof VETH_CONTAINER);
	netlink_add(&request, IFLA_NET_NS_PID, &netns_pid, sizeof netns_pid);
	netlink_end_nest(&request, peer);
	netlink_end_nest(&request, data);
	netlink_end_nest(&request, linkinfo);
	error = netlink_talk(&request);
	if (error == EEXIST)
		fail(EXIT_RUNTIME_FAILED, "create veth %s: %s: another container uses %u.%u.%u.0/24; choose another --ip",
		     veth_host, strerror(error), ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff);
	if (error != 0) {
		errno = error;
		fail(EXIT_RUNTIME_FAILED, "create veth %s: %s", veth_host, strerror(errno));
	}
	if (atexit(remove_veth) != 0)
		fail(EXIT_RUNTIME_FAILED, "atexit: cannot register the veth's removal");
	add_address(veth_host, host_ip(c->ip));
	link_up(veth_host);
}

/* Let the child go on: the host side is ready. */
static void release_container(struct container *c)
{
	if (write(c->sync_pipe[1], "g", 1) != 1)
		fail(EXIT_RUNTIME_FAILED, "write sync pipe: %s", strerror(errno));
	close(c->sync_pipe[1]);
}

static pid_t container_pid;			/* for the signal handlers */
static volatile sig_atomic_t forwarded_signal;	/* what the runtime was sent */

/* Signals sent to the runtime are passed on to the container. Ctrl-C and
 * Ctrl-\ typed at the terminal (si_code SI_KERNEL) go to the terminal's
 * whole foreground process group, the container's program included, so the
 * runtime lets them be. (A PID 1 without a handler ignores them, as under
 * docker run without --init.) */
static void forward_signal(int sig, siginfo_t *info, void *context)
{
	int saved = errno;

	(void)context;
	if ((sig == SIGINT || sig == SIGQUIT) && info->si_code == SI_KERNEL)
		return;
	forwarded_signal = sig;
	kill(container_pid, sig);
	alarm(GRACE_SECONDS);
	errno = saved;
}

/* PID 1 of a namespace ignores every signal it has no handler for, even
 * SIGTERM: when the grace period is over, SIGKILL, which it cannot ignore. */
static void kill_container(int sig)
{
	int saved = errno;

	(void)sig;
	kill(container_pid, SIGKILL);
	errno = saved;
}

static const int forwarded_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

/* Hold these signals until the handlers know the container's PID. */
static void block_signals(sigset_t *set)
{
	sigemptyset(set);
	for (size_t i = 0; i < sizeof forwarded_signals / sizeof forwarded_signals[0]; i++)
		sigaddset(set, forwarded_signals[i]);
	if (sigprocmask(SIG_BLOCK, set, NULL) < 0)
		fail(EXIT_RUNTIME_FAILED, "sigprocmask: %s", strerror(errno));
}

static void forward_signals(pid_t pid, const sigset_t *set)
{
	struct sigaction forward = { .sa_sigaction = forward_signal, .sa_flags = SA_SIGINFO | SA_RESTART };
	struct sigaction timeout = { .sa_handler = kill_container, .sa_flags = SA_RESTART };

	container_pid = pid;
	for (size_t i = 0; i < sizeof forwarded_signals / sizeof forwarded_signals[0]; i++)
		if (sigaction(forwarded_signals[i], &forward, NULL) < 0)
			fail(EXIT_RUNTIME_FAILED, "sigaction: %s", strerror(errno));
	if (sigaction(SIGALRM, &timeout, NULL) < 0)
		fail(EXIT_RUNTIME_FAILED, "sigaction: %s", strerror(errno));
	if (sigprocmask(SIG_UNBLOCK, set, NULL) < 0)
		fail(EXIT_RUNTIME_FAILED, "sigprocmask: %s", strerror(errno));
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
	/* O_CLOEXEC: a successful exec closes the child's end, which is how the
	 * runtime knows that setup went well. */
	if (pipe2(c->status_pipe, O_CLOEXEC) < 0)
		fail(EXIT_RUNTIME_FAILED, "pipe: %s", strerror(errno));
	if (pipe2(c->sync_pipe, O_CLOEXEC) < 0)
		fail(EXIT_RUNTIME_FAILED, "pipe: %s", strerror(errno));
	pid = syscall(SYS_clone3, &args, sizeof args);	/* glibc has no clone3() wrapper */
	if (pid < 0)
		fail(EXIT_RUNTIME_FAILED, "clone3: %s", strerror(errno));
	if (pid == 0)
		container_main(c);	/* the child: it execs the command or exits */
	c->pid = pid;
	close(c->status_pipe[1]);
	close(c->sync_pipe[0]);
}

/* Wait for PID 1 to exit and turn what happened into the exit status.
 * WNOWAIT leaves it a zombie until the runtime exits, so its PID cannot be
 * reused by another process while a late signal handler might kill() it. */
static int wait_for_container(struct container *c)
{
	siginfo_t exited;
	int reported;
	ssize_t length;

	while (waitid(P_PID, c->pid, &exited, WEXITED | WNOWAIT) < 0)
		if (errno != EINTR)
			fail(EXIT_RUNTIME_FAILED, "waitid: %s", strerror(errno));
	length = read(c->status_pipe[0], &reported, sizeof reported);
	if (length < 0)
		fail(EXIT_RUNTIME_FAILED, "read status pipe: %s", strerror(errno));
	if (length == sizeof reported)
		return reported;	/* setup failed inside; the child said why */
	if (forwarded_signal)
		return 128 + forwarded_signal;
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
		.ip = { htonl(0x0ac80002) },	/* 10.200.0.2 */
	};
	sigset_t signals;

	parse_options(argc, argv, &c);
	require_root();
	check_rootfs(&c);
	check_cgroup_v2();
	block_signals(&signals);	/* held, not lost: forwarded once the container runs */
	create_cgroup(&c);
	start_container(&c);
	forward_signals(c.pid, &signals);
	create_veth(&c);
	release_container(&c);
	return wait_for_container(&c);	/* exit() then runs the cleanups registered with atexit */
}
