import Glibc
import CNamespaceProbe

/// The small seccomp filter every tenant runs under where a filter installs. It answers EPERM
/// to what a tenant never needs and an attacker wants: nested user namespaces (more kernel
/// surface, catalogue A30), setns, TIOCSTI/TIOCLINUX keystroke injection (A28), ptrace and
/// process_vm_* (A16), the kernel keyring, bpf, perf events, userfaultfd, module and kexec
/// loading, mount and swap calls, reboot. clone3 gets ENOSYS: its flags sit in memory a
/// filter cannot read, and glibc then falls back to clone. Syscalls of another ABI (i386 and
/// x32 on x86_64) are refused whole, or they would bypass every rule. Everything else is
/// allowed: the filter narrows, the namespaces and Landlock isolate.
public enum TenantSeccompFilter {
    static let allow: UInt32 = 0x7fff_0000
    static func errno(_ e: Int32) -> UInt32 { 0x0005_0000 | UInt32(e) }
    static let cloneNewUser: UInt32 = 0x1000_0000
    static let tiocsti: UInt32 = 0x5412, tioclinux: UInt32 = 0x541C

    static func stmt(_ code: UInt16, _ k: UInt32) -> sock_filter { sock_filter(code: code, jt: 0, jf: 0, k: k) }
    static func jump(_ code: UInt16, _ k: UInt32, _ jt: UInt8, _ jf: UInt8) -> sock_filter { sock_filter(code: code, jt: jt, jf: jf, k: k) }
    static let ldW: UInt16 = 0x20, jeq: UInt16 = 0x15, jge: UInt16 = 0x35, jset: UInt16 = 0x45, ret: UInt16 = 0x06

    /// Denied outright with EPERM.
    static var denied: [Int32] {
        [cnp_SYS_setns, cnp_SYS_ptrace, cnp_SYS_process_vm_readv, cnp_SYS_process_vm_writev, cnp_SYS_pidfd_getfd,
         cnp_SYS_keyctl, cnp_SYS_add_key, cnp_SYS_request_key, cnp_SYS_bpf, cnp_SYS_perf_event_open, cnp_SYS_userfaultfd,
         cnp_SYS_kexec_load, cnp_SYS_kexec_file_load, cnp_SYS_init_module, cnp_SYS_finit_module, cnp_SYS_delete_module,
         cnp_SYS_mount, cnp_SYS_umount2, cnp_SYS_pivot_root, cnp_SYS_swapon, cnp_SYS_swapoff, cnp_SYS_reboot].filter { $0 >= 0 }
    }

    /// The BPF program (classic BPF over struct seccomp_data).
    public static func program() -> [sock_filter] {
        let eperm = errno(EPERM)
        var p: [sock_filter] = [
            stmt(ldW, cnp_seccomp_data_arch),
            jump(jeq, cnp_AUDIT_ARCH_NATIVE, 1, 0),
            stmt(ret, eperm),
            stmt(ldW, cnp_seccomp_data_nr),
        ]
        #if arch(x86_64)
        p += [jump(jge, 0x4000_0000, 0, 1), stmt(ret, eperm)]  // x32 numbers carry bit 30
        #endif
        for nr in denied { p += [jump(jeq, UInt32(nr), 0, 1), stmt(ret, eperm)] }
        p += [jump(jeq, UInt32(cnp_SYS_clone3), 0, 1), stmt(ret, errno(ENOSYS))]
        for nr in [cnp_SYS_unshare, cnp_SYS_clone] {
            // Flags are the first argument of both on x86_64 and aarch64.
            p += [jump(jeq, UInt32(nr), 0, 4), stmt(ldW, cnp_seccomp_data_arg0_low),
                  jump(jset, cloneNewUser, 0, 1), stmt(ret, eperm), stmt(ret, allow)]
        }
        p += [jump(jeq, UInt32(cnp_SYS_ioctl), 0, 5), stmt(ldW, cnp_seccomp_data_arg1_low),
              jump(jeq, tiocsti, 2, 0), jump(jeq, tioclinux, 1, 0), stmt(ret, allow), stmt(ret, eperm)]
        p.append(stmt(ret, allow))
        return p
    }

    /// Installs the filter (no_new_privs must be set first), then proves it acts: ioctl
    /// TIOCSTI on fd -1 fails with EBADF without the filter and EPERM with it.
    public static func install(_ w: StepWriter) -> Bool {
        let p = program()
        return w.step("install the tenant seccomp filter") {
            .check(p.withUnsafeBufferPointer { cnp_seccomp_install_program($0.baseAddress, UInt16($0.count)) }, "\(p.count) instructions")
        }
        && w.step("the filter answers EPERM (ioctl TIOCSTI)") {
            let rc = cnp_ioctl_tiocsti_probe(-1)
            let e = Errno.current
            return rc == -1 && e == .EPERM ? .ok() : .failed(nil, "ioctl(-1, TIOCSTI) returned \(rc) \(e.name): the filter did not act")
        }
    }
}
