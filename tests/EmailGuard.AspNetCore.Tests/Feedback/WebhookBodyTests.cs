using System.Text;
using EmailGuard.AspNetCore;
using Microsoft.AspNetCore.Http;

namespace EmailGuard.AspNetCore.Tests.Feedback;

public sealed class WebhookBodyTests
{
    [Fact]
    public async Task Read_DeclaredLengthOfTheLimit_DoesNotSizeTheBufferBeforeTheBytesArrive()
    {
        // Arrange: the webhook routes read before they verify. A caller that declares MaxBodyBytes and sends nothing had
        // a buffer of that size allocated at once, per connection: a thousand idle connections held a gigabyte (found by
        // h58's hostile review).
        const int max = 1024 * 1024;
        RecordingStream body = new(Encoding.UTF8.GetBytes("""{"event":"bounce"}"""));
        DefaultHttpContext context = new();
        context.Request.ContentLength = max;
        context.Request.Body = body;

        // Act
        ReadOnlyMemory<byte>? read = await WebhookBody.ReadAsync(context.Request, max, CancellationToken.None);

        // Assert
        read.Should().NotBeNull();
        Encoding.UTF8.GetString(read!.Value.Span).Should().Be("""{"event":"bounce"}""");
        body.LargestBuffer.Should().BeLessThanOrEqualTo(WebhookBody.InitialBytes);
    }

    [Fact]
    public async Task Read_BodyLargerThanTheFirstBuffer_GrowsAndIsReadWhole()
    {
        byte[] bytes = new byte[(WebhookBody.InitialBytes * 5) + 3];
        Random.Shared.NextBytes(bytes);
        DefaultHttpContext context = new();
        context.Request.ContentLength = bytes.Length;
        context.Request.Body = new RecordingStream(bytes);

        ReadOnlyMemory<byte>? read = await WebhookBody.ReadAsync(context.Request, bytes.Length, CancellationToken.None);

        read!.Value.ToArray().Should().Equal(bytes);
    }

    [Fact]
    public async Task Read_BodyOneByteOverTheLimit_IsNull()
    {
        DefaultHttpContext context = new();
        context.Request.Body = new RecordingStream(new byte[(WebhookBody.InitialBytes * 2) + 1]);

        (await WebhookBody.ReadAsync(context.Request, WebhookBody.InitialBytes * 2, CancellationToken.None)).Should().BeNull();
    }

    /// <summary>A body that hands out its bytes and remembers the largest buffer it was asked to fill.</summary>
    private sealed class RecordingStream(byte[] content) : MemoryStream(content)
    {
        public int LargestBuffer { get; private set; }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            LargestBuffer = Math.Max(LargestBuffer, buffer.Length);
            return base.ReadAsync(buffer, cancellationToken);
        }
    }
}
