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
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <fcntl.h>

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

// seccomp(2): the tenant filter itself is built on the Swift side (TenantSeccompFilter).
static inline int cnp_seccomp_get_action_avail(unsigned int action) {
    return (int)syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action);
}

#if defined(__x86_64__)
#define CNP_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define CNP_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

// An allow-all filter installed with NEW_LISTENER: returns the listener fd where the kernel
// supports seccomp user notification.
static inline int cnp_seccomp_install_listener(void) {
    struct sock_filter code[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
    struct sock_fprog prog = { 1, code };
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
}
static const unsigned int cnp_SECCOMP_RET_USER_NOTIF = SECCOMP_RET_USER_NOTIF;


static inline int cnp_landlock_abi_version(void) {
#ifdef SYS_landlock_create_ruleset
    return (int)syscall(SYS_landlock_create_ruleset, NULL, 0, 1U << 0);
#else
    errno = ENOSYS; return -1;
#endif
}

struct cnp_landlock_path_beneath_attr {
    unsigned long long allowed_access;
    int parent_fd;
} __attribute__((packed));

static inline int cnp_landlock_add_path_rule(int ruleset_fd, int parent_fd, unsigned long long allowed) {
    struct cnp_landlock_path_beneath_attr attr = { allowed, parent_fd };
    return (int)syscall(SYS_landlock_add_rule, ruleset_fd, 1 /* LANDLOCK_RULE_PATH_BENEATH */, &attr, 0);
}
static inline int cnp_landlock_restrict_self(int ruleset_fd) {
    return (int)syscall(SYS_landlock_restrict_self, ruleset_fd, 0);
}

// Abstract unix sockets (unix(7)): the name lives in the network namespace, not on a file
// system, and vanishes with the last descriptor. `name` excludes the leading NUL.
static inline socklen_t cnp_abstract_address(const char *name, struct sockaddr_un *a) {
    memset(a, 0, sizeof(*a));
    a->sun_family = AF_UNIX;
    size_t n = strlen(name);
    if (n > sizeof(a->sun_path) - 1) n = sizeof(a->sun_path) - 1;
    memcpy(a->sun_path + 1, name, n);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}
// A listening socket (SOCK_CLOEXEC, backlog 64: every connect stays queued, unaccepted,
// until the socket is closed), or -1 with errno.
static inline int cnp_abstract_listen(const char *name) {
    struct sockaddr_un a;
    socklen_t len = cnp_abstract_address(name, &a);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (bind(fd, (struct sockaddr *)&a, len) < 0 || listen(fd, 64) < 0) {
        int e = errno; close(fd); errno = e; return -1;
    }
    return fd;
}
// connect(2) to the abstract name: 0 when connected, -1 with errno (ECONNREFUSED: no such
// listener in this network namespace). The socket is closed either way.
static inline int cnp_abstract_connect(const char *name) {
    struct sockaddr_un a;
    socklen_t len = cnp_abstract_address(name, &a);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int rc = connect(fd, (struct sockaddr *)&a, len);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
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

// ---- What the launcher needs beyond the probe (Sources/IsolationLauncher) ----

// openat2(2) (Linux 5.6): resolve a path without following any symlink, beneath a dirfd.
static const unsigned long long cnp_RESOLVE_NO_SYMLINKS = 0x04;
struct cnp_open_how { unsigned long long flags, mode, resolve; };
static inline int cnp_openat2(int dirfd, const char *path, unsigned long long flags, unsigned long long resolve) {
#ifdef SYS_openat2
    struct cnp_open_how how = { flags, 0, resolve };
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
#else
    errno = ENOSYS; return -1;
#endif
}
static const int cnp_AT_EMPTY_PATH = 0x1000;
static const int cnp_O_NOFOLLOW = 0400000;
static const int cnp_O_DIRECTORY = 0200000;

// close_range(2) (Linux 5.9; CLOSE_RANGE_CLOEXEC 5.11).
static const unsigned int cnp_CLOSE_RANGE_CLOEXEC = 1U << 2;
static inline int cnp_close_range(unsigned int first, unsigned int last, unsigned int flags) {
#ifdef SYS_close_range
    return (int)syscall(SYS_close_range, first, last, flags);
#else
    errno = ENOSYS; return -1;
#endif
}

// rlimits by number: Swift imports __rlimit_resource awkwardly.
static const int cnp_RLIMIT_NPROC = RLIMIT_NPROC;
static const int cnp_RLIMIT_NOFILE = RLIMIT_NOFILE;
static const int cnp_RLIMIT_FSIZE = RLIMIT_FSIZE;
static const int cnp_RLIMIT_AS = RLIMIT_AS;
static const int cnp_RLIMIT_CORE = RLIMIT_CORE;
static inline int cnp_setrlimit(int resource, unsigned long long soft, unsigned long long hard) {
    struct rlimit rl = { (rlim_t)soft, (rlim_t)hard };
    return setrlimit(resource, &rl);
}

// Signals the launcher takes through a signalfd instead of handlers.
static inline int cnp_signalfd_for(const int *signals, int count, sigset_t *out_mask) {
    sigemptyset(out_mask);
    for (int i = 0; i < count; i++) sigaddset(out_mask, signals[i]);
    if (sigprocmask(SIG_BLOCK, out_mask, NULL) != 0) return -1;
    return signalfd(-1, out_mask, SFD_CLOEXEC);
}
static inline int cnp_unblock_signals(const sigset_t *mask) { return sigprocmask(SIG_UNBLOCK, mask, NULL); }
static inline int cnp_signalfd_read(int fd, int *out_signal, int *out_pid) {
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof(info));
    if (n != (ssize_t)sizeof(info)) return -1;
    *out_signal = (int)info.ssi_signo;
    *out_pid = (int)info.ssi_pid;
    return 0;
}

static inline int cnp_flock_exclusive(int fd) { return flock(fd, LOCK_EX); }

// capset(2) with every set empty: the process keeps no capability.
static inline int cnp_capset_empty(void) {
    struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2] = {{0}};
    return (int)syscall(SYS_capset, &header, data);
}
static const int cnp_PR_CAP_AMBIENT = 47, cnp_PR_CAP_AMBIENT_CLEAR_ALL = 4, cnp_PR_CAPBSET_DROP = 24;
static const int cnp_PR_SET_CHILD_SUBREAPER = 36, cnp_PR_SET_DUMPABLE = 4;

// A seccomp program built on the Swift side (TenantSeccompFilter).
static inline int cnp_seccomp_install_program(const struct sock_filter *code, unsigned short count) {
    struct sock_fprog prog = { count, (struct sock_filter *)code };
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}
static const unsigned int cnp_AUDIT_ARCH_NATIVE = CNP_AUDIT_ARCH;
static const unsigned int cnp_seccomp_data_nr = offsetof(struct seccomp_data, nr);
static const unsigned int cnp_seccomp_data_arch = offsetof(struct seccomp_data, arch);
static const unsigned int cnp_seccomp_data_arg0_low = offsetof(struct seccomp_data, args[0]);
static const unsigned int cnp_seccomp_data_arg1_low = offsetof(struct seccomp_data, args[1]);
static inline long cnp_ioctl_tiocsti_probe(int fd) { char c = 0; return syscall(SYS_ioctl, fd, 0x5412 /* TIOCSTI */, &c); }

// Syscall numbers the tenant filter names (asm/unistd.h of this architecture).
static const int cnp_SYS_unshare = SYS_unshare, cnp_SYS_clone = SYS_clone, cnp_SYS_setns = SYS_setns,
    cnp_SYS_ioctl = SYS_ioctl, cnp_SYS_ptrace = SYS_ptrace, cnp_SYS_process_vm_readv = SYS_process_vm_readv,
    cnp_SYS_process_vm_writev = SYS_process_vm_writev, cnp_SYS_keyctl = SYS_keyctl, cnp_SYS_add_key = SYS_add_key,
    cnp_SYS_request_key = SYS_request_key, cnp_SYS_bpf = SYS_bpf, cnp_SYS_perf_event_open = SYS_perf_event_open,
    cnp_SYS_userfaultfd = SYS_userfaultfd, cnp_SYS_kexec_load = SYS_kexec_load, cnp_SYS_init_module = SYS_init_module,
    cnp_SYS_finit_module = SYS_finit_module, cnp_SYS_delete_module = SYS_delete_module,
    cnp_SYS_mount = SYS_mount, cnp_SYS_umount2 = SYS_umount2, cnp_SYS_pivot_root = SYS_pivot_root,
    cnp_SYS_swapon = SYS_swapon, cnp_SYS_swapoff = SYS_swapoff, cnp_SYS_reboot = SYS_reboot;
#ifdef SYS_clone3
static const int cnp_SYS_clone3 = SYS_clone3;
#else
static const int cnp_SYS_clone3 = 435;
#endif
#ifdef SYS_pidfd_getfd
static const int cnp_SYS_pidfd_getfd = SYS_pidfd_getfd;
#else
static const int cnp_SYS_pidfd_getfd = 438;
#endif
#ifdef SYS_kexec_file_load
static const int cnp_SYS_kexec_file_load = SYS_kexec_file_load;
#else
static const int cnp_SYS_kexec_file_load = -1;
#endif

// Landlock: the ruleset attribute with every field up to ABI 6 (LandlockRuleset picks the rights per ABI).
struct cnp_landlock_ruleset_attr_v6 {
    unsigned long long handled_access_fs;
    unsigned long long handled_access_net;
    unsigned long long scoped;
};
static inline int cnp_landlock_create_ruleset_full(unsigned long long fs, unsigned long long net, unsigned long long scoped) {
    struct cnp_landlock_ruleset_attr_v6 attr = { fs, net, scoped };
    return (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
}
struct cnp_landlock_net_port_attr { unsigned long long allowed_access; unsigned long long port; };
static inline int cnp_landlock_add_port_rule(int ruleset_fd, unsigned long long allowed, unsigned long long port) {
    struct cnp_landlock_net_port_attr attr = { allowed, port };
    return (int)syscall(SYS_landlock_add_rule, ruleset_fd, 2 /* LANDLOCK_RULE_NET_PORT */, &attr, 0);
}

#endif
