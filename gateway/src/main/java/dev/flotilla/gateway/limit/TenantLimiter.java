package dev.flotilla.gateway.limit;

import dev.flotilla.gateway.auth.TenantInfo;
import dev.flotilla.gateway.status.GatewayStatus;
import dev.flotilla.gateway.time.Ticker;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

/**
 * Per-tenant limits, as one gateway replica enforces its share of them ({@link ReplicaShare}):
 * requests per second (token bucket of size {@code burst}), tokens per minute (bucket of size
 * {@code tokensPerMinute}, refilled continuously) and requests in flight.
 *
 * <p>The share is read on every request, so a change in the number of replicas applies to the next
 * request. A tenant's buckets are rebuilt when its limits or the share change, keeping their levels
 * (capped at the new sizes) and its requests in flight.
 *
 * <p>A request reserves its prompt tokens plus {@code max_tokens} up front; {@link Permit#settle}
 * charges what it actually used and refunds the difference. A reservation larger than the whole
 * per-minute budget is clamped to it, so such a request runs when the bucket is full instead of
 * never. All three limits are checked before any is charged, so a rejected request costs nothing.
 */
public final class TenantLimiter {
  /** Which limit refused a request; also the metrics label. */
  public enum Reason {
    REQUESTS_PER_SECOND("requests per second"),
    TOKENS_PER_MINUTE("tokens per minute"),
    MAX_CONCURRENT("concurrent requests");

    final String description;

    Reason(String description) {
      this.description = description;
    }
  }

  /** A refusal with the delay after which the same request would pass. */
  public record Rejection(String tenant, Reason reason, long retryAfterNanos) {
    public StatusRuntimeException toStatus() {
      return GatewayStatus.resourceExhausted(
          "tenant:" + tenant,
          "tenant " + tenant + " is over its limit of " + reason.description,
          retryAfterNanos);
    }
  }

  /** Either a permit or a rejection. */
  public record Admission(Permit permit, Rejection rejection) {
    public boolean admitted() {
      return permit != null;
    }
  }

  private static final class State {
    final ReplicaLimits limits;
    final TokenBucket requests;
    final TokenBucket tokens;
    int inFlight;

    /** Set, under this state's lock, once a newer state took over its counts. */
    boolean replaced;

    State(ReplicaLimits limits, TokenBucket requests, TokenBucket tokens) {
      this.limits = limits;
      this.requests = requests;
      this.tokens = tokens;
    }
  }

  private final Ticker ticker;
  private final long concurrencyRetryNanos;
  private final Supplier<ReplicaShare> share;
  private final Map<String, State> states = new ConcurrentHashMap<>();

  /** Enforces the whole of every limit, as the only replica. */
  public TenantLimiter(Ticker ticker, Duration concurrencyRetry) {
    this(ticker, concurrencyRetry, () -> ReplicaShare.WHOLE);
  }

  /**
   * @param concurrencyRetry the retry hint when only the in-flight limit refuses
   * @param share this replica's share of every tenant's limits now
   */
  public TenantLimiter(Ticker ticker, Duration concurrencyRetry, Supplier<ReplicaShare> share) {
    this.ticker = ticker;
    this.concurrencyRetryNanos = concurrencyRetry.toNanos();
    this.share = share;
  }

  public Admission tryAcquire(TenantInfo tenant, long reservedTokens) {
    long now = ticker.nanos();
    ReplicaLimits limits = share.get().of(tenant);
    while (true) {
      State s = state(tenant.name(), limits, now);
      synchronized (s) {
        if (!s.replaced) {
          return admit(tenant, s, reservedTokens, now);
        }
      }
    }
  }

  /** Checks every limit, then charges them all; under {@code s}'s lock. */
  private Admission admit(TenantInfo tenant, State s, long reservedTokens, long now) {
    if (s.limits.maxConcurrent() != null && s.inFlight >= s.limits.maxConcurrent()) {
      return reject(tenant, Reason.MAX_CONCURRENT, concurrencyRetryNanos);
    }
    if (s.requests != null) {
      long wait = s.requests.nanosUntil(1, now);
      if (wait > 0) {
        return reject(tenant, Reason.REQUESTS_PER_SECOND, wait);
      }
    }
    double reserve = reservedTokens;
    if (s.tokens != null) {
      reserve = Math.min(reservedTokens, s.tokens.capacity());
      long wait = s.tokens.nanosUntil(reserve, now);
      if (wait > 0) {
        return reject(tenant, Reason.TOKENS_PER_MINUTE, wait);
      }
      s.tokens.take(reserve, now);
    }
    if (s.requests != null) {
      s.requests.take(1, now);
    }
    s.inFlight++;
    return new Admission(new Permit(tenant.name(), s, reserve), null);
  }

  private static Admission reject(TenantInfo tenant, Reason reason, long wait) {
    return new Admission(null, new Rejection(tenant.name(), reason, wait));
  }

  /** Requests of this tenant in flight now. */
  public int inFlight(String tenant) {
    State s = states.get(tenant);
    if (s == null) {
      return 0;
    }
    synchronized (s) {
      return s.inFlight;
    }
  }

  private State state(String tenant, ReplicaLimits limits, long now) {
    State current = states.get(tenant);
    if (current != null && current.limits.equals(limits)) {
      return current;
    }
    return states.compute(
        tenant,
        (name, old) -> {
          if (old != null && old.limits.equals(limits)) {
            return old;
          }
          TokenBucket requests =
              limits.requestsPerSecond() == null
                  ? null
                  : new TokenBucket(limits.burst(), limits.requestsPerSecond(), now);
          TokenBucket tokens =
              limits.tokensPerMinute() == null
                  ? null
                  : new TokenBucket(limits.tokensPerMinute(), limits.tokensPerMinute() / 60.0, now);
          State fresh = new State(limits, requests, tokens);
          if (old != null) {
            synchronized (old) {
              old.replaced = true;
              fresh.inFlight = old.inFlight;
              if (requests != null && old.requests != null) {
                requests.inherit(old.requests, now);
              }
              if (tokens != null && old.tokens != null) {
                tokens.inherit(old.tokens, now);
              }
            }
          }
          return fresh;
        });
  }

  /** One admitted request's hold on its tenant's limits. */
  public final class Permit {
    private final String tenant;
    private final State state;
    private final double reserved;
    private final AtomicBoolean settled = new AtomicBoolean();

    private Permit(String tenant, State state, double reserved) {
      this.tenant = tenant;
      this.state = state;
      this.reserved = reserved;
    }

    public double reservedTokens() {
      return reserved;
    }

    /**
     * Ends the request: charges {@code usedTokens} against the reservation (refunding the rest) and
     * frees its in-flight slot. Only the first call counts.
     */
    public void settle(long usedTokens) {
      if (!settled.compareAndSet(false, true)) {
        return;
      }
      long now = ticker.nanos();
      // A change of limits or share replaced the state: settle against the current one.
      while (true) {
        State s = states.getOrDefault(tenant, state);
        synchronized (s) {
          if (!s.replaced) {
            release(s, usedTokens, now);
            return;
          }
        }
      }
    }

    private void release(State s, long usedTokens, long now) {
      s.inFlight = Math.max(0, s.inFlight - 1);
      if (s.tokens != null) {
        double diff = reserved - usedTokens;
        if (diff >= 0) {
          s.tokens.give(diff, now);
        } else {
          s.tokens.take(-diff, now);
        }
      }
    }
  }
}
