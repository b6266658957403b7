/*
 * A container runtime, built one isolation feature at a time.
 *
 *   step01_pid     a PID namespace: the command is PID 1
 *
 * Usage: sudo ./stepNN_x/run [OPTIONS] [--] [COMMAND [ARG...]]   (see --help)
 *
 * Exit status, as docker run: the command's own status, 128+N if it died of
 * signal N, 125 if the runtime failed, 126 if the command cannot be invoked,
 * 127 if it was not found.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define STEP_NAME "step01_pid"

/* Exit statuses of the runtime itself, as docker run uses them. */
#define EXIT_RUNTIME_FAILED 125
#define EXIT_CANNOT_INVOKE 126
#define EXIT_NOT_FOUND 127

#define GRACE_SECONDS 2		/* after a forwarded signal, before SIGKILL */

struct container {
	char **argv;		/* the command and its arguments */
	int status_pipe[2];	/* child -> runtime: 0 = about to exec, else a failure's exit status */
	pid_t pid;		/* the container's PID 1, as the host sees it */
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
	      "\n"
	      "Exit status: the command's own; 128+N if it died of signal N;\n"
	      "125 the runtime failed; 126 COMMAND cannot be invoked; 127 COMMAND not found.\n", out);
}

static void parse_options(int argc, char *argv[], struct container *c)
{
	/* One option per line, so that each step only adds lines. */
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	/* '+': stop at the first non-option, so "run ls -l" needs no "--";
	 * ':': report a missing value as ':' rather than printing for us. */
	static const char short_options[] =
		"+:h"
		;
	int option;

	opterr = 0;	/* our messages, prefixed like every other */
	while ((option = getopt_long(argc, argv, short_options, options, NULL)) != -1) {
		switch (option) {
		case 'h':
			usage(stdout);
			exit(0);
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

/* Started with fd 0, 1 or 2 closed, the runtime's first pipe would get that
 * number, and the container's output would go into the pipe. /dev/null
 * takes each closed one first, as runc and crun do. */
static void open_stdio(void)
{
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			fail(EXIT_RUNTIME_FAILED, "open /dev/null as fd %d: %s", fd, strerror(errno));
}

/* ---- Inside the container (the child) --------------------------------- */

/* If the runtime dies, even by SIGKILL, the kernel kills the container too.
 * That holds only from prctl on: a runtime that died before has closed its
 * end of status_pipe, which poll reports on ours as POLLERR. A command that
 * changes its uid (setpriv, su-exec) loses the death signal; from step04 on,
 * make reset still finds it by its cgroup and kills it. */
static void die_with_runtime(void)
{
	struct pollfd runtime = { .fd = status_pipe, .events = POLLOUT };

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		fail(EXIT_RUNTIME_FAILED, "prctl PR_SET_PDEATHSIG: %s", strerror(errno));
	if (poll(&runtime, 1, 0) < 0)
		fail(EXIT_RUNTIME_FAILED, "poll status pipe: %s", strerror(errno));
	if (runtime.revents & POLLERR)
		_exit(EXIT_RUNTIME_FAILED);	/* the runtime is gone: nobody to tell */
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
	int setup_done = 0;

	/* Every fd but 0-2 closes at the exec: one the caller left open (run
	 * 3</) would be a way back to the host's files (runc's CVE-2024-21626). */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		fail(EXIT_RUNTIME_FAILED, "close_range: %s", strerror(errno));
	if (write(status_pipe, &setup_done, sizeof setup_done) != sizeof setup_done)
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
	status_pipe = c->status_pipe[1];
	die_with_runtime();
	reset_signals();
	exec_command(c->argv);
}

/* ---- On the host (the runtime) ---------------------------------------- */


static pid_t container_pid;			/* for the signal handlers */

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

/* A write to a pipe whose reader is gone (a child that died during setup)
 * must fail with EPIPE, which the runtime can report, instead of killing it
 * without a word. The child sets SIGPIPE back to default before the exec. */
static void ignore_sigpipe(void)
{
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		fail(EXIT_RUNTIME_FAILED, "ignore SIGPIPE: %s", strerror(errno));
}

/* Hold these signals until the command has started (wait_for_start): a
 * child still setting up is PID 1 without handlers, and would drop them. */
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
 * exits, so its PID cannot be reused by another process while a late signal
 * handler might kill() it. */
static siginfo_t wait_for_exit(struct container *c)
{
	siginfo_t exited;

	while (waitid(P_PID, c->pid, &exited, WEXITED | WNOWAIT) < 0)
		if (errno != EINTR)
			fail(EXIT_RUNTIME_FAILED, "waitid: %s", strerror(errno));
	return exited;
}

/* The child reports over status_pipe: 0 when setup is done and it is about
 * to exec, or the exit status of a failure it has explained on stderr. EOF
 * after the 0 means the exec succeeded (O_CLOEXEC closed the pipe); EOF
 * before it, that the child died during setup: then the command never ran,
 * and the runtime failed, whatever signal killed the child. */
static void wait_for_start(struct container *c)
{
	int reported, setup_done = 0;
	ssize_t length;
	siginfo_t exited;

	while ((length = read(c->status_pipe[0], &reported, sizeof reported)) == sizeof reported) {
		if (reported != 0) {
			wait_for_exit(c);
			exit(reported);	/* setup or exec failed inside; the child said why */
		}
		setup_done = 1;
	}
	if (length != 0)
		fail(EXIT_RUNTIME_FAILED, "read status pipe: %s", length < 0 ? strerror(errno) : "short read");
	if (setup_done)
		return;		/* the command runs */
	exited = wait_for_exit(c);
	if (exited.si_code == CLD_EXITED)
		fail(EXIT_RUNTIME_FAILED, "the container exited with status %d during setup", exited.si_status);
	fail(EXIT_RUNTIME_FAILED, "the container was killed by SIG%s during setup", sigabbrev_np(exited.si_status));
}

/* Turn how PID 1 ended into the exit status, as docker run does: its own
 * status, or 128+N if signal N killed it. A signal it caught, forwarded by
 * us or not, is its own business and shows only in the status it chose. */
static int wait_for_container(struct container *c)
{
	siginfo_t exited = wait_for_exit(c);

	if (exited.si_code == CLD_EXITED)
		return exited.si_status;
	return 128 + exited.si_status;	/* killed by signal si_status */
}

int main(int argc, char *argv[])
{
	static char *default_command[] = { "/bin/sh", NULL };
	struct container c = {
		.argv = default_command,
	};
	sigset_t signals;

	open_stdio();	/* before any pipe takes fd 0, 1 or 2 */
	parse_options(argc, argv, &c);
	require_root();
	ignore_sigpipe();
	block_signals(&signals);	/* held until the command has started, then forwarded */
	start_container(&c);
	wait_for_start(&c);
	forward_signals(c.pid, &signals);
	return wait_for_container(&c);	/* exit() then runs the cleanups registered with atexit */
}
