namespace EmailGuard.Tests.Guard;

/// <summary>
/// The check's scratch sets are pooled beyond the thread's own (for checks that finish on another thread), so a set
/// pooled twice would be handed to two checks at once, each overwriting the other's requests.
/// </summary>
public sealed class GuardBuffersTests
{
    [Fact]
    public void ASetHandedBackTwice_IsPooledOnce_AndNeverRentedToTwoChecks()
    {
        GuardBuffers[] rented = [];

        // A thread of its own, so that its cached set is known: the first set handed back is cached on the thread, the
        // second goes to the shared pool, and its second hand-back must not put it there again.
        Thread thread = new(() =>
        {
            GuardBuffers first = GuardBuffers.Rent();
            GuardBuffers second = GuardBuffers.Rent();
            first.Return();
            second.Return();
            second.Return();
            rented = [GuardBuffers.Rent(), GuardBuffers.Rent(), GuardBuffers.Rent()];
            foreach (GuardBuffers buffers in rented)
            {
                buffers.Return();
            }
        });
        thread.Start();
        thread.Join();

        rented.Should().HaveCount(3).And.OnlyHaveUniqueItems();
    }
}
