using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Dls.Core.Crypto;
using Dls.Core.Errors;

namespace Dls.Core.Licensing;

/// <summary>
/// The <c>dls-license/1</c> file format (docs/license-file.md): build and sign, parse strictly and with bounds,
/// verify. The envelope has one canonical spelling, so no byte of a file can change without the file being refused.
/// </summary>
public static class LicenseFile
{
    public const int MaxFileBytes = 1024 * 1024;
    public const int MaxItems = 1000;
    public const int MaxIdLength = 64;
    public const int MaxAliasLength = 128;
    public const int MaxProductLength = 32;
    public const int MaxEditionLength = 64;
    public const int MaxModules = 64;
    public const long MaxQuantity = 1_000_000_000_000;

    // Root object → items array → item object → modules array.
    private const int MaxPayloadDepth = 4;

    private static readonly string[] PayloadProperties = ["format", "licenseId", "alias", "organizationId", "serverUuid", "issuedAt", "items"];
    private static readonly string[] ItemProperties =
        ["itemId", "product", "version", "deployment", "edition", "mode", "quantity", "startDate", "expirationDate", "modules", "revokes"];

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    // The writer ends its one line with this; a reader takes the line with it or without it, and nothing else.
    private const string LineEnd = "\n";

    // System.Text.Json parses an escaped lone surrogate ("\ud800") but throws InvalidOperationException when asked
    // for the string; for a file that is one more way to be malformed, not a crash.
    private const string UnreadableString = "a name or value is not a valid UTF-16 string (a lone surrogate escape such as \\ud800).";

    private static readonly string[] IssuedAtFormats = ["yyyy-MM-dd'T'HH:mm:ss'Z'", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'"];

    /// <summary>
    /// Builds and signs a license file. The document is checked by the same rules a reader applies, so a file
    /// this writes is always importable (<c>LicenseInvalid</c> otherwise).
    /// </summary>
    public static string Write(LicenseDocument document, ECDsa issuerKey)
    {
        ArgumentNullException.ThrowIfNull(document);
        ArgumentNullException.ThrowIfNull(issuerKey);
        var payload = SerializePayload(document);
        try
        {
            var read = ParsePayload(payload);

            // Utf8JsonWriter writes a lone surrogate as U+FFFD rather than refusing it: the file would then say
            // something other than the document. Ids are ASCII by rule; the free-text fields are compared.
            if (read.Alias != document.Alias || !read.Items.Select(i => i.Edition).SequenceEqual(document.Items.Select(i => i.Edition)))
            {
                throw new LicenseFormatException("the alias or an edition is not valid UTF-16 text.");
            }
        }
        catch (LicenseFormatException ex)
        {
            throw new DlsException(ErrorIds.LicenseInvalid, DlsErrorKind.InvalidArgument, $"The license cannot be issued: {ex.Message}", document.LicenseId, ex);
        }

        var payloadText = Base64Url.Encode(payload);
        var signature = EcKeys.SignLowS(issuerKey, Encoding.ASCII.GetBytes(payloadText));
        var keyId = EcKeys.KeyId(issuerKey.ExportSubjectPublicKeyInfo());
        return CanonicalEnvelope(LicenseDocument.Format, keyId, payloadText, Base64Url.Encode(signature)) + LineEnd;
    }

    /// <summary>
    /// Reads the envelope: size, JSON, <c>format</c> (<c>LicenseFormatUnsupported</c>), the three other fields and
    /// the canonical spelling (<c>LicenseMalformed</c>). Does not verify the signature.
    /// </summary>
    /// <remarks>
    /// A file is valid only in the one spelling the writer produces (SPEC §7): the envelope line exactly as
    /// <see cref="Write"/> writes it for its key id, payload and signature, optionally followed by the one
    /// <c>\n</c> the writer ends it with. No byte order mark, no <c>\r</c>, no spaces, no escapes, no padding,
    /// no high-S twin of the signature: a file that says the same thing in other bytes is refused, so the bytes an
    /// issuer signed are the only bytes that import, and a copy cannot be told apart from the original.
    /// </remarks>
    public static LicenseEnvelope ReadEnvelope(ReadOnlySpan<byte> file, object? target = null)
    {
        if (file.Length > MaxFileBytes)
        {
            throw Malformed($"the file is larger than {MaxFileBytes / 1024} KiB.", target);
        }

        if (file.StartsWith(Encoding.UTF8.Preamble))
        {
            throw Malformed("it starts with a byte order mark; import the file exactly as the issuer wrote it.", target);
        }

        var body = file.EndsWith("\n"u8) ? file[..^1] : file;

        // Every byte of a canonical envelope is printable ASCII; checking it here also keeps invalid UTF-8, a
        // second line end and a carriage return out of the parser.
        if (body.ContainsAnyExceptInRange((byte)0x20, (byte)0x7E))
        {
            throw Malformed("it holds bytes other than printable ASCII on one line (a license file is one line, optionally ending in \\n).", target);
        }

        JsonDocument json;
        try
        {
            json = JsonDocument.Parse(body.ToArray(), new JsonDocumentOptions { MaxDepth = 2 });
        }
        catch (JsonException ex)
        {
            throw Malformed($"it is not a JSON object ({ex.Message}).", target, ex);
        }

        using (json)
        {
            try
            {
                return ReadEnvelope(json.RootElement, body, target);
            }
            catch (InvalidOperationException ex)
            {
                throw Malformed(UnreadableString, target, ex);
            }
            catch (LicenseFormatException ex)
            {
                throw Malformed(ex.Message, target, ex);
            }
        }
    }

    private static LicenseEnvelope ReadEnvelope(JsonElement root, ReadOnlySpan<byte> body, object? target)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new LicenseFormatException("it is not a JSON object.");
        }

        if (!root.TryGetProperty("format", out var formatElement) || formatElement.ValueKind != JsonValueKind.String)
        {
            throw new LicenseFormatException("it has no 'format'.");
        }

        var format = formatElement.GetString()!;
        if (format != LicenseDocument.Format)
        {
            throw new DlsException(
                ErrorIds.LicenseFormatUnsupported,
                DlsErrorKind.InvalidData,
                $"The license file has format '{Shorten(format)}'; this DLS reads '{LicenseDocument.Format}'. Update DLS or ask the issuer for a '{LicenseDocument.Format}' file.",
                target);
        }

        CheckProperties(root, ["format", "keyId", "payload", "signature"], ["format", "keyId", "payload", "signature"], "the envelope");
        var keyId = root.GetProperty("keyId").GetString()!;
        if (keyId.Length != 16 || !keyId.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f'))
        {
            throw new LicenseFormatException("'keyId' is not 16 lowercase hex digits.");
        }

        var payloadText = root.GetProperty("payload").GetString()!;
        var signatureText = root.GetProperty("signature").GetString()!;
        var payload = StrictBase64Url(payloadText, "payload");
        var signature = StrictBase64Url(signatureText, "signature");
        if (signature.Length != EcKeys.SignatureLength)
        {
            throw new LicenseFormatException("'signature' is not a 64-byte ES256 signature.");
        }

        if (!EcKeys.IsLowS(signature))
        {
            throw new LicenseFormatException("'signature' is not in low-S form (s must be at most n/2; an issuer replaces a high s with n − s).");
        }

        if (payload.Length == 0)
        {
            throw new LicenseFormatException("'payload' is empty.");
        }

        if (!body.SequenceEqual(Encoding.ASCII.GetBytes(CanonicalEnvelope(format, keyId, payloadText, signatureText))))
        {
            throw new LicenseFormatException("the envelope is not written in its canonical form (one line, fields in the documented order, no spaces or escapes).");
        }

        return new LicenseEnvelope(keyId, payloadText, payload, signature);
    }

    /// <summary>Whether the signature verifies, over the payload text as written, with the given issuer key (SubjectPublicKeyInfo DER).</summary>
    public static bool Verify(LicenseEnvelope envelope, byte[] issuerPublicKey)
    {
        using var key = EcKeys.Create();
        key.ImportSubjectPublicKeyInfo(issuerPublicKey, out _);
        return key.VerifyData(Encoding.ASCII.GetBytes(envelope.PayloadText), envelope.Signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
    }

    /// <summary>Parses a verified payload strictly; <c>LicenseMalformed</c> (or <c>LicenseFormatUnsupported</c>) otherwise.</summary>
    public static LicenseDocument ReadPayload(LicenseEnvelope envelope, object? target = null)
    {
        try
        {
            return ParsePayload(envelope.Payload);
        }
        catch (InvalidOperationException ex)
        {
            throw Malformed(UnreadableString, target, ex);
        }
        catch (LicenseFormatException ex) when (ex.Unsupported)
        {
            throw new DlsException(ErrorIds.LicenseFormatUnsupported, DlsErrorKind.InvalidData, $"The license payload {ex.Message}", target, ex);
        }
        catch (LicenseFormatException ex)
        {
            throw Malformed(ex.Message, target, ex);
        }
    }

    /// <summary>
    /// Reads and verifies a whole file: envelope, trusted issuer (<c>LicenseIssuerNotTrusted</c>), signature
    /// (<c>LicenseSignatureInvalid</c>), then the payload. <paramref name="trustedKey"/> maps a key id to its
    /// public key DER, or null when it is not trusted.
    /// </summary>
    public static (LicenseEnvelope Envelope, LicenseDocument Document) Open(ReadOnlySpan<byte> file, Func<string, byte[]?> trustedKey, object? target = null)
    {
        var envelope = ReadEnvelope(file, target);
        var publicKey = trustedKey(envelope.KeyId) ?? throw new DlsException(
            ErrorIds.LicenseIssuerNotTrusted,
            DlsErrorKind.SecurityError,
            $"The license file is signed by issuer key {envelope.KeyId}, which this server does not trust. Add the issuer's public key with Add-DlsTrustedIssuer.",
            target);
        if (!Verify(envelope, publicKey))
        {
            throw new DlsException(
                ErrorIds.LicenseSignatureInvalid,
                DlsErrorKind.SecurityError,
                $"The license file's signature does not verify with issuer key {envelope.KeyId}: the file was changed after it was issued.",
                target);
        }

        return (envelope, ReadPayload(envelope, target));
    }

    /// <summary>
    /// The document of an envelope the store kept at import. It was verified then, but perhaps under older, more
    /// lenient spelling rules (a padded payload, a high-S signature), so only the payload is read here, and leniently.
    /// </summary>
    internal static LicenseDocument ReadStored(string envelopeText)
    {
        using var json = JsonDocument.Parse(envelopeText);
        return ParsePayload(Base64Url.Decode(json.RootElement.GetProperty("payload").GetString()!));
    }

    internal static byte[] SerializePayload(LicenseDocument document)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("format", LicenseDocument.Format);
            writer.WriteString("licenseId", document.LicenseId);
            writer.WriteString("alias", document.Alias);
            writer.WriteString("organizationId", document.OrganizationId);
            writer.WriteString("serverUuid", document.ServerUuid);
            writer.WriteString("issuedAt", document.IssuedAt.UtcDateTime.ToString(IssuedAtFormats[0], CultureInfo.InvariantCulture));
            writer.WriteStartArray("items");
            foreach (var item in document.Items)
            {
                writer.WriteStartObject();
                writer.WriteString("itemId", item.ItemId);
                writer.WriteString("product", item.Product);
                writer.WriteString("version", item.Version);
                writer.WriteString("deployment", item.Deployment.ToString());
                writer.WriteString("edition", item.Edition);
                writer.WriteString("mode", item.Mode.ToString());
                writer.WriteNumber("quantity", item.Quantity);
                writer.WriteString("startDate", item.StartDate.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
                writer.WriteString("expirationDate", item.ExpirationDate.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
                writer.WriteStartArray("modules");
                foreach (var module in item.Modules)
                {
                    writer.WriteStringValue(module);
                }

                writer.WriteEndArray();
                if (item.Revokes is not null)
                {
                    writer.WriteString("revokes", item.Revokes);
                }

                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }

    internal static LicenseDocument ParsePayload(byte[] payload)
    {
        if (payload.Length > MaxFileBytes)
        {
            throw new LicenseFormatException($"the payload is larger than {MaxFileBytes / 1024} KiB.");
        }

        try
        {
            _ = StrictUtf8.GetCharCount(payload);
        }
        catch (DecoderFallbackException)
        {
            throw new LicenseFormatException("the payload is not UTF-8.");
        }

        JsonDocument json;
        try
        {
            json = JsonDocument.Parse(payload, new JsonDocumentOptions { MaxDepth = MaxPayloadDepth });
        }
        catch (JsonException ex)
        {
            throw new LicenseFormatException($"the payload is not valid JSON within the bounds ({ex.Message}).");
        }

        using (json)
        {
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new LicenseFormatException("the payload is not a JSON object.");
            }

            var format = root.TryGetProperty("format", out var f) && f.ValueKind == JsonValueKind.String ? f.GetString() : null;
            if (format != LicenseDocument.Format)
            {
                throw new LicenseFormatException($"has format '{Shorten(format ?? "")}'; this DLS reads '{LicenseDocument.Format}'.", unsupported: true);
            }

            CheckProperties(root, PayloadProperties, ["format", "licenseId", "organizationId", "serverUuid", "issuedAt", "items"], "the payload");
            var licenseId = Id(root, "licenseId");
            var organizationId = String(root, "organizationId", 1, Validation.MaxIdLength);
            if (!organizationId.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.'))
            {
                throw new LicenseFormatException("'organizationId' may hold only letters, digits, '_' and '.'.");
            }

            var serverUuid = String(root, "serverUuid", 36, 36);
            if (!Guid.TryParseExact(serverUuid, "D", out var guid) || guid.ToString("D") != serverUuid)
            {
                throw new LicenseFormatException("'serverUuid' is not a lowercase UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx).");
            }

            var issuedAtText = String(root, "issuedAt", 20, 28);
            if (!DateTimeOffset.TryParseExact(issuedAtText, IssuedAtFormats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var issuedAt)
                || issuedAt.Year < 2000)
            {
                throw new LicenseFormatException("'issuedAt' is not an ISO-8601 UTC time such as 2026-11-01T12:00:00Z.");
            }

            var alias = root.TryGetProperty("alias", out _) ? Text(root, "alias", 1, MaxAliasLength) : LicenseDocument.DefaultAlias(licenseId, issuedAt);

            var itemsElement = root.GetProperty("items");
            if (itemsElement.ValueKind != JsonValueKind.Array)
            {
                throw new LicenseFormatException("'items' is not an array.");
            }

            var count = itemsElement.GetArrayLength();
            if (count is 0 or > MaxItems)
            {
                throw new LicenseFormatException($"'items' must hold 1 to {MaxItems} items; it holds {count}.");
            }

            var items = new List<LicenseItemSpec>(count);
            var ids = new HashSet<string>(StringComparer.Ordinal);
            foreach (var element in itemsElement.EnumerateArray())
            {
                var item = ParseItem(element, items.Count);
                if (!ids.Add(item.ItemId))
                {
                    throw new LicenseFormatException($"item id '{item.ItemId}' appears twice.");
                }

                items.Add(item);
            }

            foreach (var item in items.Where(i => i.Revokes is not null && ids.Contains(i.Revokes)))
            {
                throw new LicenseFormatException($"item '{item.ItemId}' revokes '{item.Revokes}' of the same license.");
            }

            return new LicenseDocument(licenseId, alias, organizationId, serverUuid, issuedAt, items);
        }
    }

    private static LicenseItemSpec ParseItem(JsonElement element, int index)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new LicenseFormatException($"items[{index}] is not an object.");
        }

        try
        {
            CheckProperties(element, ItemProperties, ["itemId", "product", "version", "deployment", "mode", "quantity", "startDate", "expirationDate"], "the item");
            var itemId = Id(element, "itemId");
            var product = String(element, "product", 1, MaxProductLength);
            if (!product.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
            {
                throw new LicenseFormatException("'product' may hold only letters, digits and '_'.");
            }

            var version = String(element, "version", 1, 6);
            if (!version.All(char.IsAsciiDigit))
            {
                throw new LicenseFormatException("'version' is not a major version number such as \"10\".");
            }

            var deployment = Enumerated<Deployment>(element, "deployment");
            var edition = element.TryGetProperty("edition", out _) ? Text(element, "edition", 0, MaxEditionLength) : string.Empty;
            var mode = Enumerated<LicenseMode>(element, "mode");
            var quantityElement = element.GetProperty("quantity");
            if (quantityElement.ValueKind != JsonValueKind.Number || !quantityElement.TryGetInt64(out var quantity) || quantity < 1 || quantity > MaxQuantity)
            {
                throw new LicenseFormatException($"'quantity' is not a whole number from 1 to {MaxQuantity}.");
            }

            var start = Date(element, "startDate");
            var expiration = Date(element, "expirationDate");
            if (expiration < start)
            {
                throw new LicenseFormatException("'expirationDate' is before 'startDate'.");
            }

            var modules = new List<string>();
            if (element.TryGetProperty("modules", out var modulesElement))
            {
                if (modulesElement.ValueKind != JsonValueKind.Array || modulesElement.GetArrayLength() > MaxModules)
                {
                    throw new LicenseFormatException($"'modules' is not an array of at most {MaxModules} names.");
                }

                foreach (var module in modulesElement.EnumerateArray())
                {
                    var name = module.ValueKind == JsonValueKind.String ? module.GetString()! : throw new LicenseFormatException("'modules' holds a value that is not a string.");
                    if (!IsId(name) || modules.Contains(name))
                    {
                        throw new LicenseFormatException($"module '{Shorten(name)}' is not a name of 1 to {MaxIdLength} letters, digits, '_', '.' or '-', or appears twice.");
                    }

                    modules.Add(name);
                }
            }

            string? revokes = null;
            if (element.TryGetProperty("revokes", out var revokesElement) && revokesElement.ValueKind != JsonValueKind.Null)
            {
                revokes = Id(element, "revokes");
                if (revokes == itemId)
                {
                    throw new LicenseFormatException("an item cannot revoke itself.");
                }
            }

            return new LicenseItemSpec(itemId, product, version, deployment, edition, mode, quantity, start, expiration, modules, revokes);
        }
        catch (LicenseFormatException ex)
        {
            throw new LicenseFormatException($"items[{index}]: {ex.Message}");
        }
    }

    internal static bool IsId(string value) =>
        value.Length is > 0 and <= MaxIdLength && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-');

    private static void CheckProperties(JsonElement element, string[] allowed, string[] required, string what)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in element.EnumerateObject())
        {
            if (!allowed.Contains(property.Name, StringComparer.Ordinal))
            {
                throw new LicenseFormatException($"{what} has an unknown field '{Shorten(property.Name)}'.");
            }

            if (!seen.Add(property.Name))
            {
                throw new LicenseFormatException($"{what} has the field '{property.Name}' twice.");
            }
        }

        foreach (var name in required.Where(r => !seen.Contains(r)))
        {
            throw new LicenseFormatException($"{what} has no '{name}'.");
        }

        // Every field but a few is a string; the exceptions are checked where they are read.
        foreach (var property in element.EnumerateObject().Where(p => p.Name is not ("items" or "quantity" or "modules" or "revokes")))
        {
            if (property.Value.ValueKind != JsonValueKind.String)
            {
                throw new LicenseFormatException($"'{property.Name}' is not a string.");
            }
        }
    }

    private static string String(JsonElement element, string name, int min, int max)
    {
        var value = element.GetProperty(name).GetString()!;
        if (value.Length < min || value.Length > max)
        {
            throw new LicenseFormatException($"'{name}' must be {min} to {max} characters long.");
        }

        return value;
    }

    /// <summary>Free text: bounded, no control characters.</summary>
    private static string Text(JsonElement element, string name, int min, int max)
    {
        var value = String(element, name, min, max);
        if (value.Any(char.IsControl))
        {
            throw new LicenseFormatException($"'{name}' holds control characters.");
        }

        return value;
    }

    private static string Id(JsonElement element, string name)
    {
        var property = element.GetProperty(name);
        var value = property.ValueKind == JsonValueKind.String ? property.GetString()! : throw new LicenseFormatException($"'{name}' is not a string.");
        if (!IsId(value))
        {
            throw new LicenseFormatException($"'{name}' must be 1 to {MaxIdLength} letters, digits, '_', '.' or '-'.");
        }

        return value;
    }

    private static T Enumerated<T>(JsonElement element, string name)
        where T : struct, Enum
    {
        var value = element.GetProperty(name).GetString()!;
        // Exact names only: Enum.TryParse would also take numbers, other casing and comma lists.
        if (!Enum.GetNames<T>().Contains(value, StringComparer.Ordinal))
        {
            throw new LicenseFormatException($"'{name}' is '{Shorten(value)}'; expected one of {string.Join(", ", Enum.GetNames<T>())}.");
        }

        return Enum.Parse<T>(value);
    }

    private static DateOnly Date(JsonElement element, string name)
    {
        var value = element.GetProperty(name).GetString()!;
        if (!DateOnly.TryParseExact(value, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date) || date.Year < 2000)
        {
            throw new LicenseFormatException($"'{name}' is not a date yyyy-MM-dd (from the year 2000).");
        }

        return date;
    }

    /// <summary>
    /// base64url in the one spelling that encodes its bytes: only the 64 letters of the alphabet, no padding, no
    /// stray low bits in the last character. <see cref="Base64Url.Decode"/> is lenient for other uses; a license is not.
    /// </summary>
    private static byte[] StrictBase64Url(string text, string name)
    {
        if (!text.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            throw new LicenseFormatException($"'{name}' is not unpadded base64url (only A-Z a-z 0-9 - _).");
        }

        byte[] bytes;
        try
        {
            bytes = Base64Url.Decode(text);
        }
        catch (FormatException)
        {
            throw new LicenseFormatException($"'{name}' is not base64url.");
        }

        if (Base64Url.Encode(bytes) != text)
        {
            throw new LicenseFormatException($"'{name}' is not base64url in canonical form.");
        }

        return bytes;
    }

    private static string CanonicalEnvelope(string format, string keyId, string payload, string signature) =>
        $$"""{"format":"{{format}}","keyId":"{{keyId}}","payload":"{{payload}}","signature":"{{signature}}"}""";

    private static DlsException Malformed(string detail, object? target, Exception? inner = null) =>
        new(ErrorIds.LicenseMalformed, DlsErrorKind.InvalidData, $"The license file is malformed: {detail}", target, inner);

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "…";
}

/// <summary>
/// A rule of the format that the content breaks (<c>LicenseMalformed</c>, or <c>LicenseFormatUnsupported</c> for a
/// format this DLS does not read). Part of the DlsException family; callers that know more (the file, the document
/// being issued) rethrow it with their own error id and target.
/// </summary>
internal sealed class LicenseFormatException(string message, bool unsupported = false)
    : DlsException(unsupported ? ErrorIds.LicenseFormatUnsupported : ErrorIds.LicenseMalformed, DlsErrorKind.InvalidData, message)
{
    public bool Unsupported { get; } = unsupported;
}
