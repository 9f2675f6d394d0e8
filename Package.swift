// swift-tools-version:5.9
// No package dependencies: the probe talks to the kernel through Glibc and a tiny C shim.
import PackageDescription

let package = Package(
    name: "namespace-probe",
    products: [
        .executable(name: "probe", targets: ["probe"]),
        .library(name: "NamespaceProbe", targets: ["NamespaceProbe"]),
        .library(name: "IsolationSelector", targets: ["IsolationSelector"]),
    ],
    targets: [
        // static inline wrappers for the _GNU_SOURCE APIs and constants the Glibc module hides.
        .target(name: "CNamespaceProbe"),
        .target(name: "NamespaceProbe", dependencies: ["CNamespaceProbe"]),
        .target(name: "IsolationSelector", dependencies: ["NamespaceProbe"]),
        .executableTarget(name: "probe", dependencies: ["NamespaceProbe", "IsolationSelector"]),
        .testTarget(
            name: "NamespaceProbeTests",
            dependencies: ["NamespaceProbe"],
            resources: [.copy("Fixtures")]),
        .testTarget(
            name: "IsolationSelectorTests",
            dependencies: ["IsolationSelector", "NamespaceProbe"],
            resources: [.copy("Reports")]),
        .testTarget(name: "ProbeCLITests", dependencies: ["NamespaceProbe"]),
    ]
)
