namespace EmailGuard;

/// <summary>Nothing to configure: validating it at startup checks the section names below <c>EmailGuard</c>.</summary>
internal sealed class EmailGuardSectionsCheck;
