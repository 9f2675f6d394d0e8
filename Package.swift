// swift-tools-version:5.9
// No package dependencies: the probe talks to the kernel through Glibc and a tiny C shim.
import PackageDescription

let package = Package(
    name: "namespace-probe",
    products: [
        .executable(name: "probe", targets: ["probe"]),
        .library(name: "NamespaceProbe", targets: ["NamespaceProbe"]),
        .library(name: "IsolationSelector", targets: ["IsolationSelector"]),
        .library(name: "IsolationLauncher", targets: ["IsolationLauncher"]),
        .library(name: "AgentPolicy", targets: ["AgentPolicy"]),
    ],
    targets: [
        // static inline wrappers for the _GNU_SOURCE APIs and constants the Glibc module hides.
        .target(name: "CNamespaceProbe"),
        .target(name: "NamespaceProbe", dependencies: ["CNamespaceProbe"]),
        .target(name: "IsolationSelector", dependencies: ["NamespaceProbe"]),
        // probe launch: applies the layers the selection names to one tenant's command.
        .target(name: "IsolationLauncher", dependencies: ["NamespaceProbe", "IsolationSelector", "CNamespaceProbe"]),
        // Per-tenant agent CLI settings (`probe policy`): pure rule generation; the tenant id is the launcher's type.
        .target(name: "AgentPolicy", dependencies: ["IsolationLauncher", "IsolationSelector", "NamespaceProbe"]),
        // probe verify: tenant A's canaries and tenant B's attacks (internal modes of the binary).
        .target(name: "IsolationVerifier", dependencies: ["NamespaceProbe", "IsolationSelector", "CNamespaceProbe"]),
        .executableTarget(name: "probe", dependencies: ["NamespaceProbe", "IsolationSelector", "IsolationLauncher", "AgentPolicy", "IsolationVerifier"]),
        // Tests read fixtures and matrix/ through #filePath: plain files, no bundle.
        .testTarget(name: "NamespaceProbeTests", dependencies: ["NamespaceProbe"], exclude: ["Fixtures"]),
        .testTarget(name: "IsolationSelectorTests", dependencies: ["IsolationSelector", "NamespaceProbe"]),
        .testTarget(name: "ProbeCLITests", dependencies: ["NamespaceProbe", "probe"]),
        .testTarget(name: "IsolationLauncherTests", dependencies: ["IsolationLauncher", "NamespaceProbe", "IsolationSelector"]),
        .testTarget(name: "AgentPolicyTests", dependencies: ["AgentPolicy", "IsolationLauncher", "IsolationSelector", "NamespaceProbe"]),
        .testTarget(name: "IsolationVerifierTests", dependencies: ["IsolationVerifier", "IsolationSelector", "NamespaceProbe"]),
    ]
)
