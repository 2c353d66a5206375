package dev.flotilla.api.crd;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Min;

/** Per-tenant limits enforced by every gateway; an unset limit is unlimited. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class TenantLimits {
  @Min(0.001)
  @JsonPropertyDescription("Sustained requests per second.")
  private Double requestsPerSecond;

  @Min(1)
  @JsonPropertyDescription("Requests allowed in a burst above the sustained rate.")
  private Integer burst;

  @Min(1)
  @JsonPropertyDescription("Prompt plus completion tokens per minute.")
  private Long tokensPerMinute;

  @Min(1)
  @JsonPropertyDescription("Requests in flight at once.")
  private Integer maxConcurrent;

  public Double getRequestsPerSecond() {
    return requestsPerSecond;
  }

  public void setRequestsPerSecond(Double requestsPerSecond) {
    this.requestsPerSecond = requestsPerSecond;
  }

  public Integer getBurst() {
    return burst;
  }

  public void setBurst(Integer burst) {
    this.burst = burst;
  }

  public Long getTokensPerMinute() {
    return tokensPerMinute;
  }

  public void setTokensPerMinute(Long tokensPerMinute) {
    this.tokensPerMinute = tokensPerMinute;
  }

  public Integer getMaxConcurrent() {
    return maxConcurrent;
  }

  public void setMaxConcurrent(Integer maxConcurrent) {
    this.maxConcurrent = maxConcurrent;
  }
}
