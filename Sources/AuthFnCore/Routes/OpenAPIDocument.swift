/// The OpenAPI 3.1 description of every route (docs/openapi.json, embedded at build time).
enum OpenAPIDocument {
    static func serve(_ request: Request, _ context: Context) async throws -> Response {
        Response(status: 200, body: try JSONValue.parse(Array(text.utf8)))
    }
}
