package dev.flotilla.gateway.auth;

import dev.flotilla.api.crd.Priority;
import dev.flotilla.api.crd.Tenant;
import dev.flotilla.api.crd.TenantLimits;
import dev.flotilla.api.crd.TenantSpec;
import java.util.List;

/**
 * What the gateway needs of a Tenant, read once from its custom resource.
 *
 * @param allowedModels {@code namespace/name}, {@code name} or {@code *}; empty allows nothing
 * @param requestsPerSecond sustained rate; null when unlimited
 * @param burst bucket size above the sustained rate; null picks the rate (at least 1)
 * @param tokensPerMinute prompt + completion tokens per minute; null when unlimited
 * @param maxConcurrent requests in flight at once; null when unlimited
 * @param weight share of contended capacity, at least 1
 */
public record TenantInfo(
    String name,
    List<String> allowedModels,
    Double requestsPerSecond,
    Integer burst,
    Long tokensPerMinute,
    Integer maxConcurrent,
    int weight,
    Priority priority) {

  public static TenantInfo from(Tenant tenant) {
    TenantSpec spec = tenant.getSpec();
    TenantLimits limits = spec.getLimits() == null ? new TenantLimits() : spec.getLimits();
    return new TenantInfo(
        tenant.getMetadata().getName(),
        spec.getAllowedModels() == null ? List.of() : List.copyOf(spec.getAllowedModels()),
        limits.getRequestsPerSecond(),
        limits.getBurst(),
        limits.getTokensPerMinute(),
        limits.getMaxConcurrent(),
        spec.getWeight() == null ? 1 : Math.max(1, spec.getWeight()),
        spec.getPriority() == null ? Priority.Normal : spec.getPriority());
  }
}
