package dev.flotilla.gateway.limit;

import dev.flotilla.gateway.auth.TenantInfo;

/**
 * This replica's part of every tenant's limits while {@code replicas} gateways serve and this one
 * is the {@code rank}th of them in pod-name order. Each limit is the tenant's, split so that the
 * replicas' parts add up to it:
 *
 * <ul>
 *   <li>requests per second and tokens per minute: {@code limit / replicas};
 *   <li>burst: {@code burst / replicas}, at least 1, so every replica can admit a request (a burst
 *       below the replica count lets the replicas together admit up to {@code replicas} at once);
 *   <li>requests in flight: {@code max / replicas}, the remainder one each to the lowest ranks, so
 *       the parts add up exactly; at least 1, so a tenant is never refused by a replica where it
 *       has nothing in flight (a {@code maxConcurrent} below the replica count lets the tenant have
 *       up to one request in flight per replica).
 * </ul>
 *
 * <p>The parts are only fair while the load balancer spreads each tenant's requests evenly over the
 * replicas: a tenant whose requests all reach one replica gets that replica's part.
 */
public record ReplicaShare(int replicas, int rank) {
  /** The whole of every limit: one replica, or a replica that does not know how many serve. */
  public static final ReplicaShare WHOLE = new ReplicaShare(1, 0);

  public ReplicaShare {
    if (replicas < 1 || rank < 0 || rank >= replicas) {
      throw new IllegalArgumentException(
          "rank " + rank + " of " + replicas + " replicas is not a replica");
    }
  }

  /** The limits this replica enforces for {@code tenant}. */
  public ReplicaLimits of(TenantInfo tenant) {
    Double rate = tenant.requestsPerSecond();
    Double burst = null;
    if (rate != null) {
      double tenantBurst = tenant.burst() != null ? tenant.burst() : Math.max(1, Math.ceil(rate));
      rate = rate / replicas;
      burst = Math.max(1, tenantBurst / replicas);
    }
    Double tokensPerMinute =
        tenant.tokensPerMinute() == null ? null : tenant.tokensPerMinute() / (double) replicas;
    Integer maxConcurrent =
        tenant.maxConcurrent() == null ? null : concurrency(tenant.maxConcurrent());
    return new ReplicaLimits(rate, burst, tokensPerMinute, maxConcurrent);
  }

  private int concurrency(int tenantMax) {
    if (tenantMax <= 0) {
      return tenantMax;
    }
    int part = tenantMax / replicas + (rank < tenantMax % replicas ? 1 : 0);
    return Math.max(1, part);
  }
}
