/*
 * The classic chroot escape, for tests/faults.bats: chroot into a
 * subdirectory while the working directory stays outside it, climb out with
 * "..", and chroot to where we ended up. Against a plain chroot this reaches
 * the host's real root; inside a container made with pivot_root and the old
 * root detached, there is nothing above the container's root to climb to.
 *
 * Usage: chroot_escape PATH — exit 0 if PATH exists after the escape, 1 if
 * not, 2 if a step failed. Built static so it runs in any rootfs.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char *argv[])
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s PATH\n", argv[0]);
		return 2;
	}
	if (mkdir("/escape-dir", 0700) < 0 && errno != EEXIST) {
		perror("mkdir /escape-dir");
		return 2;
	}
	if (chdir("/") < 0 || chroot("/escape-dir") < 0) {	/* cwd is now outside the root */
		perror("chroot /escape-dir");
		return 2;
	}
	for (int i = 0; i < 256; i++)
		if (chdir("..") < 0) {
			perror("chdir ..");
			return 2;
		}
	if (chroot(".") < 0) {
		perror("chroot .");
		return 2;
	}
	return access(argv[1], F_OK) == 0 ? 0 : 1;
}
