using System.Net;
using System.Net.Http.Json;
using EmailGuard.Testing.Addresses;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>A <c>PerField</c> address partition folds look-alike spellings exactly as the send guard does.</summary>
public sealed class AddressFieldNormalizationTests
{
    private static Task<TestApp> StartAsync(Action<SendGuardOptions>? guard = null) => TestApp.StartAsync(
        s =>
        {
            IEmailGuardBuilder builder = s.AddEmailGuard();
            if (guard is not null)
            {
                builder.AddSendGuard(guard);
            }

            builder.AddEndpointPolicies(o => o.AddPolicy("reset", p => p.PerField("email", RateLimitRule.PerHour(2))));
        },
        a =>
        {
            a.MapPost("/reset", (ResetRequest body) => Results.Ok(body.Email)).RequireEmailRateLimit("reset");
            a.MapPost("/reset-form", ([FromForm] string email) => Results.Ok(email)).RequireEmailRateLimit("reset").DisableAntiforgery();
        });

    public sealed record ResetRequest(string Email);

    [Fact]
    public async Task JsonField_EveryLookAlikeFormOfOneMailbox_SharesOneCounter()
    {
        foreach ((string canonical, string[] forms) in AddressCorpus.Equivalent)
        {
            await using TestApp app = await StartAsync();
            List<HttpStatusCode> statuses = [];
            for (int i = 0; i < forms.Length; i++)
            {
                // Each from its own IP: a distributed attack, which only the per-address partition can stop.
                using HttpResponseMessage response = await app.PostAsync("/reset", $"203.0.113.{i + 1}", JsonContent.Create(new { email = forms[i] }));
                statuses.Add(response.StatusCode);
            }

            statuses.Count(s => s == HttpStatusCode.OK).Should().Be(2, $"the {forms.Length} spellings of {canonical} are one inbox");
            statuses.Skip(2).Should().AllBeEquivalentTo(HttpStatusCode.TooManyRequests);
        }
    }

    [Fact]
    public async Task FormField_TrailingIdeographicFullStops_ShareTheCounterOfThePlainAddress()
    {
        await using TestApp app = await StartAsync();
        string[] forms = ["victim@example.com", "victim@example.com\u3002", "victim@example.com\uFF0E", "victim@example.com\uFF61"];

        List<HttpStatusCode> statuses = [];
        foreach (string form in forms)
        {
            using var content = new FormUrlEncodedContent([new("email", form)]);
            using HttpResponseMessage response = await app.PostAsync("/reset-form", "203.0.113.9", content);
            statuses.Add(response.StatusCode);
        }

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task JsonField_InvalidLookAlikes_ShareTheCounterOfTheAddressTheyImitate()
    {
        await using TestApp app = await StartAsync();
        string[] forms = ["victim@example.com", "victim\uFF20example.com", "vic\u200Btim@example.com", "victim@exa\u00ADmple.com", "victim@example.com\u200F"];

        List<HttpStatusCode> statuses = [];
        foreach (string form in forms)
        {
            using HttpResponseMessage response = await app.PostAsync("/reset", "203.0.113.10", JsonContent.Create(new { email = form }));
            statuses.Add(response.StatusCode);
        }

        statuses.Should().Equal(
            HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task JsonField_SendGuardTurnsProviderFoldingOff_EndpointFollows()
    {
        await using TestApp app = await StartAsync(o => o.AddressNormalization.FoldProviderAliases = false);
        string[] forms = ["johndoe@gmail.com", "john.doe@gmail.com", "j.ohndoe@gmail.com", "JohnDoe@gmail.com", "JOHNDOE@gmail.com\u3002"];

        List<HttpStatusCode> statuses = [];
        foreach (string form in forms)
        {
            using HttpResponseMessage response = await app.PostAsync("/reset", "203.0.113.11", JsonContent.Create(new { email = form }));
            statuses.Add(response.StatusCode);
        }

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task FormField_DisplayNamesAndCommentsAroundOneAddress_ShareItsCounter()
    {
        // Arrange: each value passes [EmailAddress] (one '@', not first or last) and System.Net.Mail delivers it to the
        // victim; a bot varies the display name or comment on every request, from a fresh IP each time.
        await using TestApp app = await StartAsync();
        string[] forms = ["1 <victim@example.com>", "\"2\" <Victim@Example.com>", "victim@example.com (3)", "victim(4)@example.com", "<victim@example.com>"];

        // Act
        List<HttpStatusCode> statuses = [];
        for (int i = 0; i < forms.Length; i++)
        {
            using var content = new FormUrlEncodedContent([new("email", forms[i])]);
            using HttpResponseMessage response = await app.PostAsync("/reset-form", $"203.0.113.{20 + i}", content);
            statuses.Add(response.StatusCode);
        }

        // Assert
        statuses.Should().Equal(
            [HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests],
            "every value is mail to victim@example.com, whose limit is 2 an hour");
    }

    [Fact]
    public async Task JsonField_QuotedLocalPartsOfOneMailbox_ShareItsCounter()
    {
        // Arrange: each value passes [EmailAddress], System.Net.Mail and MailKit send it as written, and the victim's
        // server delivers a quoted local part as its content ("victim+1" is victim+1, the tag then cut). Keyed as
        // written, every tag or quoted-pair spelling was a fresh counter: unlimited mail to one inbox.
        await using TestApp app = await StartAsync();
        string[] forms =
        [
            "victim@gmail.com", "\"victim+1\"@gmail.com", "\"v\\ictim+2\"@gmail.com", "Victim <\"v.ictim+3\"@googlemail.com>",
            "\"vic\".\"tim+4\"@gmail.com",
        ];

        // Act: each from its own IP.
        List<HttpStatusCode> statuses = [];
        for (int i = 0; i < forms.Length; i++)
        {
            using HttpResponseMessage response = await app.PostAsync("/reset", $"203.0.113.{40 + i}", JsonContent.Create(new { email = forms[i] }));
            statuses.Add(response.StatusCode);
        }

        // Assert
        statuses.Should().Equal(
            [HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests],
            "every value is mail to victim@gmail.com, whose limit is 2 an hour");
    }

    [Fact]
    public async Task JsonField_OverlongValues_PaddingTrimmedAndTheRestShareOneCounter()
    {
        // Arrange: values longer than any address with a display name (1,016 characters), which a mailer still
        // delivers to the address inside. Each was keyed as written: a fresh counter per padding or display name.
        await using TestApp app = await StartAsync();
        string[] forms =
        [
            "victim@example.com" + new string(' ', 1000), "victim@example.com" + new string(' ', 1001),
            "Victim@Example.com" + new string(' ', 1002), // padding is trimmed: the victim's counter
            $"\"{new string('x', 1100)}\" <victim@example.com>", $"\"{new string('y', 1100)}\" <victim@example.com>",
            "victim@example.com (" + new string('z', 1100) + ")", // still over-long: one counter for them all
            "victim@example.com",
        ];

        // Act: each from its own IP.
        List<HttpStatusCode> statuses = [];
        for (int i = 0; i < forms.Length; i++)
        {
            using HttpResponseMessage response = await app.PostAsync("/reset", $"203.0.113.{i + 1}", JsonContent.Create(new { email = forms[i] }));
            statuses.Add(response.StatusCode);
        }

        // Assert: two an hour for the victim, and two an hour for every over-long value together.
        statuses.Should().Equal(
            HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests,
            HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests,
            HttpStatusCode.TooManyRequests);
    }
}
