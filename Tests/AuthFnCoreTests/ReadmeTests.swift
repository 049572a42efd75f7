import Foundation
import Testing

@testable import AuthFnCore

/// The README's parts that are made from the code or the shipped files must match them.
@Suite struct ReadmeTests {
    static let readme = packageRoot.appendingPathComponent("README.md")
    static let begin = "<!-- settings: generated from Configuration.settings; RECORD_README=1 swift test --filter ReadmeTests -->\n"
    static let end = "<!-- /settings -->"

    /// The configuration table is `Configuration.markdownTable`, byte for byte. With `RECORD_README=1`
    /// the test writes it into the README (and fails, so the change is looked at).
    @Test(.bug(id: "9.25", "the README's configuration table is generated"))
    func configurationTableMatchesTheDeclarations() throws {
        var text = try String(contentsOf: Self.readme, encoding: .utf8)
        let start = try #require(text.range(of: Self.begin), "README has no generated settings table")
        let stop = try #require(text.range(of: Self.end, range: start.upperBound..<text.endIndex))
        let current = String(text[start.upperBound..<stop.lowerBound])
        if current != Configuration.markdownTable, ProcessInfo.processInfo.environment["RECORD_README"] == "1" {
            text.replaceSubrange(start.upperBound..<stop.lowerBound, with: Configuration.markdownTable)
            try Data(text.utf8).write(to: Self.readme)
            Issue.record("rewrote the README's configuration table; review the diff and run again")
            return
        }
        #expect(current == Configuration.markdownTable, "run RECORD_README=1 swift test --filter ReadmeTests")
    }

    @Test func everySettingIsNamedOnce() {
        let names = Configuration.settings.map(\.name)
        #expect(Set(names).count == names.count)
        #expect(names.allSatisfy { $0.hasPrefix("AUTHFN_") || $0.hasPrefix("JWT_") || $0 == "SECRET_KEY" })
    }

    /// What the README shows of `docs/deploy/` is the shipped files themselves.
    @Test(
        .bug(id: "9.15", "the README's deployment excerpts are the shipped files"),
        arguments: [
            "authfn.socket", "authfn@.service", "xinetd.conf", "inetd.conf", "lighttpd-cgi.conf", "openfaas-stack-postgres.yml",
            "lambda/template.yml",
        ])
    func deployFilesAppearVerbatim(_ name: String) throws {
        let readme = try String(contentsOf: Self.readme, encoding: .utf8)
        let file = try String(contentsOf: packageRoot.appendingPathComponent("docs/deploy/\(name)"), encoding: .utf8)
        #expect(readme.contains("```\n" + file + "```\n"), "README does not show docs/deploy/\(name) as it is")
    }
}
