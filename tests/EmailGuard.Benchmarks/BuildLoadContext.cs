using System.Reflection;
using System.Runtime.Loader;

namespace EmailGuard.Benchmarks;

/// <summary>
/// Loads the EmailGuard assemblies of one build from its output folder; everything else (the runtime,
/// StackExchange.Redis, BenchmarkDotNet) is shared with this process. How <see cref="BuildComparison"/> and
/// <see cref="Redis.RedisBuildComparison"/> run two builds side by side in one process.
/// </summary>
internal sealed class BuildLoadContext(string folder) : AssemblyLoadContext($"build {folder}")
{
    /// <summary>The build's output folder, a built <c>tests/EmailGuard.Benchmarks/bin/Release/net10.0</c>.</summary>
    public string Folder => folder;

    /// <summary>The build's copy of <paramref name="type"/> from the benchmarks assembly, loaded from <paramref name="folder"/>.</summary>
    public static Type LoadBenchmarkType(string folder, Type type)
    {
        BuildLoadContext context = new(Path.GetFullPath(folder));
        Assembly benchmarks = context.LoadFromAssemblyPath(Path.Combine(context.Folder, "EmailGuard.Benchmarks.dll"));
        return benchmarks.GetType(type.FullName!, throwOnError: true)!;
    }

    /// <inheritdoc />
    protected override Assembly? Load(AssemblyName assemblyName)
    {
        string path = Path.Combine(folder, assemblyName.Name + ".dll");
        return assemblyName.Name is { } name && name.StartsWith("EmailGuard", StringComparison.Ordinal) && File.Exists(path)
            ? LoadFromAssemblyPath(path)
            : null;
    }
}
