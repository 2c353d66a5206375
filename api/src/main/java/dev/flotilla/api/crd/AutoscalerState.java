package dev.flotilla.api.crd;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;

/**
 * What the autoscaler must remember across operator restarts, kept in the ModelDeployment's status
 * so that a new leader neither resets the idle clock nor forgets a scale-up.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class AutoscalerState {
  @JsonPropertyDescription(
      "RFC 3339 time demand was last seen; the scale-to-zero clock starts here.")
  private String lastDemandTime;

  @JsonPropertyDescription("RFC 3339 time of the last change of desired replicas.")
  private String lastScaleTime;

  @JsonPropertyDescription("RFC 3339 time panic mode began; unset when not panicking.")
  private String panicSince;

  @JsonPropertyDescription("Why desired replicas has its value, for people.")
  private String reason;

  public String getLastDemandTime() {
    return lastDemandTime;
  }

  public void setLastDemandTime(String lastDemandTime) {
    this.lastDemandTime = lastDemandTime;
  }

  public String getLastScaleTime() {
    return lastScaleTime;
  }

  public void setLastScaleTime(String lastScaleTime) {
    this.lastScaleTime = lastScaleTime;
  }

  public String getPanicSince() {
    return panicSince;
  }

  public void setPanicSince(String panicSince) {
    this.panicSince = panicSince;
  }

  public String getReason() {
    return reason;
  }

  public void setReason(String reason) {
    this.reason = reason;
  }
}
