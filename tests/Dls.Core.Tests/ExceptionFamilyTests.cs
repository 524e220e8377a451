using System.Text;
using Dls.Core.Errors;
using Dls.Core.Licensing;
using Dls.Core.Protocol;

namespace Dls.Core.Tests;

/// <summary>One exception family: what core throws for bad input is a DlsException with a stable ErrorId.</summary>
public sealed class ExceptionFamilyTests
{
    [Fact]
    public void A_malformed_request_is_a_DlsException_RequestMalformed_that_answers_400()
    {
        var error = Assert.Throws<ProtocolException>(() => WireFormat.ReadAuth(Encoding.UTF8.GetBytes("{\"clientUuid\": 5}")));

        DlsException family = error;
        Assert.Equal(ErrorIds.RequestMalformed, family.ErrorId);
        Assert.Equal(DlsErrorKind.InvalidData, family.Kind);
        Assert.Equal(ErrorCodes.Malformed, error.ErrorCode);
    }

    [Fact]
    public void An_oversized_request_is_a_DlsException_RequestTooLarge_that_answers_413()
    {
        var error = Assert.Throws<ProtocolException>(() => WireFormat.ReadAuth(new byte[WireFormat.MaxAuthBodyBytes + 1]));

        Assert.Equal(ErrorIds.RequestTooLarge, error.ErrorId);
        Assert.Equal(DlsErrorKind.LimitsExceeded, error.Kind);
        Assert.Equal(ErrorCodes.TooLarge, error.ErrorCode);
    }

    [Fact]
    public void A_license_format_rule_is_a_DlsException_LicenseMalformed_or_LicenseFormatUnsupported()
    {
        Assert.Equal(ErrorIds.LicenseMalformed, new LicenseFormatException("bad").ErrorId);
        Assert.Equal(ErrorIds.LicenseFormatUnsupported, new LicenseFormatException("newer", unsupported: true).ErrorId);
        Assert.IsAssignableFrom<DlsException>(new LicenseFormatException("bad"));
    }

    [Fact]
    public void A_malformed_license_file_is_refused_with_the_LicenseMalformed_constant()
    {
        var error = Assert.Throws<DlsException>(() => LicenseFile.Open(Encoding.ASCII.GetBytes("not a license"), _ => null));

        Assert.Equal(ErrorIds.LicenseMalformed, error.ErrorId);
    }
}
