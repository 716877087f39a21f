using BenchmarkDotNet.Running;
using EmailGuard.Benchmarks;

if (args is ["--paired"])
{
    PairedComparison.Run();
}
else
{
    BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
