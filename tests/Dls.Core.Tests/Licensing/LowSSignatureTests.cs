using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Dls.Core.Crypto;
using Dls.Core.Errors;
using Dls.Core.Licensing;

namespace Dls.Core.Tests.Licensing;

/// <summary>SPEC §7: a license's signature is valid only in low-S form; our issuer always writes that form.</summary>
public sealed class LowSSignatureTests : IDisposable
{
    private const string Uuid = "0b9e4a52-7d35-4c1e-9a43-8f4a2c6d1e70";
    private readonly LicenseFiles _files = new();

    public void Dispose() => _files.Dispose();

    private byte[]? Trusted(string keyId) => keyId == _files.KeyId ? _files.Issuer.ExportSubjectPublicKeyInfo() : null;

    private static byte[] SignatureOf(string file) =>
        Base64Url.Decode(JsonDocument.Parse(file).RootElement.GetProperty("signature").GetString()!);

    [Fact]
    public void The_writer_always_produces_low_S_signatures()
    {
        // ECDSA nonces are random, so about half of raw signatures are high-S: 64 files all low means the writer normalizes.
        for (var i = 0; i < 64; i++)
        {
            var file = _files.Write(LicenseFiles.Document(Uuid, licenseId: $"L{i}"));
            Assert.True(SignatureTwin.S(SignatureOf(file)) <= SignatureTwin.Order / 2, $"file {i} has a high s");
            Assert.Equal($"L{i}", LicenseFile.Open(Encoding.ASCII.GetBytes(file), Trusted).Document.LicenseId);
        }
    }

    [Fact]
    public void The_high_S_twin_of_a_valid_file_verifies_mathematically_but_is_refused()
    {
        var file = _files.Write(LicenseFiles.Document(Uuid));
        var twinFile = SignatureTwin.HighSFile(file);
        var payload = JsonDocument.Parse(file).RootElement.GetProperty("payload").GetString()!;

        Assert.True(_files.Issuer.VerifyData(Encoding.ASCII.GetBytes(payload), SignatureOf(twinFile), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
        var error = Assert.Throws<DlsException>(() => LicenseFile.Open(SignatureTwin.Bytes(twinFile), Trusted));
        Assert.Equal("LicenseMalformed", error.ErrorId);
        Assert.Contains("low-S", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Normalizing_turns_a_high_s_into_n_minus_s_and_leaves_a_low_one_alone()
    {
        var data = "payload"u8.ToArray();
        var low = EcKeys.SignLowS(_files.Issuer, data);
        var high = SignatureTwin.Of(low);
        Assert.True(EcKeys.IsLowS(low));
        Assert.False(EcKeys.IsLowS(high));

        var normalized = (byte[])high.Clone();
        EcKeys.NormalizeLowS(normalized);
        Assert.Equal(low, normalized);

        var again = (byte[])low.Clone();
        EcKeys.NormalizeLowS(again);
        Assert.Equal(low, again);
    }

    [Fact]
    public void A_zero_s_is_not_low_S()
    {
        var signature = EcKeys.SignLowS(_files.Issuer, "x"u8);
        Array.Clear(signature, 32, 32);
        Assert.False(EcKeys.IsLowS(signature));
    }
}
