import Foundation
import Testing

@testable import AuthFnCore

@Suite struct OpenAPITests {
    static let committed = fixturesDirectory.deletingLastPathComponent().appendingPathComponent("docs/openapi.json")

    @Test func theServedDocumentIsTheCommittedOne() async throws {
        let text = try String(contentsOf: Self.committed, encoding: .utf8)
        #expect(OpenAPIDocument.text + "\n" == text, "run scripts/embed-openapi after editing docs/openapi.json")
        let response = await TestHarness().send("GET", "/openapi.json")
        #expect(response.status == 200)
        #expect(response.body == (try JSONValue.parse(Array(text.utf8))))
    }

    @Test func everyRouteIsDocumentedAndEveryDocumentedRouteExists() throws {
        let document = try JSONValue.parse(Array(OpenAPIDocument.text.utf8))
        let paths = try #require(document["paths"]?.objectValue)
        var documented: Set<String> = []
        for (path, item) in paths {
            for method in item.objectValue?.keys ?? [] { documented.insert("\(method.uppercased()) \(Router.normalize(path))") }
        }
        let routed = Set(Router.routes.map { "\($0.method) \($0.path)" })
        #expect(documented == routed)
    }

    @Test func everyOperationDocumentsItsStatuses() throws {
        let document = try JSONValue.parse(Array(OpenAPIDocument.text.utf8))
        for (path, item) in try #require(document["paths"]?.objectValue) {
            for (method, operation) in item.objectValue ?? [:] {
                let statuses = operation["responses"]?.objectValue?.keys.sorted() ?? []
                #expect(statuses.contains { $0.hasPrefix("2") }, "\(method) \(path)")
                if operation["security"] != nil { #expect(statuses.contains("401") && statuses.contains("422"), "\(method) \(path)") }
            }
        }
    }
}
