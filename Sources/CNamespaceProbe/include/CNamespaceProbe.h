// Thin wrappers for what Swift's Glibc module does not import: _GNU_SOURCE functions,
// variadic calls (syscall, prctl) and kernel constants. Nothing else lives here.
//
// _GNU_SOURCE is deliberately not defined: it changes glibc's struct layouts (fd_set) and
// clashes with the Glibc/Dispatch modules. The few GNU functions are declared instead.
#ifndef CNAMESPACEPROBE_H
#define CNAMESPACEPROBE_H

#include <sys/types.h>
extern int unshare(int flags);
extern int setresuid(uid_t r, uid_t e, uid_t s);
extern int setresgid(gid_t r, gid_t e, gid_t s);
extern int getresuid(uid_t *r, uid_t *e, uid_t *s);
extern int pipe2(int fds[2], int flags);

#include <sched.h>
#include <unistd.h>
#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/mount.h>
#include <sys/klog.h>
#include <sys/wait.h>
#include <sys/ptrace.h>
#include <grp.h>
#include <net/if.h>
#include <linux/netlink.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/audit.h>
#include <stddef.h>

// Namespace flags are NamespaceKind.cloneFlag on the Swift side (linux/sched.h values).

static const int cnp_NETLINK_ROUTE = NETLINK_ROUTE;

static inline int cnp_pipe2_cloexec(int fds[2]) { return pipe2(fds, 02000000 /* O_CLOEXEC */); }
static const int cnp_O_PATH = 010000000;  // asm-generic value (x86_64, aarch64)


static inline int cnp_unshare(unsigned long flags) { return unshare((int)flags); }

static inline int cnp_prctl(int option, unsigned long a2, unsigned long a3,
                            unsigned long a4, unsigned long a5) {
    return prctl(option, a2, a3, a4, a5);
}

static inline int cnp_pivot_root(const char *new_root, const char *put_old) {
    return (int)syscall(SYS_pivot_root, new_root, put_old);
}

// setres[ug]id and getresuid are _GNU_SOURCE declarations.
static inline int cnp_setresuid(uid_t r, uid_t e, uid_t s) { return setresuid(r, e, s); }
static inline int cnp_setresgid(gid_t r, gid_t e, gid_t s) { return setresgid(r, e, s); }
static inline int cnp_getresuid(uid_t *r, uid_t *e, uid_t *s) { return getresuid(r, e, s); }
static inline int cnp_setgroups_empty(void) { return setgroups(0, NULL); }
static inline long cnp_ptrace_traceme(void) { return ptrace(PTRACE_TRACEME, 0, NULL, NULL); }
static inline long cnp_ptrace_detach(pid_t pid, int sig) { return ptrace(PTRACE_DETACH, pid, NULL, (void *)(long)sig); }
static inline long cnp_ptrace_cont(pid_t pid, int sig) { return ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig); }

static inline long cnp_getppid_syscall(void) { return syscall(SYS_getppid); }

// capget(2): version 3 has two 32-bit words per set.
static inline int cnp_capget(unsigned int out_effective[2], unsigned int out_permitted[2],
                             unsigned int out_inheritable[2]) {
    struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2] = {{0}};
    int rc = (int)syscall(SYS_capget, &header, data);
    if (rc == 0) {
        for (int i = 0; i < 2; i++) {
            out_effective[i] = data[i].effective;
            out_permitted[i] = data[i].permitted;
            out_inheritable[i] = data[i].inheritable;
        }
    }
    return rc;
}

// seccomp(2) and the one filter the probe installs in a child: getppid fails with EPERM,
// everything else is allowed. The architecture is checked first so a foreign-ABI syscall
// number can never be misread.
static inline int cnp_seccomp_get_action_avail(unsigned int action) {
    return (int)syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action);
}

#if defined(__x86_64__)
#define CNP_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define CNP_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

static inline int cnp_seccomp_install_getppid_eperm(unsigned int flags) {
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, CNP_AUDIT_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { (unsigned short)(sizeof(code) / sizeof(code[0])), code };
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

// An allow-all filter installed with NEW_LISTENER: returns the listener fd where the kernel
// supports seccomp user notification.
static inline int cnp_seccomp_install_listener(void) {
    struct sock_filter code[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
    struct sock_fprog prog = { 1, code };
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
}
static const unsigned int cnp_SECCOMP_RET_USER_NOTIF = SECCOMP_RET_USER_NOTIF;

// Landlock (ABI 1 file-system rights are enough to prove enforcement).
static const unsigned long long cnp_LANDLOCK_ACCESS_FS_READ_FILE = 1ULL << 2;
static const unsigned long long cnp_LANDLOCK_ACCESS_FS_READ_DIR = 1ULL << 3;

static inline int cnp_landlock_abi_version(void) {
#ifdef SYS_landlock_create_ruleset
    return (int)syscall(SYS_landlock_create_ruleset, NULL, 0, 1U << 0);
#else
    errno = ENOSYS; return -1;
#endif
}

struct cnp_landlock_ruleset_attr { unsigned long long handled_access_fs; };
struct cnp_landlock_path_beneath_attr {
    unsigned long long allowed_access;
    int parent_fd;
} __attribute__((packed));

static inline int cnp_landlock_create_ruleset(unsigned long long handled) {
    struct cnp_landlock_ruleset_attr attr = { handled };
    return (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
}
static inline int cnp_landlock_add_path_rule(int ruleset_fd, int parent_fd, unsigned long long allowed) {
    struct cnp_landlock_path_beneath_attr attr = { allowed, parent_fd };
    return (int)syscall(SYS_landlock_add_rule, ruleset_fd, 1 /* LANDLOCK_RULE_PATH_BENEATH */, &attr, 0);
}
static inline int cnp_landlock_restrict_self(int ruleset_fd) {
    return (int)syscall(SYS_landlock_restrict_self, ruleset_fd, 0);
}

static inline int cnp_klog_read_all(char *buf, int len) { return klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, len); }

// probe verify: tenant B's ptrace attack (SEIZE does not stop the target).
static inline long cnp_ptrace_seize(pid_t pid) { return ptrace(0x4206 /* PTRACE_SEIZE */, pid, NULL, NULL); }
static inline long cnp_ptrace_interrupt(pid_t pid) { return ptrace(0x4207 /* PTRACE_INTERRUPT */, pid, NULL, NULL); }

// wait status decoding (macros in C).
static inline int cnp_wifexited(int s) { return WIFEXITED(s); }
static inline int cnp_wexitstatus(int s) { return WEXITSTATUS(s); }
static inline int cnp_wifsignaled(int s) { return WIFSIGNALED(s); }
static inline int cnp_wtermsig(int s) { return WTERMSIG(s); }
static inline int cnp_wifstopped(int s) { return WIFSTOPPED(s); }
static inline int cnp_wstopsig(int s) { return WSTOPSIG(s); }

#endif
