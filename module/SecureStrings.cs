using System.Runtime.InteropServices;
using System.Security;

namespace Dls.Module;

/// <summary>SecureString parameters are opened only at the moment core needs the clear text (to hash or compare it).</summary>
internal static class SecureStrings
{
    public static string? ToPlain(SecureString? secure)
    {
        if (secure is null)
        {
            return null;
        }

        var pointer = Marshal.SecureStringToGlobalAllocUnicode(secure);
        try
        {
            return Marshal.PtrToStringUni(pointer) ?? string.Empty;
        }
        finally
        {
            Marshal.ZeroFreeGlobalAllocUnicode(pointer);
        }
    }
}
