using System.Text;

namespace Dls.Bench;

/// <summary>The fields of a request that change from one request to the next; everything else is sent as built.</summary>
public enum Field
{
    Client,
    Batch,
    RequestId,
    CurrentSlice,
    PreviousSlice,
}

/// <summary>
/// One HTTP/1.1 request serialized once, with fixed-width holes for the fields that vary. Every value that fills a
/// hole has the hole's width, so Content-Length never changes and a connection patches its own copy in place: the
/// client spends its cycles on the socket, not on JSON, and cannot become what the benchmark measures.
/// </summary>
public sealed class RequestTemplate
{
    private readonly byte[] _bytes;
    private readonly (Field Field, int Offset, int Width)[] _holes;

    private RequestTemplate(byte[] bytes, (Field, int, int)[] holes)
    {
        _bytes = bytes;
        _holes = holes;
    }

    /// <summary>A connection's own copy, to patch and send again and again.</summary>
    public byte[] NewRequest() => (byte[])_bytes.Clone();

    /// <summary>Writes <paramref name="value"/> (exactly the hole's width) into every hole of <paramref name="field"/>.</summary>
    public void Patch(byte[] request, Field field, ReadOnlySpan<byte> value)
    {
        foreach (var hole in _holes)
        {
            if (hole.Field == field)
            {
                value.CopyTo(request.AsSpan(hole.Offset, hole.Width));
            }
        }
    }

    /// <summary>Writes <paramref name="value"/> zero-padded to the width of the holes of <paramref name="field"/>.</summary>
    public void Patch(byte[] request, Field field, long value)
    {
        foreach (var hole in _holes)
        {
            if (hole.Field == field)
            {
                var span = request.AsSpan(hole.Offset, hole.Width);
                for (var i = span.Length - 1; i >= 0; i--)
                {
                    span[i] = (byte)('0' + (value % 10));
                    value /= 10;
                }
            }
        }
    }

    /// <summary>Builds the JSON body: literal text and holes, in order.</summary>
    public sealed class Body
    {
        private readonly StringBuilder _text = new();
        private readonly List<(Field, int, int)> _holes = [];

        public Body Text(string text)
        {
            _text.Append(text);
            return this;
        }

        /// <summary>A hole of <paramref name="width"/> ASCII characters (digits or a slice time).</summary>
        public Body Hole(Field field, int width)
        {
            _holes.Add((field, _text.Length, width));
            _text.Append('0', width);
            return this;
        }

        /// <summary>The body's text with each hole written as <c>{Field}</c> (for a script that fills them itself: wrk's).</summary>
        public string Pattern()
        {
            var text = _text.ToString();
            var pattern = new StringBuilder();
            var at = 0;
            foreach (var (field, offset, width) in _holes)
            {
                pattern.Append(text, at, offset - at).Append('{').Append(field).Append('}');
                at = offset + width;
            }

            return pattern.Append(text, at, text.Length - at).ToString();
        }

        /// <summary>The whole request for POST <paramref name="path"/> on <paramref name="host"/> (host:port), kept alive.</summary>
        public RequestTemplate ToRequest(string path, string host)
        {
            var body = _text.ToString();
            if (Encoding.UTF8.GetByteCount(body) != body.Length)
            {
                throw new InvalidOperationException("Request bodies are ASCII, so that character offsets are byte offsets.");
            }

            var head = $"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n";
            var bytes = Encoding.ASCII.GetBytes(head + body);
            return new RequestTemplate(bytes, _holes.Select(h => (h.Item1, h.Item2 + head.Length, h.Item3)).ToArray());
        }
    }
}
