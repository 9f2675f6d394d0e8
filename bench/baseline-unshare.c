// Baseline B (the floor): one child per namespace kind, in parallel, each calls unshare(2)
// and exits with its result. Nothing is verified.
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    const int flags[] = {CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNS, CLONE_NEWNET,
                         CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWCGROUP, 0x00000080 /* CLONE_NEWTIME */};
    const char *names[] = {"user", "pid", "mnt", "net", "ipc", "uts", "cgroup", "time"};
    pid_t pids[8];
    for (int i = 0; i < 8; i++) {
        pids[i] = fork();
        if (pids[i] == 0) _exit(unshare(flags[i]) == 0 ? 0 : 1);
    }
    for (int i = 0; i < 8; i++) {
        int status = 0;
        waitpid(pids[i], &status, 0);
        printf("%s %s\n", names[i], WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "ok" : "failed");
    }
    return 0;
}
