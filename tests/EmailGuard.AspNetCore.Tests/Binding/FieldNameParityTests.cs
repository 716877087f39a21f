using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>The field names the middleware counts are exactly the names binding binds.</summary>
public sealed class FieldNameParityTests
{
    private sealed record Target(string? Email);

    [Theory]
    [InlineData("email")]
    [InlineData("EMAIL")]
    [InlineData("eMaIl")]
    [InlineData("\\u0065mail")]
    [InlineData("ema\\u0131l")]
    [InlineData("EMA\\u0130L")]
    [InlineData("\\uFF45mail")]
    [InlineData("email ")]
    [InlineData(" email")]
    [InlineData("e-mail")]
    [InlineData("e\\u200Bmail")]
    [InlineData("emai\\u006C")]
    [InlineData("EMAI\\u212A")]
    public async Task JsonPropertyName_CountedExactlyWhenSystemTextJsonBindsIt(string name)
    {
        string json = $"{{\"{name}\":\"victim@example.com\"}}";
        bool binds = JsonSerializer.Deserialize<Target>(json, JsonSerializerOptions.Web)!.Email is not null;
        byte[] body = Encoding.UTF8.GetBytes(json);
        var context = new DefaultHttpContext();
        context.Request.ContentType = "application/json";
        context.Request.ContentLength = body.Length;
        context.Request.Body = new MemoryStream(body);

        BodyFieldReader.Result result = await BodyFieldReader.ReadAsync(context, ["email"], 64 * 1024);

        result.Succeeded.Should().BeTrue();
        (result.Values[0].Count > 0).Should().Be(binds, $"System.Text.Json {(binds ? "binds" : "does not bind")} '{name}'");
    }

    [Theory]
    [InlineData("email", true)]
    [InlineData("EMAIL", true)]
    [InlineData("Input.Email", true)]
    [InlineData("model.email", true)]
    [InlineData("a.b.email", true)]
    [InlineData("email[0]", true)]
    [InlineData("Input.Email[3]", true)]
    [InlineData("emails", false)]
    [InlineData("myemail", false)]
    [InlineData("email.address", false)]
    [InlineData("Input_Email", false)]
    [InlineData("Input[Email]", true)]
    [InlineData("model[email][0]", true)]
    [InlineData("email[]", true)]
    [InlineData("[email]", true)]
    [InlineData("Input[Email]x", false)]
    [InlineData("Input[Emails]", false)]
    [InlineData("email[address]", false)]
    [InlineData("", false)]
    public void FormKey_MatchesTheNamesMvcBindsToTheField(string key, bool expected)
    {
        FieldNameMatcher.Matches(key, "email").Should().Be(expected);
    }

    [Fact]
    public void FormKey_DottedFieldName_MatchesItselfAndLongerPrefixes()
    {
        FieldNameMatcher.Matches("Input.Email", "Input.Email").Should().BeTrue();
        FieldNameMatcher.Matches("Outer.Input.Email", "Input.Email").Should().BeTrue();
        FieldNameMatcher.Matches("Email", "Input.Email").Should().BeFalse();
        FieldNameMatcher.Matches("XInput.Email", "Input.Email").Should().BeFalse();
    }
}
