using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Tessera.Server.Observability;

/// <summary>
/// The product's own metrics, on the meter <see cref="MeterName"/>. Each instrument is recorded where the thing it
/// counts happens; OpenTelemetry exports them when Tessera:Metrics:Enabled is set, and costs nothing otherwise.
/// Labels are small closed sets (an outcome, a method, a grant type): never a user name, id, client id or address,
/// so an operator's metrics store holds no personal data and its series stay few.
/// </summary>
public sealed class TesseraMetrics : IDisposable
{
    public const string MeterName = "Tessera";

    private readonly Meter _meter;

    public TesseraMetrics(IMeterFactory meters)
    {
        _meter = meters.Create(MeterName);
        SignIns = _meter.CreateCounter<long>("tessera.signins", "{sign-in}", "Sign-in attempts by outcome (success, failure, locked, pending_second_factor...) and method (password, google, entra, passkey).");
        Lockouts = _meter.CreateCounter<long>("tessera.lockouts", "{lockout}", "Accounts locked after too many failed attempts.");
        SecondFactors = _meter.CreateCounter<long>("tessera.second_factor", "{attempt}", "Second-factor checks by method (totp, recovery_code, passkey) and outcome (success, failure).");
        TokensIssued = _meter.CreateCounter<long>("tessera.tokens.issued", "{token}", "Access tokens issued, by grant type.");
        TokenFailures = _meter.CreateCounter<long>("tessera.tokens.failures", "{request}", "Token requests refused, by OAuth error code.");
        AuthorizeDecisions = _meter.CreateCounter<long>("tessera.authorize.decisions", "{decision}", "Authorization decisions by outcome (allow, deny).");
        AuthorizeDuration = _meter.CreateHistogram("tessera.authorize.duration", "s", "How long one authorization decision took, by outcome.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1] });
        AuthorizeBatchDuration = _meter.CreateHistogram("tessera.authorize.batch.duration", "s", "How long one POST /api/v1/authorize/batch took to decide all its checks.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1] });
        MailFailures = _meter.CreateCounter<long>("tessera.mail.failures", "{attempt}", "Mail delivery attempts that failed, by whether the message was given up (final) or will be retried.");
        CallerCacheHits = _meter.CreateCounter<long>("tessera.caller_cache.hits", "{lookup}", "Caller standings answered from this instance's memory.");
        CallerCacheMisses = _meter.CreateCounter<long>("tessera.caller_cache.misses", "{lookup}", "Caller standings read from the database.");
        InvalidationLag = _meter.CreateHistogram("tessera.invalidation.lag", "s", "From a change committed on another instance to this instance's caches being cleared, by kind.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] });
        InvalidationLost = _meter.CreateCounter<long>("tessera.invalidation.lost", "{event}", "Times the change notifications from other instances were lost; caches then fall back to their time bound.");
        WebhookDeliveries = _meter.CreateCounter<long>("tessera.webhooks.deliveries", "{attempt}", "Webhook delivery attempts, by outcome (delivered, failed).");
    }

    public Counter<long> SignIns { get; }
    public Counter<long> Lockouts { get; }
    public Counter<long> SecondFactors { get; }
    public Counter<long> TokensIssued { get; }
    public Counter<long> TokenFailures { get; }
    public Counter<long> AuthorizeDecisions { get; }
    public Histogram<double> AuthorizeDuration { get; }
    public Histogram<double> AuthorizeBatchDuration { get; }
    public Counter<long> MailFailures { get; }
    public Counter<long> CallerCacheHits { get; }
    public Counter<long> CallerCacheMisses { get; }
    public Histogram<double> InvalidationLag { get; }
    public Counter<long> InvalidationLost { get; }
    public Counter<long> WebhookDeliveries { get; }

    /// <summary>For observable instruments (gauges read when scraped), created by the feature that can read them.</summary>
    public Meter Meter => _meter;

    public void SignIn(string outcome, string method) => SignIns.Add(1, new TagList { { "outcome", outcome }, { "method", method } });

    public void SecondFactor(string method, string outcome) => SecondFactors.Add(1, new TagList { { "method", method }, { "outcome", outcome } });

    public void TokenIssued(string grant) => TokensIssued.Add(1, new KeyValuePair<string, object?>("grant_type", grant));

    public void TokenFailed(string error) => TokenFailures.Add(1, new KeyValuePair<string, object?>("error", error));

    public void Decision(bool allowed, TimeSpan took)
    {
        var outcome = new KeyValuePair<string, object?>("outcome", allowed ? "allow" : "deny");
        AuthorizeDecisions.Add(1, outcome);
        AuthorizeDuration.Record(took.TotalSeconds, outcome);
    }

    /// <summary>A batch of decisions: each counts as a decision; the batch's time is recorded once, in its own histogram.</summary>
    public void Decisions(int allowed, int total, TimeSpan took)
    {
        AuthorizeDecisions.Add(allowed, new KeyValuePair<string, object?>("outcome", "allow"));
        AuthorizeDecisions.Add(total - allowed, new KeyValuePair<string, object?>("outcome", "deny"));
        AuthorizeBatchDuration.Record(took.TotalSeconds);
    }

    public void Invalidated(string kind, TimeSpan lag) => InvalidationLag.Record(Math.Max(0, lag.TotalSeconds), new KeyValuePair<string, object?>("kind", kind));

    public void Dispose() => _meter.Dispose();
}

/// <summary>The values of the `outcome` label of tessera.signins: a closed set, whatever the audit log's reason was.</summary>
public static class SignInOutcomes
{
    /// <summary>The first factor was right and the session began.</summary>
    public const string Success = "success";

    /// <summary>The first factor was right; the user owes a second factor (tessera.second_factor counts it).</summary>
    public const string SecondFactorRequired = "second_factor_required";

    /// <summary>The first factor was right; the policy requires a second factor the user must enrol first.</summary>
    public const string EnrolmentRequired = "enrolment_required";

    public const string Failure = "failure";

    /// <summary>Refused because the account is locked after too many failures.</summary>
    public const string Locked = "locked";

    public const string Disabled = "disabled";

    /// <summary>The label for the audit log's reason of a refused sign-in.</summary>
    public static string OfReason(string reason) => reason switch
    {
        "locked" => Locked,
        "disabled" => Disabled,
        _ => Failure,
    };
}

/// <summary>The values of the `method` label of tessera.signins (SSO sign-ins carry their provider's kind: google, entra, oidc).</summary>
public static class SignInMethods
{
    public const string Password = "password";
    public const string Passkey = "passkey";
}
