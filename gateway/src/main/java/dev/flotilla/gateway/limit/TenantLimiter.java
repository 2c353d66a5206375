package dev.flotilla.gateway.limit;

import dev.flotilla.gateway.auth.TenantInfo;
import dev.flotilla.gateway.status.GatewayStatus;
import dev.flotilla.gateway.time.Ticker;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Per-tenant limits of one gateway replica: requests per second (token bucket of size {@code
 * burst}), tokens per minute (bucket of size {@code tokensPerMinute}, refilled continuously) and
 * requests in flight.
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
    final TenantInfo limits;
    final TokenBucket requests;
    final TokenBucket tokens;
    int inFlight;

    State(TenantInfo limits, TokenBucket requests, TokenBucket tokens) {
      this.limits = limits;
      this.requests = requests;
      this.tokens = tokens;
    }
  }

  private final Ticker ticker;
  private final long concurrencyRetryNanos;
  private final Map<String, State> states = new ConcurrentHashMap<>();

  /**
   * @param concurrencyRetry the retry hint when only the in-flight limit refuses
   */
  public TenantLimiter(Ticker ticker, Duration concurrencyRetry) {
    this.ticker = ticker;
    this.concurrencyRetryNanos = concurrencyRetry.toNanos();
  }

  public Admission tryAcquire(TenantInfo tenant, long reservedTokens) {
    long now = ticker.nanos();
    State s = state(tenant, now);
    synchronized (s) {
      if (tenant.maxConcurrent() != null && s.inFlight >= tenant.maxConcurrent()) {
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
      return new Admission(new Permit(s, reserve), null);
    }
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

  private State state(TenantInfo tenant, long now) {
    return states.compute(
        tenant.name(),
        (name, old) -> {
          if (old != null && sameLimits(old.limits, tenant)) {
            return old;
          }
          TokenBucket requests =
              tenant.requestsPerSecond() == null
                  ? null
                  : new TokenBucket(
                      tenant.burst() != null
                          ? tenant.burst()
                          : Math.max(1, Math.ceil(tenant.requestsPerSecond())),
                      tenant.requestsPerSecond(),
                      now);
          TokenBucket tokens =
              tenant.tokensPerMinute() == null
                  ? null
                  : new TokenBucket(tenant.tokensPerMinute(), tenant.tokensPerMinute() / 60.0, now);
          State fresh = new State(tenant, requests, tokens);
          if (old != null) {
            synchronized (old) {
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

  private static boolean sameLimits(TenantInfo a, TenantInfo b) {
    return Objects.equals(a.requestsPerSecond(), b.requestsPerSecond())
        && Objects.equals(a.burst(), b.burst())
        && Objects.equals(a.tokensPerMinute(), b.tokensPerMinute())
        && Objects.equals(a.maxConcurrent(), b.maxConcurrent());
  }

  /** One admitted request's hold on its tenant's limits. */
  public final class Permit {
    private final State state;
    private final double reserved;
    private final AtomicBoolean settled = new AtomicBoolean();

    private Permit(State state, double reserved) {
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
      // A limit change replaced the state: settle against the current one.
      State s = states.getOrDefault(state.limits.name(), state);
      synchronized (s) {
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
}
