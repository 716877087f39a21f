using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// A defense in configuration overrides the one in code setting by setting, through a hand-written <c>Over(code)</c>
/// per options type. A setting added to an options type but not to its <c>Over</c> would silently fall back to its
/// default whenever configuration tunes any other setting; this test finds it by reflection, whatever the setting.
/// </summary>
public sealed class DefenseOverlayTests
{
    public static TheoryData<Type> DefenseOptionsTypes =>
    [
        typeof(EmailGuardEscalatingBanOptions),
        typeof(EmailGuardAllow2BanOptions),
        typeof(EmailGuardBounceBanOptions),
        typeof(EmailGuardSurgeBreakerOptions),
    ];

    [Theory]
    [MemberData(nameof(DefenseOptionsTypes))]
    public void Over_ConfigurationSettingNothing_KeepsEveryCodeSetting(Type type)
    {
        PropertyInfo[] settings = type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite).ToArray();
        object code = Activator.CreateInstance(type)!;
        foreach (PropertyInfo setting in settings)
        {
            setting.SetValue(code, Changed(setting.GetValue(code)!));
        }

        // Bound from a section that holds no key: every setting is left to the code.
        object configured = Activator.CreateInstance(type)!;
        object assigned = type.GetProperty("Assigned", BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(configured)!;
        ((AssignedSettings)assigned).MarkFrom(new ConfigurationBuilder().Build().GetSection("EmailGuard:Endpoints:PolicyDefenses:signup:Defense"));

        object result = type.GetMethod("Over", BindingFlags.NonPublic | BindingFlags.Instance)!.Invoke(configured, [code])!;

        settings.Should().NotBeEmpty();
        foreach (PropertyInfo setting in settings)
        {
            setting.GetValue(result).Should().Be(setting.GetValue(code), $"{type.Name}.{setting.Name} is not set by configuration, so the code's value stands");
        }
    }

    [Theory]
    [MemberData(nameof(DefenseOptionsTypes))]
    public void Over_ConfigurationSettingEverything_WinsForEverySetting(Type type)
    {
        PropertyInfo[] settings = type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite).ToArray();
        object code = Activator.CreateInstance(type)!;
        object configured = Activator.CreateInstance(type)!;
        var keys = new Dictionary<string, string?>();
        foreach (PropertyInfo setting in settings)
        {
            setting.SetValue(code, Changed(setting.GetValue(code)!));
            setting.SetValue(configured, Changed(Changed(setting.GetValue(configured)!)));
            keys[$"Defense:{setting.Name}"] = "set";
        }

        object assigned = type.GetProperty("Assigned", BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(configured)!;
        ((AssignedSettings)assigned).MarkFrom(new ConfigurationBuilder().AddInMemoryCollection(keys).Build().GetSection("Defense"));

        object result = type.GetMethod("Over", BindingFlags.NonPublic | BindingFlags.Instance)!.Invoke(configured, [code])!;

        foreach (PropertyInfo setting in settings)
        {
            setting.GetValue(result).Should().Be(setting.GetValue(configured), $"configuration sets {type.Name}.{setting.Name}");
        }
    }

    /// <summary>A value of the same type that differs from <paramref name="value"/>.</summary>
    private static object Changed(object value) => value switch
    {
        int i => i + 3,
        long l => l + 3,
        double d => d + 0.25,
        TimeSpan t => t + TimeSpan.FromSeconds(7),
        bool b => !b,
        Enum e => Enum.GetValues(e.GetType()).Cast<object>().First(v => !v.Equals(e)),
        _ => throw new NotSupportedException($"Add a changed value for {value.GetType().Name}."),
    };
}
