using System.Buffers.Text;
using System.Net.Sockets;
using System.Text;

namespace Dls.Bench;

/// <summary>
/// Reads one HTTP/1.1 response at a time from a keep-alive connection: the status line, then just enough of the
/// headers (Content-Length, chunked, Connection: close) to find where the response ends. The body is left in the
/// buffer for <see cref="Body"/> to look at until the next read.
/// </summary>
public sealed class ResponseReader(Socket socket)
{
    private static ReadOnlySpan<byte> HeaderEnd => "\r\n\r\n"u8;

    private byte[] _buffer = new byte[16 * 1024];
    private int _filled;
    private int _consumed;
    private int _bodyStart;
    private int _bodyEnd;

    /// <summary>The last response's body as sent (for chunked bodies, with the chunk framing).</summary>
    public ReadOnlySpan<byte> Body => _buffer.AsSpan(_bodyStart, _bodyEnd - _bodyStart);

    /// <summary>Whether the server said it will close the connection after the last response.</summary>
    public bool Closing { get; private set; }

    /// <summary>Reads the next response and returns its status code.</summary>
    /// <exception cref="IOException">The server closed the connection or sent something that is not HTTP/1.1.</exception>
    public async ValueTask<int> ReadAsync()
    {
        // One request in flight: whatever is left of the last read belongs to nothing, except in a pipelined world.
        if (_consumed > 0)
        {
            _buffer.AsSpan(_consumed, _filled - _consumed).CopyTo(_buffer);
            _filled -= _consumed;
            _consumed = 0;
        }

        while (true)
        {
            var status = TryParse();
            if (status > 0)
            {
                return status;
            }

            if (_filled == _buffer.Length)
            {
                Array.Resize(ref _buffer, _buffer.Length * 2);
            }

            var read = await socket.ReceiveAsync(_buffer.AsMemory(_filled), SocketFlags.None);
            if (read == 0)
            {
                throw new IOException("The server closed the connection.");
            }

            _filled += read;
        }
    }

    /// <summary>The status of a complete response in the buffer, or 0 when more bytes are needed.</summary>
    private int TryParse()
    {
        var data = _buffer.AsSpan(0, _filled);
        var headerEnd = data.IndexOf(HeaderEnd);
        if (headerEnd < 0)
        {
            return 0;
        }

        if (headerEnd < 12 || !data.StartsWith("HTTP/1.1 "u8) || !Utf8Parser.TryParse(data.Slice(9, 3), out int status, out _))
        {
            throw new IOException("Not an HTTP/1.1 response.");
        }

        long contentLength = -1;
        var chunked = false;
        Closing = false;
        var headers = data[..headerEnd];
        var lineStart = headers.IndexOf("\r\n"u8) + 2;
        while (lineStart < headers.Length)
        {
            var rest = headers[lineStart..];
            var lineLength = rest.IndexOf("\r\n"u8);
            var line = lineLength < 0 ? rest : rest[..lineLength];
            var colon = line.IndexOf((byte)':');
            if (colon > 0)
            {
                var name = line[..colon];
                var value = line[(colon + 1)..].Trim((byte)' ');
                if (Ascii.EqualsIgnoreCase(name, "content-length"u8))
                {
                    Utf8Parser.TryParse(value, out contentLength, out _);
                }
                else if (Ascii.EqualsIgnoreCase(name, "transfer-encoding"u8))
                {
                    chunked = Ascii.EqualsIgnoreCase(value, "chunked"u8);
                }
                else if (Ascii.EqualsIgnoreCase(name, "connection"u8))
                {
                    Closing = Ascii.EqualsIgnoreCase(value, "close"u8);
                }
            }

            lineStart += (lineLength < 0 ? line.Length : lineLength) + 2;
        }

        var bodyStart = headerEnd + 4;
        int end;
        if (chunked)
        {
            end = ChunkedEnd(data, bodyStart);
            if (end < 0)
            {
                return 0;
            }
        }
        else
        {
            var length = contentLength < 0 ? 0 : contentLength;
            if (_filled - bodyStart < length)
            {
                return 0;
            }

            end = bodyStart + (int)length;
        }

        _bodyStart = bodyStart;
        _bodyEnd = end;
        _consumed = end;
        return status;
    }

    /// <summary>Where a chunked body that starts at <paramref name="start"/> ends (after the last chunk), or -1 if not yet received.</summary>
    private static int ChunkedEnd(ReadOnlySpan<byte> data, int start)
    {
        var position = start;
        while (true)
        {
            var lineLength = data[position..].IndexOf("\r\n"u8);
            if (lineLength < 0)
            {
                return -1;
            }

            var sizeText = data.Slice(position, lineLength);
            var extension = sizeText.IndexOf((byte)';');
            if (extension >= 0)
            {
                sizeText = sizeText[..extension];
            }

            if (!Utf8Parser.TryParse(sizeText, out int size, out _, 'x'))
            {
                throw new IOException("A chunk size that is not hexadecimal.");
            }

            position += lineLength + 2;
            if (size == 0)
            {
                // The last chunk: trailers (none from Kestrel) end with an empty line.
                var trailers = data[position..];
                if (trailers.StartsWith("\r\n"u8))
                {
                    return position + 2;
                }

                var trailersEnd = trailers.IndexOf(HeaderEnd);
                return trailersEnd < 0 ? -1 : position + trailersEnd + 4;
            }

            if (data.Length < position + size + 2)
            {
                return -1;
            }

            position += size + 2;
        }
    }
}
