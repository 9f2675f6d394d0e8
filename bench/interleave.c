/* Times commands in rounds: one run of each per round, the order reversed every other
 * round, so drift in a noisy machine (other tenants, a VM's neighbours, page reclaim)
 * lands on every command alike and the ratios between them stay fair.
 *
 *   interleave RUNS WARMUP 'cmd args' 'cmd args' ...
 *
 * Each command is split on spaces and run with execv (no shell), stdout to /dev/null.
 * Prints one line per command: median min max mean, in milliseconds of wall time from
 * fork to reaped exit. Exits 1 if any run of any command fails. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One run; returns its wall time, or -1 when it did not exit 0. */
static double run_once(char **argv, int devnull) {
    double start = now_ms();
    pid_t pid = fork();
    if (pid == 0) {
        dup2(devnull, 1);
        execv(argv[0], argv);
        _exit(127);
    }
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid) return -1;
    double took = now_ms() - start;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? took : -1;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: interleave RUNS WARMUP 'cmd args' ...\n");
        return 2;
    }
    int runs = atoi(argv[1]), warmup = atoi(argv[2]), n = argc - 3;
    char ***cmds = calloc(n, sizeof *cmds);
    double *times = calloc((size_t)n * runs, sizeof *times);
    for (int c = 0; c < n; c++) {
        cmds[c] = calloc(strlen(argv[c + 3]) / 2 + 2, sizeof **cmds);
        int k = 0;
        for (char *word = strtok(strdup(argv[c + 3]), " "); word; word = strtok(NULL, " ")) cmds[c][k++] = word;
    }
    int devnull = open("/dev/null", O_WRONLY);
    for (int r = 0; r < warmup; r++)
        for (int c = 0; c < n; c++) run_once(cmds[c], devnull);
    for (int r = 0; r < runs; r++) {
        for (int i = 0; i < n; i++) {
            int c = r % 2 ? n - 1 - i : i;
            double t = run_once(cmds[c], devnull);
            if (t < 0) {
                fprintf(stderr, "interleave: '%s' failed\n", argv[c + 3]);
                return 1;
            }
            times[(size_t)c * runs + r] = t;
        }
    }
    for (int c = 0; c < n; c++) {
        double *t = times + (size_t)c * runs, sum = 0;
        for (int r = 0; r < runs; r++) sum += t[r];
        qsort(t, runs, sizeof *t, by_value);
        double median = runs % 2 ? t[runs / 2] : (t[runs / 2 - 1] + t[runs / 2]) / 2;
        printf("%.3f %.3f %.3f %.3f\n", median, t[0], t[runs - 1], sum / runs);
    }
    return 0;
}
