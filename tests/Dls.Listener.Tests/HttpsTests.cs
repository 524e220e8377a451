using System.Net;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Dls.Core.Server;
using Dls.Core.Storage;

namespace Dls.Listener.Tests;

/// <summary>
/// HTTPS with the administrator's own certificate: a real listener process serves /healthz to a client that
/// trusts that one certificate and nothing else, from a PFX file or from PEM files.
/// </summary>
public sealed class HttpsTests : IDisposable
{
    private const string Password = "pfx-p@ss wörd";
    private readonly string _folder = Directory.CreateTempSubdirectory("dls-https-test-").FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task Https_from_a_pfx_with_a_password_answers_healthz_to_a_client_that_trusts_only_that_certificate()
    {
        using var certificate = NewCertificate("dls-pfx");
        var pfx = Write("server.pfx", certificate.Export(X509ContentType.Pfx, Password));

        await using var listener = await ListenerHost.StartAsync(
            "https", ["--certificate", pfx], PasswordEnvironment(Password), TrustOnly(certificate));

        await AssertHealthyAsync(listener);
        await AssertLoggedAsync(listener, certificate.GetCertHashString(HashAlgorithmName.SHA256));
    }

    [Fact]
    public async Task Https_from_a_pem_certificate_and_key_answers_healthz_to_a_client_that_trusts_only_that_certificate()
    {
        using var certificate = NewCertificate("dls-pem");
        var (crt, key) = WritePem(certificate, "server", keyPassword: null);

        await using var listener = await ListenerHost.StartAsync(
            "https", ["--certificate", crt, "--certificate-key", key], new Dictionary<string, string>(), TrustOnly(certificate));

        await AssertHealthyAsync(listener);
    }

    [Fact]
    public async Task Https_from_a_pem_certificate_and_an_encrypted_key_answers_healthz()
    {
        using var certificate = NewCertificate("dls-pem-encrypted");
        var (crt, key) = WritePem(certificate, "encrypted", keyPassword: Password);
        Assert.Contains("ENCRYPTED PRIVATE KEY", File.ReadAllText(key));

        await using var listener = await ListenerHost.StartAsync(
            "https", ["--certificate", crt, "--certificate-key", key], PasswordEnvironment(Password), TrustOnly(certificate));

        await AssertHealthyAsync(listener);
    }

    [Fact]
    public async Task A_client_that_trusts_one_certificate_refuses_a_listener_serving_another()
    {
        using var trusted = NewCertificate("dls-trusted");
        using var other = NewCertificate("dls-other");
        var pfx = Write("other.pfx", other.Export(X509ContentType.Pfx, Password));

        // Started (and proven up) through a client that trusts the listener's own certificate.
        await using var listener = await ListenerHost.StartAsync(
            "https", ["--certificate", pfx], PasswordEnvironment(Password), TrustOnly(other));
        await AssertHealthyAsync(listener);

        using var client = new HttpClient(TrustOnly(trusted)) { BaseAddress = new Uri(listener.Url), Timeout = TimeSpan.FromSeconds(30) };
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync("healthz"));
        Assert.IsType<AuthenticationException>(refused.InnerException);
    }

    [Fact]
    public async Task A_wrong_pfx_password_ends_the_start_with_one_clear_line_and_exit_code_2()
    {
        using var certificate = NewCertificate("dls-wrong-password");
        var pfx = Write("server.pfx", certificate.Export(X509ContentType.Pfx, Password));

        var (exitCode, error) = await RunUntilExitAsync(["--certificate", pfx], PasswordEnvironment("not the password"));

        Assert.Equal(2, exitCode);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.StartsWith("dls-listener: ", line);
        Assert.Contains(pfx, line);
        Assert.Contains("password", line);
    }

    public static TheoryData<string> UnusableCertificates => new() { "missing file", "key of another certificate", "encrypted key without password", "no key" };

    [Theory]
    [MemberData(nameof(UnusableCertificates))]
    public async Task An_unusable_certificate_ends_the_start_with_one_clear_line_and_no_stack_trace(string problem)
    {
        using var certificate = NewCertificate("dls-unusable");
        using var stranger = NewCertificate("dls-stranger");
        var (crt, _) = WritePem(certificate, "server", keyPassword: null);
        var (_, strangerKey) = WritePem(stranger, "stranger", keyPassword: null);
        var (_, encryptedKey) = WritePem(certificate, "encrypted", keyPassword: Password);
        string[] arguments = problem switch
        {
            "missing file" => ["--certificate", Path.Combine(_folder, "absent.pfx")],
            "key of another certificate" => ["--certificate", crt, "--certificate-key", strangerKey],
            "encrypted key without password" => ["--certificate", crt, "--certificate-key", encryptedKey],
            _ => ["--certificate", crt],
        };

        var (exitCode, error) = await RunUntilExitAsync(arguments, new Dictionary<string, string>());

        Assert.Equal(2, exitCode);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.StartsWith("dls-listener: ", line);
        Assert.DoesNotContain(" at ", line);
    }

    private static Dictionary<string, string> PasswordEnvironment(string password) => new() { ["DLS_CERTIFICATE_PASSWORD"] = password };

    /// <summary>A client that accepts exactly this certificate: the chain of a self-signed one never validates, the bytes must match.</summary>
    private static SocketsHttpHandler TrustOnly(X509Certificate2 certificate)
    {
        var thumbprint = certificate.GetCertHashString(HashAlgorithmName.SHA256);
        return new SocketsHttpHandler
        {
            UseProxy = false,
            SslOptions =
            {
                RemoteCertificateValidationCallback = (_, presented, _, _) =>
                    presented is not null && presented.GetCertHashString(HashAlgorithmName.SHA256) == thumbprint,
            },
        };
    }

    private static async Task AssertHealthyAsync(ListenerHost listener)
    {
        Assert.StartsWith("https://127.0.0.1:", listener.Url);
        using var response = await listener.Http.GetAsync("healthz");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var health = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(listener.Server.Uuid, health.RootElement.GetProperty("uuid").GetString());
    }

    private static async Task AssertLoggedAsync(ListenerHost listener, string text)
    {
        // The console logger writes from its own queue: the line may come a moment after the listener answers.
        await Eventually.Until(() => listener.Output.Contains(text, StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        Assert.Contains(text, listener.Output);
    }

    /// <summary>A self-signed server certificate for 127.0.0.1 and localhost, with its private key.</summary>
    private static X509Certificate2 NewCertificate(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
    }

    private (string Certificate, string Key) WritePem(X509Certificate2 certificate, string name, string? keyPassword)
    {
        using var key = certificate.GetECDsaPrivateKey()!;
        var keyPem = keyPassword is null
            ? key.ExportPkcs8PrivateKeyPem()
            : key.ExportEncryptedPkcs8PrivateKeyPem(keyPassword, new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, 100_000));
        return (Write($"{name}.crt", certificate.ExportCertificatePem()), Write($"{name}.key", keyPem));
    }

    private string Write(string name, byte[] content)
    {
        var path = Path.Combine(_folder, name);
        File.WriteAllBytes(path, content);
        return path;
    }

    private string Write(string name, string content)
    {
        var path = Path.Combine(_folder, name);
        File.WriteAllText(path, content);
        return path;
    }

    /// <summary>Starts a listener that is expected to refuse its certificate, and returns its exit code and stderr.</summary>
    private async Task<(int ExitCode, string Error)> RunUntilExitAsync(string[] arguments, IReadOnlyDictionary<string, string> environment)
    {
        var storePath = Path.Combine(_folder, $"store-{Guid.NewGuid():N}.db");
        new ServerService(DlsStore.OpenOrCreate(storePath), TimeProvider.System).Initialize("216998", force: false);
        using var process = ListenerHost.Launch(storePath, "https://127.0.0.1:0", arguments, environment);
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"The listener did not refuse its certificate: {await output}");
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        }

        return (process.ExitCode, await error);
    }
}
