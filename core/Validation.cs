using Dls.Core.Errors;

namespace Dls.Core;

/// <summary>Checks of administrator input shared by the services; each failure is a <see cref="DlsException"/> naming the field.</summary>
public static class Validation
{
    public const int MaxIdLength = 64;

    /// <summary>Organization ids are strings of letters, digits, '_' and '.' (they prefix handshake codes, so no '-').</summary>
    public static string OrganizationId(string value)
    {
        if (value.Length == 0 || value.Length > MaxIdLength || !value.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.'))
        {
            throw new DlsException(
                ErrorIds.OrganizationIdInvalid,
                DlsErrorKind.InvalidArgument,
                $"The organization id '{value}' is not valid: use 1 to {MaxIdLength} letters, digits, '_' or '.'.",
                value);
        }

        return value;
    }

    /// <summary>An absolute http(s) URL, normalised to end with '/'; empty allowed where the setting is optional.</summary>
    public static string ServerUrl(string value, string field, bool allowEmpty)
    {
        if (value.Length == 0 && allowEmpty)
        {
            return value;
        }

        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
            || !string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment))
        {
            throw new DlsException(
                ErrorIds.ServerUrlInvalid,
                DlsErrorKind.InvalidArgument,
                $"{field} '{value}' is not an absolute http:// or https:// URL without query.",
                value);
        }

        var text = uri.GetLeftPart(UriPartial.Path);
        return text.EndsWith('/') ? text : text + "/";
    }
}
