using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace EmailGuard.AspNetCore;

/// <summary>
/// The request feature while a request is below the EmailGuard middleware: it delegates every member to the feature it
/// stands in for, and refuses a path or method that a middleware after the guard sets onto a path rule the guard did
/// not count. <c>UseRewriter()</c>, <c>UsePathBase()</c> or <c>UseHttpMethodOverride()</c> placed after
/// <c>UseEmailGuard()</c> change the request after the rules were matched; an endpoint that routing chooses again is
/// checked where it runs (<see cref="ReroutedEndpointMatcherPolicy"/>), but a handler outside routing (an <c>app.Map</c>
/// or <c>MapWhen</c> branch, an <c>app.Run</c>, a proxy middleware) has no such check: under a
/// <c>POST:/api/webhook/incoming</c> rule with a limit of 1 an hour, 4 of 4 requests to a <c>^legacy/incoming$</c> alias
/// ran the <c>app.Map</c> branch that serves the rule's path.
/// </summary>
/// <remarks>
/// The setter writes through, then matches the new method and path as the middleware matches a request that reached no
/// endpoint (<see cref="PathRuleSet.MatchOutsideRouting"/>): whatever serves the new path next is not known yet, since a
/// branch outside routing runs ahead of the endpoint routing picks, so the check fails closed and throws
/// <see cref="UncountedRewriteException"/>, which unwinds the middleware that set it before anything serves the request.
/// The fallback rule (<c>*</c>), and a rule whose path is wildcards only (<c>GET:/*</c>), are left out: they cover
/// every path an app sets itself. The new method or path is checked before it is written, so a middleware that catches
/// the refusal and goes on serves the path the guard decided. A <c>PathBase</c> change alone
/// changes no rule: rules match the path below the base, which is <c>Path</c>. Setting the method and path back to
/// those the guard decided by (a <c>finally</c> that restores them) is never refused, nor is a path that only moves
/// into the base, the base and path together unchanged (an <c>app.Map</c> branch). The
/// guard removes the feature when its next middleware returns, so a re-executing middleware placed before it
/// (<c>UseExceptionHandler</c>, <c>UseStatusCodePagesWithReExecute</c>) sets its page's path on the original feature and
/// is decided by the guard's second pass, as without this feature.
/// </remarks>
internal sealed class RewriteCheckedRequestFeature : IHttpRequestFeature
{
    private readonly IHttpRequestFeature _inner;
    private readonly HttpContext _context;
    private readonly PathRuleSet _rules;
    private readonly RewriteRefusals _refusals;

    /// <summary>The method, base and path the guard decided the request by.</summary>
    private readonly string _decidedMethod;
    private readonly string _decidedPathBase;
    private readonly string _decidedPath;

    private bool _active = true;

    private RewriteCheckedRequestFeature(IHttpRequestFeature inner, HttpContext context, PathRuleSet rules, RewriteRefusals refusals)
    {
        _inner = inner;
        _context = context;
        _rules = rules;
        _refusals = refusals;
        _decidedMethod = inner.Method;
        _decidedPathBase = inner.PathBase;
        _decidedPath = inner.Path;
    }

    /// <summary>
    /// Stands in for the request feature of <paramref name="context"/> until <see cref="Remove"/>; none when the request
    /// has no request feature, or when a pass of the middleware further out already installed one, which still checks.
    /// </summary>
    public static RewriteCheckedRequestFeature? Install(HttpContext context, PathRuleSet rules, RewriteRefusals refusals)
    {
        IHttpRequestFeature? inner = context.Features.Get<IHttpRequestFeature>();
        if (inner is null or RewriteCheckedRequestFeature { _active: true })
        {
            return null;
        }

        var feature = new RewriteCheckedRequestFeature(inner, context, rules, refusals);

        // Set bumps the collection's revision, so HttpRequest, which caches its feature, reads this one from now on.
        context.Features.Set<IHttpRequestFeature>(feature);
        return feature;
    }

    /// <summary>
    /// Stops checking, and puts the original feature back unless a middleware below replaced this one and left its own
    /// in place: it still delegates here, and from here on straight through.
    /// </summary>
    public void Remove()
    {
        _active = false;
        if (ReferenceEquals(_context.Features.Get<IHttpRequestFeature>(), this))
        {
            _context.Features.Set(_inner);
        }
    }

    public string Protocol
    {
        get => _inner.Protocol;
        set => _inner.Protocol = value;
    }

    public string Scheme
    {
        get => _inner.Scheme;
        set => _inner.Scheme = value;
    }

    public string Method
    {
        get => _inner.Method;
        set
        {
            // Checked before it is written: a refused method or path never reaches the request, so a middleware that
            // catches the refusal and goes on (a retry, a try/catch around the rewrite) serves what the guard decided.
            Check(value, _inner.Path);
            _inner.Method = value;
        }
    }

    public string PathBase
    {
        get => _inner.PathBase;
        set => _inner.PathBase = value;
    }

    public string Path
    {
        get => _inner.Path;
        set
        {
            if (!IsDefaultDocument(_inner.Method, _inner.Path, value))
            {
                Check(_inner.Method, value);
            }

            _inner.Path = value;
        }
    }

    public string QueryString
    {
        get => _inner.QueryString;
        set => _inner.QueryString = value;
    }

    public string RawTarget
    {
        get => _inner.RawTarget;
        set => _inner.RawTarget = value;
    }

    public IHeaderDictionary Headers
    {
        get => _inner.Headers;
        set => _inner.Headers = value;
    }

    public Stream Body
    {
        get => _inner.Body;
        set => _inner.Body = value;
    }

    /// <summary>Throws when <paramref name="method"/> and <paramref name="path"/>, about to be set, fall under a path rule the request was not counted by.</summary>
    private void Check(string method, string path)
    {
        if (!_active)
        {
            return;
        }

        if (string.Equals(method, _decidedMethod, StringComparison.Ordinal)
            && (string.Equals(path, _decidedPath, StringComparison.Ordinal) || SameWholePath(_inner.PathBase, path)))
        {
            return;
        }

        // A fallback rule (or GET:/*) covers every path, so every path an app sets itself would fall under it: the file a
        // MapFallbackToFile endpoint serves (/index.html), a default document, a status page re-executed after the
        // guard. Under a more specific rule beside it, each such request was refused. A request reaching a handler
        // outside routing under the fallback alone is left as before this check; an endpoint routing chooses again is
        // still checked against it (ReroutedEndpointMatcherPolicy).
        if (_rules.MatchOutsideRouting(_context, method, path) is not { } rule || _rules.CoversEveryPath(rule)
            || GuardedRequest.Counted(_context, null, rule.Name))
        {
            return;
        }

        throw _refusals.Refuse(rule.Name, method, path);
    }

    /// <summary>
    /// Whether a GET or HEAD for a folder (<c>/invite/</c>) is set onto its default document (<c>/invite/index.html</c>),
    /// as <c>UseDefaultFiles()</c> after the guard does: under a <c>GET:/invite/*</c> rule the folder's request was
    /// counted by nothing, and its page was refused. Only the names <c>DefaultFilesOptions</c> lists by default, one
    /// segment after the folder's slash: a rewrite onto any other path is checked.
    /// </summary>
    private static bool IsDefaultDocument(string method, string current, string path)
        => (HttpMethods.IsGet(method) || HttpMethods.IsHead(method))
            && current.EndsWith('/')
            && path.Length > current.Length
            && path.StartsWith(current, StringComparison.Ordinal)
            && Array.Exists(s_defaultDocuments, name => path.AsSpan(current.Length).Equals(name, StringComparison.OrdinalIgnoreCase));

    private static readonly string[] s_defaultDocuments = ["default.htm", "default.html", "index.htm", "index.html"];

    /// <summary>
    /// Whether <paramref name="pathBase"/> and <paramref name="path"/> together are the path the guard decided: an
    /// <c>app.Map</c> branch moves its segments from the path into the base (the base first), and serves the path the
    /// guard counted; matched below the new base, its rest (<c>""</c>) would fall under the <c>*</c> fallback the
    /// request was not counted by, and every branch after the guard would be refused. <c>UsePathBase()</c> shortens
    /// the path first, which is checked: routes and branches after it serve the path below the new base.
    /// </summary>
    private bool SameWholePath(string pathBase, string path)
        => pathBase.Length + path.Length == _decidedPathBase.Length + _decidedPath.Length
            && pathBase.Length >= _decidedPathBase.Length
            && pathBase.AsSpan().StartsWith(_decidedPathBase, StringComparison.Ordinal)
            && pathBase.AsSpan(_decidedPathBase.Length).SequenceEqual(_decidedPath.AsSpan(0, pathBase.Length - _decidedPathBase.Length))
            && path.AsSpan().SequenceEqual(_decidedPath.AsSpan(pathBase.Length - _decidedPathBase.Length));
}
