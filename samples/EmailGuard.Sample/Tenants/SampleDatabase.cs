using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace EmailGuard.Sample.Tenants;

/// <summary>
/// The app's own database (SQLite): tenants with their custom mail limits, and accounts. It stands for the database a
/// real app already has; EmailGuard reads per-tenant limits from it through the tenant limit provider.
/// </summary>
public sealed class SampleDatabase
{
    private readonly string _connectionString;

    public SampleDatabase(IOptions<SampleOptions> options, IWebHostEnvironment environment)
    {
        string path = Path.GetFullPath(options.Value.DatabasePath, environment.ContentRootPath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        _connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString();
        Initialize();
    }

    public IReadOnlyList<Tenant> GetTenants()
    {
        using SqliteConnection connection = Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "SELECT id, name, plan, hourly_limit, daily_limit FROM tenants ORDER BY name";
        using SqliteDataReader reader = command.ExecuteReader();
        List<Tenant> tenants = [];
        while (reader.Read())
        {
            tenants.Add(ReadTenant(reader));
        }

        return tenants;
    }

    public Tenant? FindTenant(string id)
    {
        using SqliteConnection connection = Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "SELECT id, name, plan, hourly_limit, daily_limit FROM tenants WHERE id = $id";
        command.Parameters.AddWithValue("$id", id);
        using SqliteDataReader reader = command.ExecuteReader();
        return reader.Read() ? ReadTenant(reader) : null;
    }

    /// <summary>Sets a tenant's custom limits; null returns a limit to the configured default.</summary>
    public void SetTenantLimits(string id, long? hourly, long? daily)
    {
        using SqliteConnection connection = Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "UPDATE tenants SET hourly_limit = $hourly, daily_limit = $daily WHERE id = $id";
        command.Parameters.AddWithValue("$id", id);
        command.Parameters.AddWithValue("$hourly", (object?)hourly ?? DBNull.Value);
        command.Parameters.AddWithValue("$daily", (object?)daily ?? DBNull.Value);
        command.ExecuteNonQuery();
    }

    /// <summary>Creates the account; false when it already existed.</summary>
    public bool TryCreateAccount(string email, DateTimeOffset createdAt)
    {
        using SqliteConnection connection = Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "INSERT OR IGNORE INTO accounts (email, created_at) VALUES ($email, $created)";
        command.Parameters.AddWithValue("$email", email);
        command.Parameters.AddWithValue("$created", createdAt.ToUnixTimeMilliseconds());
        return command.ExecuteNonQuery() == 1;
    }

    public bool AccountExists(string email)
    {
        using SqliteConnection connection = Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM accounts WHERE email = $email";
        command.Parameters.AddWithValue("$email", email);
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) > 0;
    }

    private static Tenant ReadTenant(SqliteDataReader reader) => new(
        reader.GetString(0),
        reader.GetString(1),
        reader.GetString(2),
        reader.IsDBNull(3) ? null : reader.GetInt64(3),
        reader.IsDBNull(4) ? null : reader.GetInt64(4));

    private SqliteConnection Open()
    {
        SqliteConnection connection = new(_connectionString);
        connection.Open();
        return connection;
    }

    private void Initialize()
    {
        using SqliteConnection connection = Open();
        using SqliteCommand command = connection.CreateCommand();
        // The trial tenant gets the low custom caps of the real incident (a trial account scripted thousands of shares).
        command.CommandText = """
            CREATE TABLE IF NOT EXISTS tenants (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                plan TEXT NOT NULL,
                hourly_limit INTEGER NULL,
                daily_limit INTEGER NULL);
            CREATE TABLE IF NOT EXISTS accounts (
                email TEXT PRIMARY KEY,
                created_at INTEGER NOT NULL);
            INSERT OR IGNORE INTO tenants (id, name, plan, hourly_limit, daily_limit) VALUES
                ('acme', 'Acme Corp', 'business', NULL, NULL),
                ('globex', 'Globex', 'enterprise', 300, 3000),
                ('trial-42', 'Trial tenant 42', 'trial', 5, 20);
            """;
        command.ExecuteNonQuery();
    }
}
