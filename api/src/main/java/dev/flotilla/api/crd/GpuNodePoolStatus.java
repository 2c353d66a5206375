package dev.flotilla.api.crd;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.kubernetes.api.model.Condition;
import java.util.ArrayList;
import java.util.List;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class GpuNodePoolStatus {
  private Long observedGeneration;

  @JsonPropertyDescription("GPUs the pool can offer: maxNodes x gpu.perNode.")
  private Integer capacityGpus;

  @JsonPropertyDescription("GPUs promised to placed ModelDeployments at their maximum replicas.")
  private Integer allocatedGpus;

  private List<PoolPlacement> placements = new ArrayList<>();

  private List<Condition> conditions = new ArrayList<>();

  public Long getObservedGeneration() {
    return observedGeneration;
  }

  public void setObservedGeneration(Long observedGeneration) {
    this.observedGeneration = observedGeneration;
  }

  public Integer getCapacityGpus() {
    return capacityGpus;
  }

  public void setCapacityGpus(Integer capacityGpus) {
    this.capacityGpus = capacityGpus;
  }

  public Integer getAllocatedGpus() {
    return allocatedGpus;
  }

  public void setAllocatedGpus(Integer allocatedGpus) {
    this.allocatedGpus = allocatedGpus;
  }

  public List<PoolPlacement> getPlacements() {
    return placements;
  }

  public void setPlacements(List<PoolPlacement> placements) {
    this.placements = placements;
  }

  public List<Condition> getConditions() {
    return conditions;
  }

  public void setConditions(List<Condition> conditions) {
    this.conditions = conditions;
  }
}
