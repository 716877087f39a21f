namespace EmailGuard.Sample;

/// <summary>The sample's whole stylesheet, inlined into every page: no CDN, no network, nothing to fetch.</summary>
internal static class SampleStyles
{
    public const string Css = """
        :root { --fg: #1d2330; --muted: #5b6475; --line: #d9dee7; --accent: #2156d9; --bad: #b42318; --ok: #0f7b3e; --warn: #a15c00; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: #f6f7f9; }
        header { background: #10203f; color: #fff; padding: .75rem 1.5rem; display: flex; gap: 1.5rem; align-items: center; flex-wrap: wrap; }
        header a { color: #cfe0ff; text-decoration: none; }
        header a:hover, header a[aria-current] { color: #fff; text-decoration: underline; }
        header .brand { font-weight: 700; color: #fff; margin-right: 1rem; }
        main { max-width: 60rem; margin: 1.5rem auto; padding: 0 1.5rem; }
        h1 { font-size: 1.6rem; margin: .5rem 0 1rem; }
        h2 { font-size: 1.2rem; margin: 1.5rem 0 .5rem; }
        .card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 1rem 1.25rem; margin-bottom: 1rem; }
        label { display: block; font-weight: 600; margin: .5rem 0 .25rem; }
        input, select { font: inherit; padding: .4rem .6rem; border: 1px solid #b7bfcc; border-radius: 6px; min-width: 16rem; }
        input[type=number] { min-width: 6rem; width: 6rem; }
        button { font: inherit; padding: .4rem .9rem; border: 0; border-radius: 6px; background: var(--accent); color: #fff; cursor: pointer; margin-top: .5rem; }
        button.secondary { background: #e7ebf3; color: var(--fg); }
        button.danger { background: var(--bad); }
        form.inline { display: inline; }
        table { width: 100%; border-collapse: collapse; background: #fff; }
        th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
        th { font-size: .85rem; color: var(--muted); text-transform: uppercase; letter-spacing: .03em; }
        .status { display: inline-block; padding: 0 .5rem; border-radius: 999px; font-size: .85rem; font-weight: 600; }
        .status-Sent { background: #dcf5e6; color: var(--ok); }
        .status-Failed { background: #fde3e1; color: var(--bad); }
        .status-Queued { background: #fff1d6; color: var(--warn); }
        .status-Skipped { background: #eceff3; color: var(--muted); }
        .notice { border-left: 4px solid var(--accent); background: #eef3ff; padding: .75rem 1rem; border-radius: 4px; margin-bottom: 1rem; }
        .notice.bad { border-color: var(--bad); background: #fff1f0; }
        .notice.ok { border-color: var(--ok); background: #edfaf2; }
        .notice.warn { border-color: var(--warn); background: #fff8e8; }
        .muted { color: var(--muted); font-size: .9rem; }
        code { background: #eef0f4; padding: 0 .3rem; border-radius: 4px; }
        .big { font-size: 1.25rem; }
        """;
}
