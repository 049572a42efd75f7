/// The one place authfn's version is written down: `authfn --version` prints it, and a test checks
/// that the OpenAPI document's `info.version` is the same.
public enum Build {
    public static let version = "1.2.0"
}
