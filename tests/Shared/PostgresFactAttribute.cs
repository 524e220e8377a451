namespace Dls.Tests;

/// <summary>
/// A fact that needs the tests' own PostgreSQL cluster (<see cref="TestPostgres"/>): reported as skipped, with the
/// reason, where PostgreSQL is not installed, rather than passing without having asserted anything. Decided when
/// tests are discovered, from the binaries alone; an installed cluster that fails to start fails the test.
/// </summary>
public sealed class PostgresFactAttribute : FactAttribute
{
    public PostgresFactAttribute()
    {
        if (!TestPostgres.Available)
        {
            Skip = $"needs PostgreSQL: {TestPostgres.UnavailableReason}";
        }
    }
}
