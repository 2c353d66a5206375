package dev.flotilla.api.crd;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.kubernetes.api.model.Toleration;
import java.util.List;
import java.util.Map;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class GpuNodePoolSpec {
  @Required
  @Size(min = 1)
  @JsonPropertyDescription("Labels that select the pool's nodes; copied into worker pods.")
  private Map<String, String> nodeSelector;

  @JsonPropertyDescription("Tolerations worker pods need to run on the pool's nodes.")
  private List<Toleration> tolerations;

  @Required private GpuSpec gpu;

  @Required
  @Min(0)
  @JsonPropertyDescription("Most nodes the pool can grow to.")
  private Integer maxNodes;

  @Min(0)
  @Default("0")
  @JsonPropertyDescription("Price of one GPU-hour; placement prefers cheaper pools.")
  private Double costPerGpuHour;

  public Map<String, String> getNodeSelector() {
    return nodeSelector;
  }

  public void setNodeSelector(Map<String, String> nodeSelector) {
    this.nodeSelector = nodeSelector;
  }

  public List<Toleration> getTolerations() {
    return tolerations;
  }

  public void setTolerations(List<Toleration> tolerations) {
    this.tolerations = tolerations;
  }

  public GpuSpec getGpu() {
    return gpu;
  }

  public void setGpu(GpuSpec gpu) {
    this.gpu = gpu;
  }

  public Integer getMaxNodes() {
    return maxNodes;
  }

  public void setMaxNodes(Integer maxNodes) {
    this.maxNodes = maxNodes;
  }

  public Double getCostPerGpuHour() {
    return costPerGpuHour;
  }

  public void setCostPerGpuHour(Double costPerGpuHour) {
    this.costPerGpuHour = costPerGpuHour;
  }
}
