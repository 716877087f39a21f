using System.Net;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EmailGuard.Dashboard.Tests;

/// <summary>A local HTTP server on 127.0.0.1 that records every alert it receives: path, headers, raw body.</summary>
internal sealed class AlertReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly List<Received> _others = [];

    private AlertReceiver(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    public Uri Address { get; }

    public Channel<Received> Alerts { get; } = Channel.CreateUnbounded<Received>();

    /// <summary>Until completed, each request is recorded and then held without an answer, as a slow receiver would.</summary>
    public TaskCompletionSource Hold { get; set; } = CompletedHold();

    /// <summary>Which requests are answered 500 (recorded all the same), as a receiver that is down for some senders.</summary>
    public Func<Received, bool>? Fails { get; set; }

    public static async Task<AlertReceiver> StartAsync()
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        WebApplication app = builder.Build();
        AlertReceiver? receiver = null;
        app.MapPost("/{sink}", async (HttpContext context, string sink) =>
        {
            using MemoryStream body = new();
            await context.Request.Body.CopyToAsync(body);
            Received received = new(sink, context.Request.Headers[EmailGuardWebhookSignature.TimestampHeader].FirstOrDefault(),
                context.Request.Headers[EmailGuardWebhookSignature.SignatureHeader].FirstOrDefault(), body.ToArray());
            await receiver!.Alerts.Writer.WriteAsync(received);
            await receiver.Hold.Task;
            return receiver.Fails?.Invoke(received) == true ? Results.StatusCode(StatusCodes.Status500InternalServerError) : Results.Ok();
        });
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        receiver = new AlertReceiver(app, new Uri(address));
        return receiver;
    }

    /// <summary>The next alert that reached <paramref name="sink"/>; alerts of other sinks stay for their own call.</summary>
    public async Task<Received> NextAsync(string sink)
    {
        int index = _others.FindIndex(r => r.Sink == sink);
        if (index >= 0)
        {
            Received buffered = _others[index];
            _others.RemoveAt(index);
            return buffered;
        }

        using CancellationTokenSource timeout = new(TimeSpan.FromSeconds(60));
        while (true)
        {
            Received received = await Alerts.Reader.ReadAsync(timeout.Token);
            if (received.Sink == sink)
            {
                return received;
            }

            _others.Add(received);
        }
    }

    private static TaskCompletionSource CompletedHold()
    {
        TaskCompletionSource hold = new(TaskCreationOptions.RunContinuationsAsynchronously);
        hold.SetResult();
        return hold;
    }

    public async ValueTask DisposeAsync()
    {
        Hold.TrySetResult();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    internal sealed record Received(string Sink, string? Timestamp, string? Signature, byte[] Body)
    {
        public string Text => System.Text.Encoding.UTF8.GetString(Body);
    }
}
