package dev.flotilla.gateway.schedule;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The bytes of requests each tenant has held while cold models scale up, across every model of the
 * gateway. A count cap alone lets one tenant hold its count of maximum-size requests on every cold
 * model; this bounds the memory a tenant can make the gateway keep for it.
 */
public final class HeldBytes {
  private final long maxPerTenant;
  private final Map<String, Long> byTenant = new ConcurrentHashMap<>();

  /**
   * @param maxPerTenant bytes one tenant may have held at once
   */
  public HeldBytes(long maxPerTenant) {
    if (maxPerTenant < 1) {
      throw new IllegalArgumentException("maxPerTenant must be >= 1, got " + maxPerTenant);
    }
    this.maxPerTenant = maxPerTenant;
  }

  public long maxPerTenant() {
    return maxPerTenant;
  }

  /** Counts {@code bytes} for the tenant; false (and nothing counted) when over its cap. */
  public boolean tryReserve(String tenant, long bytes) {
    boolean[] reserved = {false};
    byTenant.compute(
        tenant,
        (t, held) -> {
          long now = held == null ? 0 : held;
          if (now + bytes > maxPerTenant) {
            return held;
          }
          reserved[0] = true;
          return now + bytes;
        });
    return reserved[0];
  }

  /** Gives back what {@link #tryReserve} counted, once the hold ends. */
  public void release(String tenant, long bytes) {
    byTenant.computeIfPresent(tenant, (t, held) -> held - bytes <= 0 ? null : held - bytes);
  }

  /** Bytes the tenant has held now. */
  public long held(String tenant) {
    return byTenant.getOrDefault(tenant, 0L);
  }
}
