package dev.flotilla.api.crd;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.ValidationRule;

/** Knative-KPA-style autoscaling of a model's workers, down to zero. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(
    value =
        "!has(self.minReplicas) || !has(self.maxReplicas) || self.minReplicas <= self.maxReplicas",
    message = "minReplicas must not be greater than maxReplicas")
public class Scaling {
  @Min(0)
  @Default("0")
  @JsonPropertyDescription("Fewest replicas; 0 lets the model scale to zero when idle.")
  private Integer minReplicas;

  @Min(0)
  @Default("1")
  @JsonPropertyDescription("Most replicas.")
  private Integer maxReplicas;

  @Min(1)
  @Max(100000)
  @Default("8")
  @JsonPropertyDescription("In-flight plus queued requests one replica should carry.")
  private Integer targetConcurrency;

  @Pattern(FlotillaResources.DURATION_PATTERN)
  @Default("5m")
  @JsonPropertyDescription("Idle time without demand before scaling to zero.")
  private String scaleToZeroAfter;

  @Pattern(FlotillaResources.DURATION_PATTERN)
  @Default("2m")
  @JsonPropertyDescription("How long a request may be held while the model scales up from zero.")
  private String coldStartTimeout;

  @Pattern(FlotillaResources.DURATION_PATTERN)
  @Default("60s")
  @JsonPropertyDescription("Window over which demand is averaged for normal scaling.")
  private String stableWindow;

  @Pattern(FlotillaResources.DURATION_PATTERN)
  @Default("6s")
  @JsonPropertyDescription("Short window that triggers panic mode on bursts.")
  private String panicWindow;

  @Min(1)
  @Max(100)
  @Default("2.0")
  @JsonPropertyDescription("Panic when the panic-window demand exceeds this multiple of capacity.")
  private Double panicThreshold;

  public Integer getMinReplicas() {
    return minReplicas;
  }

  public void setMinReplicas(Integer minReplicas) {
    this.minReplicas = minReplicas;
  }

  public Integer getMaxReplicas() {
    return maxReplicas;
  }

  public void setMaxReplicas(Integer maxReplicas) {
    this.maxReplicas = maxReplicas;
  }

  public Integer getTargetConcurrency() {
    return targetConcurrency;
  }

  public void setTargetConcurrency(Integer targetConcurrency) {
    this.targetConcurrency = targetConcurrency;
  }

  public String getScaleToZeroAfter() {
    return scaleToZeroAfter;
  }

  public void setScaleToZeroAfter(String scaleToZeroAfter) {
    this.scaleToZeroAfter = scaleToZeroAfter;
  }

  public String getColdStartTimeout() {
    return coldStartTimeout;
  }

  public void setColdStartTimeout(String coldStartTimeout) {
    this.coldStartTimeout = coldStartTimeout;
  }

  public String getStableWindow() {
    return stableWindow;
  }

  public void setStableWindow(String stableWindow) {
    this.stableWindow = stableWindow;
  }

  public String getPanicWindow() {
    return panicWindow;
  }

  public void setPanicWindow(String panicWindow) {
    this.panicWindow = panicWindow;
  }

  public Double getPanicThreshold() {
    return panicThreshold;
  }

  public void setPanicThreshold(Double panicThreshold) {
    this.panicThreshold = panicThreshold;
  }
}
