/// How requests arrive on stdin and answers leave on stdout: the serving loops, apart from the
/// executable so that each runs in a test without a process (`MemoryInput`, `MemoryOutput`).
public enum Transport: Sendable, Equatable {
    /// One JSON envelope or API Gateway event (the default).
    case envelope
    /// One raw HTTP/1.1 request (inetd, xinetd, socat, systemd `Accept=yes`).
    case http
    /// One CGI request, or the OpenFaaS classic watchdog's variant; the head comes from the environment.
    case cgi(CGI.Flavor)
    /// One envelope per line, each answered on its own line as soon as it is handled, until end of input.
    case stream

    /// Serves what `input` brings. `false` when the answer could not be written (the client is gone).
    /// `timeout`: seconds an HTTP or CGI client has to send its whole request.
    public func serve(
        _ app: App, input: any ByteInput, output: any ByteOutput, environment: [String: String] = [:], timeout: Int64
    ) async -> Bool {
        let written: Bool
        let deferred: [DeferredWork]
        switch self {
        case .envelope:
            // One byte over the limit is enough to answer 413 without reading the rest.
            let reply = await app.reply(envelope: input.read(upTo: Envelope.maximumRequestBytes + 1))
            (written, deferred) = (output.write(reply.output), reply.response.deferred)
        case .http:
            guard let reply = await Self.http(app, InputBuffer(input, timeout: timeout), timeout: timeout) else { return true }
            (written, deferred) = (output.write(reply.output), reply.deferred)
        case .cgi(let flavor):
            let reply = await Self.cgi(
                app, flavor: flavor, environment: environment, InputBuffer(input, timeout: timeout), timeout: timeout)
            (written, deferred) = (output.write(reply.output), reply.deferred)
        case .stream:
            return await Self.stream(app, InputBuffer(input, timeout: nil), output)
        }
        // The answer is out and its end visible to the client before any deferred work (mail) starts.
        output.finish()
        await app.perform(deferred)
        return written
    }

    /// What a misconfigured authfn answers, in this transport's format: a generic 500 (the detail is
    /// for the log).
    public func misconfigured() -> [UInt8] {
        let failure = Response.message(500, "Internal server error: authfn is misconfigured.")
        switch self {
        case .http: return HTTP1.encode(failure)
        case .cgi(let flavor): return CGI.encode(failure, flavor: flavor)
        case .envelope, .stream: return Envelope.encodeResponse(failure)
        }
    }

    /// One HTTP/1.1 request; `nil` when the client connected and sent nothing at all.
    static func http(_ app: App, _ input: InputBuffer, timeout: Int64) async -> (output: [UInt8], deferred: [DeferredWork])? {
        var method = "GET"
        let response: Response
        do {
            var head: HTTP1.Head?
            while true {
                head = try HTTP1.parseHead(Array(input.buffer))
                if head != nil { break }
                guard try input.fill(maximum: HTTPLimits.headerBytes + 1) else {
                    if input.count == 0 { return nil }
                    throw HTTPError.badRequest("the connection closed before the request head was complete")
                }
            }
            guard let head else { return nil }
            method = head.method
            let end = head.bodyOffset + head.contentLength
            while input.count < end {
                guard try input.fill() else {
                    throw HTTPError.badRequest("the connection closed before Content-Length bytes of body arrived")
                }
            }
            let bytes = input.take(end)
            response = await app.handle(HTTP1.request(head, body: bytes[head.bodyOffset..<end]))
        } catch is InputTimeout {
            response = app.refuse(HTTPError.timeout(seconds: Int(timeout)))
        } catch {
            response = app.refuse(error)
        }
        return (HTTP1.encode(response, includeBody: method != "HEAD"), response.deferred)
    }

    /// One CGI (or OpenFaaS classic) request: head from the environment, body from the input.
    static func cgi(_ app: App, flavor: CGI.Flavor, environment: [String: String], _ input: InputBuffer, timeout: Int64) async
        -> (output: [UInt8], deferred: [DeferredWork])
    {
        let response: Response
        do {
            var (request, length) = try CGI.head(environment, flavor: flavor)
            let limit = length ?? HTTPLimits.bodyBytes + 1
            while input.count < limit, try input.fill(maximum: limit - input.count) {}
            if let length, input.count < length {
                throw HTTPError.badRequest("stdin ended before CONTENT_LENGTH bytes arrived")
            }
            if input.count > HTTPLimits.bodyBytes { throw HTTPError.bodyTooLarge(limit: HTTPLimits.bodyBytes) }
            let body = input.take(limit)
            if !body.isEmpty { request.body = .raw(body) }
            response = await app.handle(request)
        } catch is InputTimeout {
            response = app.refuse(HTTPError.timeout(seconds: Int(timeout)))
        } catch {
            response = app.refuse(error)
        }
        return (CGI.encode(response, flavor: flavor), response.deferred)
    }

    /// Envelopes, one per line, each answered on its own line as soon as it is handled. State is read
    /// from the store for every request, so other processes may share it.
    static func stream(_ app: App, _ input: InputBuffer, _ output: any ByteOutput) async -> Bool {
        // No deadline, so `nextLine` cannot time out.
        while let line = try? input.nextLine(limit: Envelope.maximumRequestBytes) {
            let reply: [UInt8]
            var deferred: [DeferredWork] = []
            switch line {
            case .tooLong:
                reply = Envelope.encodeResponse(app.refuse(EnvelopeError.tooLarge(limit: Envelope.maximumRequestBytes)))
            case .line(let bytes):
                if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
                let answer = await app.reply(envelope: bytes)
                (reply, deferred) = (answer.output, answer.response.deferred)
            }
            guard output.write(reply) else { return false }
            // After the line is out; the next request waits for it (a slow mail command delays the stream).
            await app.perform(deferred)
        }
        return true
    }
}
