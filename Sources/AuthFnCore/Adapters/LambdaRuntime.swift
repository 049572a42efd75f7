import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// authfn as its own AWS Lambda custom runtime (`provided.al2023`): started as `bootstrap` with
/// `AWS_LAMBDA_RUNTIME_API` set, it loads the configuration once and then loops — fetch the next
/// event, handle it as an API Gateway (v1 or v2) event or an envelope, post the answer in the same
/// shape — until Lambda freezes or ends the process. A bad event never ends the loop.
///
/// Runtime API: https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
public struct LambdaRuntime {
    public static let version = "2018-06-01"

    /// One invocation's facts, from the `next` response's headers.
    public struct Invocation: Sendable, Equatable {
        public var requestID: String
        public var deadlineMilliseconds: Int64?
        public var traceID: String?
        public var functionARN: String?
    }

    public enum Failure: Error, CustomStringConvertible {
        case runtimeAPI(RuntimeAPIClient.Failure)
        case unexpected(String)

        public var description: String {
            switch self {
            case .runtimeAPI(let failure): failure.description
            case .unexpected(let what): what
            }
        }
    }

    let client: RuntimeAPIClient
    let logger: Logger

    public init(client: RuntimeAPIClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Reports a configuration that cannot work to `init/error`, as Lambda expects before the process
    /// exits: the function then fails its invocations with this message, instead of timing out.
    public func reportInitError(_ error: any Error) throws(Failure) {
        let body = Self.errorDocument(type: "Runtime.ConfigurationError", message: "\(error)")
        let response = try send(
            "POST", "/\(Self.version)/runtime/init/error",
            headers: [("Lambda-Runtime-Function-Error-Type", "Runtime.ConfigurationError"), ("Content-Type", "application/json")],
            body: body)
        guard (200..<300).contains(response.status) else {
            throw .unexpected("init/error answered \(response.status)")
        }
    }

    /// Handles invocations until `limit` of them are done (never, when `nil`), or until the Runtime API
    /// cannot be reached. Each invocation gets the app with a logger carrying its request and trace ids.
    public func run(_ app: App, limit: Int? = nil) async throws(Failure) {
        var handled = 0
        while limit.map({ handled < $0 }) ?? true {
            let next = try send("GET", "/\(Self.version)/runtime/invocation/next")
            guard next.status == 200, let requestID = next.headers["lambda-runtime-aws-request-id"], Self.isSafeID(requestID) else {
                // A 4xx/5xx here is the Runtime API's own trouble (Lambda documents none for `next`);
                // wait a moment rather than spin, and ask again.
                logger.error("the Runtime API's next answered \(next.status) without a usable request id")
                usleep(100_000)
                continue
            }
            let invocation = Invocation(
                requestID: requestID, deadlineMilliseconds: next.headers["lambda-runtime-deadline-ms"].flatMap { Int64($0) },
                traceID: next.headers["lambda-runtime-trace-id"], functionARN: next.headers["lambda-runtime-invoked-function-arn"])
            await handle(invocation, event: next.body, app)
            handled += 1
        }
    }

    /// Answers one event: `/response` with the reply, or `/error` for an event that is no HTTP request
    /// at all (an S3 notification sent to the wrong function, say).
    func handle(_ invocation: Invocation, event: [UInt8], _ app: App) async {
        // The X-Ray convention for custom runtimes: the trace header of the invocation in progress.
        if let trace = invocation.traceID { setenv("_X_AMZN_TRACE_ID", trace, 1) } else { unsetenv("_X_AMZN_TRACE_ID") }
        var context = app.context
        context.logger[metadataKey: "aws_request_id"] = "\(invocation.requestID)"
        if let trace = invocation.traceID { context.logger[metadataKey: "trace_id"] = "\(trace.excerpt(limit: 200))" }
        let scoped = App(context: context)
        let base = "/\(Self.version)/runtime/invocation/\(invocation.requestID)"
        do throws(Failure) {
            let parsed = Envelope.parse(event)
            switch Self.classify(parsed) {
            case .http:
                let reply = await scoped.reply(parsed: parsed)
                try post(base + "/response", body: reply.output)
                // Posted: API Gateway has the answer. Lambda freezes the environment only when the runtime
                // asks for the next event, so the mail goes out now, before that.
                await scoped.perform(reply.response.deferred)
            case .notHTTP(let why):
                context.logger.warning(
                    "event is not an HTTP request; reported to the Runtime API as an error", metadata: ["reason": "\(why)"])
                let body = Self.errorDocument(type: "InvalidEvent", message: why)
                try post(base + "/error", body: body, headers: [("Lambda-Runtime-Function-Error-Type", "InvalidEvent")])
            }
        } catch {
            // The answer could not be delivered; Lambda times the invocation out. Carry on with the next.
            context.logger.error("could not post the answer to the Runtime API: \(error)")
        }
    }

    enum EventKind: Equatable {
        case http
        case notHTTP(String)
    }

    /// API Gateway events (even broken ones, which get a 400 in API Gateway's shape) and envelopes are
    /// HTTP; any other JSON, or no JSON, is not.
    static func classify(_ parsed: (request: Result<Request, EnvelopeError>, format: Envelope.Format)) -> EventKind {
        switch parsed {
        case (.success, _), (_, .apiGatewayV1), (_, .apiGatewayV2): return .http
        case (.failure(.tooLarge), _): return .http
        case (.failure(let error), .envelope):
            return .notHTTP(Response(rendering: error).body["message"]?.stringValue ?? "not an HTTP event")
        }
    }

    private func post(_ path: String, body: [UInt8], headers: [(String, String)] = []) throws(Failure) {
        let response = try send("POST", path, headers: headers + [("Content-Type", "application/json")], body: body)
        guard (200..<300).contains(response.status) else {
            throw .unexpected("\(path) answered \(response.status): \(String(decoding: response.body.prefix(200), as: UTF8.self).excerpt)")
        }
    }

    private func send(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = []) throws(Failure)
        -> RuntimeAPIClient.Response
    {
        do {
            return try client.send(method, path, headers: headers, body: body)
        } catch {
            throw .runtimeAPI(error)
        }
    }

    /// `{"errorMessage": …, "errorType": …}`, the shape Lambda reports.
    static func errorDocument(type: String, message: String) -> [UInt8] {
        JSONValue.object(["errorMessage": .string(message.excerpt(limit: 1000)), "errorType": .string(type)]).encoded()
    }

    /// Request ids go into a URL path: letters, digits and `-` only (they are UUIDs).
    static func isSafeID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 128
            && id.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || $0 == UInt8(ascii: "-") }
    }
}
