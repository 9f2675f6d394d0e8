import Glibc
import CNamespaceProbe

/// Can this process install the launcher's tenant seccomp filter (TenantSeccompFilter), and
/// does the kernel support user-notification listeners? Both run in children: a filter
/// cannot be removed.
public enum SeccompProbe {
    static func ownFilter(_ w: StepWriter) {
        let ok = w.step("prctl(PR_SET_NO_NEW_PRIVS)") { .check(cnp_prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) }
            && TenantSeccompFilter.install(w)
        w.verdict(ok ? .ok : .failed)
    }

    static func listener(_ w: StepWriter) {
        let ok = w.step("SECCOMP_GET_ACTION_AVAIL(USER_NOTIF)") { .check(cnp_seccomp_get_action_avail(cnp_SECCOMP_RET_USER_NOTIF)) }
            && w.step("prctl(PR_SET_NO_NEW_PRIVS)") { .check(cnp_prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) }
            && w.step("install filter with NEW_LISTENER") {
                let fd = cnp_seccomp_install_listener()
                return fd < 0 ? .failed(.current) : .ok("listener fd \(fd)")
            }
        w.verdict(ok ? .ok : .failed)
    }
}
