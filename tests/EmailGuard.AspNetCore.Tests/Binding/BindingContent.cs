using System.Net.Http.Headers;
using System.Text;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>Request bodies written byte for byte, as an attacker writes them rather than as a serializer would.</summary>
internal static class BindingContent
{
    public static ByteArrayContent Json(string raw, string contentType = "application/json", Encoding? encoding = null)
        => Raw((encoding ?? Encoding.UTF8).GetBytes(raw), contentType);

    public static ByteArrayContent Form(string raw, string contentType = "application/x-www-form-urlencoded", Encoding? encoding = null)
        => Raw((encoding ?? Encoding.UTF8).GetBytes(raw), contentType);

    public static ByteArrayContent Raw(byte[] bytes, string? contentType)
    {
        var content = new ByteArrayContent(bytes);
        if (contentType is not null)
        {
            content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }

        return content;
    }
}
