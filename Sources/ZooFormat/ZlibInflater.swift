import CZooZlib

/// One zlib inflate stream and its output buffer, both released with it: the
/// streaming loop that gzip word-vector files and zip members share. Output is
/// handed out chunk by chunk from one buffer, never copied.
public final class ZlibInflater {
    /// gzip or zlib headers (detected), or raw deflate as zip members store it.
    public enum Framing { case gzipOrZlib, raw }

    /// What an `inflate` call left: the stream needs more input, or it ended
    /// with `unconsumed` bytes of the input after its end.
    public enum Progress: Equatable { case needsInput, ended(unconsumed: Int) }

    /// zlib refused the data; `message` is zlib's own, when it gave one.
    public struct Damaged: Error { public let status: Int32; public let message: String? }

    private var stream = z_stream()
    private let out: UnsafeMutablePointer<UInt8>
    private let capacity: Int

    /// nil when zlib cannot set up a stream (out of memory).
    public init?(_ framing: Framing, bufferSize: Int = 1 << 16) {
        let status = framing == .raw ? czlib_inflate_init_raw(&stream) : czlib_inflate_init(&stream)
        guard status == Z_OK else { return nil }
        capacity = bufferSize
        out = .allocate(capacity: bufferSize)
    }

    deinit {
        inflateEnd(&stream)
        out.deallocate()
    }

    /// Starts the next stream (the next member of a concatenated gzip file).
    public func reset() { inflateReset(&stream) }

    /// Inflates `input` until it is used up or the stream ends, calling
    /// `consume` with each chunk of output (valid only during the call).
    /// Errors `consume` throws propagate unchanged.
    public func inflate(_ input: UnsafeRawBufferPointer, into consume: (UnsafeRawBufferPointer) throws -> Void) throws -> Progress {
        stream.next_in = UnsafeMutablePointer(mutating: input.bindMemory(to: Bytef.self).baseAddress)
        stream.avail_in = uInt(input.count)
        defer { stream.next_in = nil; stream.avail_in = 0 }
        while true {
            stream.next_out = out
            stream.avail_out = uInt(capacity)
            let status = CZooZlib.inflate(&stream, Z_NO_FLUSH)
            let produced = capacity - Int(stream.avail_out)
            if produced > 0 { try consume(UnsafeRawBufferPointer(start: out, count: produced)) }
            if status == Z_STREAM_END { return .ended(unconsumed: Int(stream.avail_in)) }
            guard status == Z_OK || status == Z_BUF_ERROR else {
                throw Damaged(status: status, message: stream.msg.map { String(cString: $0) })
            }
            // Output room left means zlib used all the input it could: more is needed.
            if status == Z_BUF_ERROR || stream.avail_out > 0 && stream.avail_in == 0 { return .needsInput }
        }
    }
}
