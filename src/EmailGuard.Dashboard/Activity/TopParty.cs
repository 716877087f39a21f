namespace EmailGuard.Dashboard;

/// <summary>A party ranked by the recent-activity record: its count over the last hour and the sketch's error bound.</summary>
internal readonly record struct TopParty(string Key, long Count, long Error);
