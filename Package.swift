// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "authfn",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "authfn", targets: ["authfn"]),
        .library(name: "AuthFnCore", targets: ["AuthFnCore"]),
    ],
    traits: [
        // Off by default: linking postgres-nio (with swift-nio and swift-nio-ssl) costs every
        // invocation start-up time, file store included, and doubles a clean build. README: "Choosing
        // a store" has the measurements.
        .trait(name: "PostgreSQL", description: "The PostgreSQL store (AUTHFN_DATABASE_URL), via vapor/postgres-nio.")
    ],
    dependencies: [
        // Bounded by major version, as jwt-kit does for its own dependencies.
        .package(url: "https://github.com/vapor/jwt-kit.git", "5.8.0"..<"6.0.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "4.5.2"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", "1.8.2"..<"2.0.0"),
        .package(url: "https://github.com/apple/swift-log.git", "1.16.2"..<"2.0.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", "1.33.2"..<"2.0.0"),
    ],
    targets: [
        .target(
            name: "AuthFnCore",
            dependencies: [
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio", condition: .when(traits: ["PostgreSQL"])),
            ]
        ),
        .executableTarget(
            name: "authfn",
            dependencies: [
                "AuthFnCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            linkerSettings: [
                // The toolchain's static-stdlib link exports every symbol of the executable's own
                // objects (~15,000); nothing loads authfn as a library, and the loader's and the
                // Swift runtime's start-up lookups scan that table on every invocation.
                .unsafeFlags(["-Xlinker", "--no-export-dynamic"], .when(platforms: [.linux]))
            ]
        ),
        // A libFuzzer target (scripts/fuzz builds it with -sanitize=fuzzer,address -DFUZZING).
        .executableTarget(
            name: "authfn-fuzz",
            dependencies: ["AuthFnCore"]
        ),
        .testTarget(
            name: "AuthFnCoreTests",
            dependencies: [
                "AuthFnCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ]
)

for target in package.targets {
    var settings = target.swiftSettings ?? []
    // SE-0335: `any` spelled out for existentials, so protocol costs are visible.
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    // SE-0444: a file sees only the modules it imports itself.
    settings.append(.enableUpcomingFeature("MemberImportVisibility"))
    target.swiftSettings = settings
}
