using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Dls.Listener.Hosting;

/// <summary>
/// Says in the log which certificate HTTPS serves, and warns when it has expired or soon will: clients refuse
/// an expired certificate, and the log is where an administrator looks first when they do.
/// </summary>
public sealed class HttpsCertificateNotice(X509Certificate2 certificate, TimeProvider time, ILogger<HttpsCertificateNotice> logger) : IHostedService
{
    private static readonly TimeSpan SoonEnough = TimeSpan.FromDays(14);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var notAfter = new DateTimeOffset(certificate.NotAfter.ToUniversalTime(), TimeSpan.Zero);
        var notBefore = new DateTimeOffset(certificate.NotBefore.ToUniversalTime(), TimeSpan.Zero);
        var thumbprint = certificate.GetCertHashString(HashAlgorithmName.SHA256);
        logger.LogInformation("HTTPS certificate {Subject}, SHA-256 {Thumbprint}, valid until {NotAfter:u}", certificate.Subject, thumbprint, notAfter);
        if (notAfter < now)
        {
            logger.LogWarning("The HTTPS certificate {Thumbprint} expired on {NotAfter:u}; clients will refuse it", thumbprint, notAfter);
        }
        else if (notBefore > now)
        {
            logger.LogWarning("The HTTPS certificate {Thumbprint} is valid only from {NotBefore:u}; clients will refuse it until then", thumbprint, notBefore);
        }
        else if (notAfter - now < SoonEnough)
        {
            logger.LogWarning("The HTTPS certificate {Thumbprint} expires on {NotAfter:u}; renew it", thumbprint, notAfter);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
