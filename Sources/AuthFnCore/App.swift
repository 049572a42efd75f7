import Logging

/// The request handler: envelope or request in, response out. It never throws; every error is
/// rendered by `Response(rendering:)`, and one log line per request goes to the context's logger.
public struct App: Sendable {
    public var context: Context

    public init(context: Context) { self.context = context }

    /// Handles one raw request envelope (the stdin protocol).
    public func handle(envelope bytes: [UInt8]) async -> Response {
        await reply(envelope: bytes).response
    }

    /// Handles one envelope or API Gateway event and encodes the answer in the same format.
    public func reply(envelope bytes: [UInt8]) async -> (response: Response, output: [UInt8]) {
        await reply(parsed: Envelope.parse(bytes))
    }

    /// Handles an envelope or event `Envelope.parse` has read, and encodes the answer in its format.
    public func reply(parsed: (request: Result<Request, EnvelopeError>, format: Envelope.Format)) async -> (
        response: Response, output: [UInt8]
    ) {
        let start = Stopwatch.start()
        let (parsed, format) = parsed
        let response: Response
        switch parsed {
        case .success(let request):
            response = await handle(request)
        case .failure(let error):
            response = Response(rendering: error, logger: context.logger)
            log(method: "-", path: "-", response: response, client: context.clientAddress, start: start)
        }
        return (response, Envelope.encodeResponse(response, format: format))
    }

    /// Answers a transport-level refusal (HTTP/CGI limits) with the same logging as any request.
    public func refuse(_ error: any Error) -> Response {
        let response = Response(rendering: error, logger: context.logger)
        log(method: "-", path: "-", response: response, client: context.clientAddress, start: Stopwatch.start())
        return response
    }

    /// Routes one request to its handler. A request without a client address of its own (only API
    /// Gateway events carry one) gets the launcher's.
    public func handle(_ request: Request) async -> Response {
        let start = Stopwatch.start()
        var request = request
        if request.clientAddress == nil { request.clientAddress = context.clientAddress }
        var response: Response
        do {
            if CORS.isPreflight(request),
                let answer = CORS.preflight(
                    request, allowed: try Router.allowedMethods(path: request.path), context.web)
            {
                response = answer
            } else {
                let route = try Router.route(method: request.method, path: request.path)
                response = try await route.handler(request, context)
            }
        } catch {
            response = Response(rendering: error, logger: context.logger)
        }
        CORS.decorate(&response, for: request, context.web)
        log(method: request.method, path: request.path, response: response, client: request.clientAddress, start: start)
        return response
    }

    /// At most 200 characters, control characters replaced, so a request cannot forge log lines.
    static func loggable(_ path: String) -> String { path.excerpt(limit: 200) }

    private func log(method: String, path: String, response: Response, client: String?, start: ContinuousClock.Instant) {
        let milliseconds = Stopwatch.milliseconds(since: start)
        context.logger.info(
            "request",
            metadata: [
                "method": "\(Self.loggable(method))", "path": "\(Self.loggable(path))", "status": "\(response.status)",
                "duration_ms": "\((milliseconds * 10).rounded() / 10)", "user": "\(response.subject ?? "-")",
                "client": "\(client.map(Self.loggable) ?? "-")",
            ])
    }
}
