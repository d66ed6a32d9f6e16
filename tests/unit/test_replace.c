/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_replace.c - src/cli/replace.c: a file replaced whole or not at all.
 * The temporary file's name; a commit replaces the target's content and
 * keeps its mode; an abort (before or after writing) leaves the target
 * byte for byte and no temporary file; a symbolic link replaces the file
 * it names; a dangling link is refused; SIGINT, SIGTERM and SIGHUP in a
 * pending replacement (in a child) remove the temporary file, print one
 * line and exit 128 + the signal, an ignored one stays ignored; after a
 * commit the handlers are the ones the process had before.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/replace.h"
#include "tap.h"

static char dir[1024];

static char *in_dir(const char *name)
{
	static char buf[4][PATH_MAX];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, name);
	return buf[k];
}

static int write_file(const char *path, const char *content, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	size_t n = strlen(content);

	if (fd < 0)
		return -errno;
	if (write(fd, content, n) != (ssize_t)n) {
		close(fd);
		return -EIO;
	}
	fchmod(fd, mode);
	return close(fd) ? -errno : 0;
}

/* The file's content ("" when absent, up to 255 bytes). */
static const char *content(const char *path)
{
	static char buf[256];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	buf[0] = '\0';
	if (fd < 0)
		return "(absent)";
	n = read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
	return buf;
}

/* Entries of dir whose name has ".memsync-" in it. */
static int temps(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += strstr(e->d_name, ".memsync-") != NULL;
	closedir(d);
	return n;
}

static void test_name(void)
{
	char long_name[400], *t;

	t = replace_tmp_name("/a/b/file.img", "XXXXXX");
	is_str(t, "/a/b/.file.img.memsync-XXXXXX", "the temporary file sits next to the target");
	free(t);
	t = replace_tmp_name("file.img", "abcdef");
	is_str(t, "./.file.img.memsync-abcdef", "a bare name: in the current directory");
	free(t);
	memset(long_name, 'n', 255);
	long_name[255] = '\0';
	t = replace_tmp_name(long_name, "abcdef");
	ok(t && strlen(t) - 2 <= NAME_MAX, "a name of NAME_MAX bytes: the temporary name fits");
	ok(t && strstr(t, ".memsync-abcdef"), "and keeps its mark");
	free(t);
}

static void test_commit_abort(void)
{
	const char *what = "";
	struct replace rp;
	struct stat sb;
	int ret;

	is_int(write_file(in_dir("t1"), "old", 0640), 0, "an existing file");
	ret = replace_begin(&rp, in_dir("t1"), "test", &what);
	is_int(ret, 0, "begin");
	is_int(temps(), 1, "a temporary file exists while the replacement is pending");
	ok(write(rp.fd, "new content", 11) == 11, "write the new content");
	is_str(content(in_dir("t1")), "old", "the target is untouched while pending");
	is_int(replace_commit(&rp, &what), 0, "commit");
	is_str(content(in_dir("t1")), "new content", "after the commit the target has the new content");
	is_int(temps(), 0, "no temporary file after the commit");
	ok(stat(in_dir("t1"), &sb) == 0 && (sb.st_mode & 07777) == 0640,
	   "the replaced file keeps its mode (0640)");
	replace_abort(&rp);
	is_str(content(in_dir("t1")), "new content", "an abort after a commit changes nothing");

	ret = replace_begin(&rp, in_dir("t1"), "test", &what);
	is_int(ret, 0, "begin again");
	ok(write(rp.fd, "partial", 7) == 7, "write part of a new content");
	replace_abort(&rp);
	is_str(content(in_dir("t1")), "new content", "an abort leaves the target byte for byte");
	is_int(temps(), 0, "and no temporary file");
	replace_abort(&rp);     /* a second abort: nothing left to free (ASan) */

	ret = replace_begin(&rp, in_dir("t2"), "test", &what);
	is_int(ret, 0, "begin on a new file");
	replace_abort(&rp);
	ok(access(in_dir("t2"), F_OK) < 0 && errno == ENOENT, "an aborted new file is not created");

	is_int(write_file(in_dir("target"), "old", 0600), 0, "a file named by a link");
	ok(symlink("target", in_dir("link")) == 0, "the link");
	ret = replace_begin(&rp, in_dir("link"), "test", &what);
	is_int(ret, 0, "begin on the link");
	ok(write(rp.fd, "via link", 8) == 8, "write");
	is_int(replace_commit(&rp, &what), 0, "commit");
	ok(lstat(in_dir("link"), &sb) == 0 && S_ISLNK(sb.st_mode), "the link stays a link");
	is_str(content(in_dir("target")), "via link", "the file it names has the new content");

	ok(symlink("nowhere", in_dir("dangling")) == 0, "a dangling link");
	ret = replace_begin(&rp, in_dir("dangling"), "test", &what);
	is_int(ret, -ENOENT, "begin on a dangling link: -ENOENT");
	is_int(temps(), 0, "and no temporary file");

	ret = replace_begin(&rp, in_dir("no-such-dir/f"), "test", &what);
	is_int(ret, -ENOENT, "begin in a missing directory: -ENOENT");
	is_str(what, "create a temporary file next to", "the failed step is named");
}

/* A child with a pending replacement raises sig (ignored there first when
 * ignore): its exit status (97 when it went on), its stderr in err. */
static int interrupted(int sig, bool ignore, const char *target, char *err, size_t errlen)
{
	int pfd[2], status = -1;
	pid_t pid;
	ssize_t n;

	if (pipe(pfd) < 0)
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct replace rp;
		const char *what;

		dup2(pfd[1], STDERR_FILENO);
		close(pfd[0]);
		/* whatever the test inherited (make run in the background
		 * ignores SIGINT) */
		signal(sig, ignore ? SIG_IGN : SIG_DFL);
		if (replace_begin(&rp, target, "test", &what))
			_exit(99);
		if (write(rp.fd, "partial", 7) != 7)
			_exit(98);
		raise(sig);
		replace_abort(&rp);     /* an ignored signal: it goes on */
		_exit(97);
	}
	close(pfd[1]);
	n = read(pfd[0], err, errlen - 1);
	err[n > 0 ? n : 0] = '\0';
	close(pfd[0]);
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status);
}

static void test_signals(void)
{
	static const struct {
		int sig, want;
		const char *name;
	} cases[] = { { SIGINT, 130, "SIGINT" }, { SIGTERM, 143, "SIGTERM" },
		      { SIGHUP, 129, "SIGHUP" } };
	char err[512], want[PATH_MAX + 64];

	is_int(write_file(in_dir("s1"), "old", 0644), 0, "an existing file");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		is_int(interrupted(cases[i].sig, false, in_dir("s1"), err, sizeof(err)),
		       cases[i].want,
		       "%s in a pending replacement: exit %d", cases[i].name, cases[i].want);
		snprintf(want, sizeof(want), "memsync: test: interrupted; '%s' left unchanged\n",
			 in_dir("s1"));
		is_str(err, want, "%s: one line says the file is unchanged", cases[i].name);
		is_str(content(in_dir("s1")), "old", "%s: the file is byte for byte as it was",
		       cases[i].name);
		is_int(temps(), 0, "%s: no temporary file left", cases[i].name);
	}
	is_int(interrupted(SIGINT, false, in_dir("s2"), err, sizeof(err)), 130,
	       "SIGINT in a pending replacement of a new file: exit 130");
	snprintf(want, sizeof(want), "memsync: test: interrupted; '%s' not created\n", in_dir("s2"));
	is_str(err, want, "the line says the file was not created");
	ok(access(in_dir("s2"), F_OK) < 0, "and it was not");
	is_int(temps(), 0, "no temporary file left");
	is_int(interrupted(SIGHUP, true, in_dir("s1"), err, sizeof(err)), 97,
	       "SIGHUP ignored when the replacement began (nohup): it stays ignored");
	is_str(err, "", "and nothing is printed");
	is_str(content(in_dir("s1")), "old", "the aborted replacement left the file as it was");
	is_int(temps(), 0, "no temporary file left");
}

static void own_handler(int sig)
{
	(void)sig;
}

/* After a commit the process has its old handlers back. */
static void test_handlers_restored(void)
{
	struct sigaction sa = { .sa_handler = own_handler }, got;
	struct replace rp;
	const char *what;

	sigaction(SIGTERM, &sa, NULL);
	if (replace_begin(&rp, in_dir("h1"), "test", &what) == 0) {
		sigaction(SIGTERM, NULL, &got);
		ok(got.sa_handler != own_handler && got.sa_handler != SIG_DFL &&
		   got.sa_handler != SIG_IGN, "pending: SIGTERM has the replacement's handler");
		is_int(replace_commit(&rp, &what), 0, "commit");
	} else {
		ok(0, "begin");
	}
	sigaction(SIGTERM, NULL, &got);
	ok(got.sa_handler == own_handler, "after the commit: the handler SIGTERM had before");
	sa.sa_handler = SIG_DFL;
	sigaction(SIGTERM, &sa, NULL);
}

static void cleanup(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("cannot remove %s", dir);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/test_replace.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp: %s", strerror(errno));
		return tap_done();
	}
	test_name();
	test_commit_abort();
	test_signals();
	test_handlers_restored();
	cleanup();
	return tap_done();
}
