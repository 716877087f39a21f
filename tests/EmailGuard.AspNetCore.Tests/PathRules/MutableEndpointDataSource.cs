using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Primitives;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// Endpoints an app maps after startup (a plugin, a module loaded late): each change replaces them and fires the change
/// token, as routing's own data sources do.
/// </summary>
internal sealed class MutableEndpointDataSource(params Endpoint[] endpoints) : EndpointDataSource
{
    private readonly Lock _lock = new();
    private Endpoint[] _endpoints = endpoints;
    private CancellationTokenSource _changed = new();

    /// <summary>Gets or sets whether reading the endpoints throws, as a source in the middle of failing to load.</summary>
    public bool Fail { get; set; }

    public override IReadOnlyList<Endpoint> Endpoints => Fail ? throw new InvalidOperationException("The module's endpoints cannot be read.") : Volatile.Read(ref _endpoints);

    public override IChangeToken GetChangeToken()
    {
        lock (_lock)
        {
            return new CancellationChangeToken(_changed.Token);
        }
    }

    public void Set(params Endpoint[] endpoints)
    {
        CancellationTokenSource changed;
        lock (_lock)
        {
            Volatile.Write(ref _endpoints, endpoints);
            changed = _changed;
            _changed = new CancellationTokenSource();
        }

        changed.Cancel();
    }
}
